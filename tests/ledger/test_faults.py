"""A gateway killed at each step boundary, restarted: the next ``schedule`` makes budgets and states exact."""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import uuid

import pytest

from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.errors import LedgerError
from gateway.ledger import open_store
from gateway.ledger.base import full_view
from gateway.service import CHECKPOINTS, utc_now
from tests.ledger.conftest import BUCKET
from tests.ledger.support import FileRunLauncher, check_books, crashing_worker, gateway_for, setup_ledger, spec

pytestmark = pytest.mark.slow


@pytest.fixture(params=["file", "s3", "dynamodb"])
def ledger_url(request, tmp_path):
    if request.param == "file":
        return str(tmp_path / "ledger")
    request.getfixturevalue("server_env")
    name = f"faults-{uuid.uuid4().hex[:8]}"
    return f"s3://{BUCKET}/{name}" if request.param == "s3" else f"dynamodb://{name}"


@pytest.mark.parametrize("stop_at", CHECKPOINTS)
def test_restart_after_a_kill_reconciles_exactly(ledger_url, stop_at, tmp_path):
    runs = str(tmp_path / "runs")
    setup_ledger(open_store(ledger_url))
    child = multiprocessing.get_context("spawn").Process(target=crashing_worker, args=(ledger_url, runs, stop_at))
    child.start()
    child.join(120)
    assert child.exitcode == 17, f"the gateway was meant to die at {stop_at}"

    launcher = FileRunLauncher(runs)
    later = lambda: utc_now() + dt.timedelta(hours=1)  # noqa: E731 - past the launch lease
    restarted = gateway_for(open_store(ledger_url), launcher, clock=later)
    restarted.schedule()  # reconcile: recover or release interrupted launches, launch what was admitted
    launcher.finish_all()
    restarted.schedule()
    state = full_view(open_store(ledger_url))
    events = open_store(ledger_url).audit()
    check_books(state, events)

    by_state = {c.spec.client_id: c.state for c in state.claims.values()}
    if stop_at == "submitted":  # died before its first admission pass: the restart admits and runs it
        assert by_state == {"first": ClaimState.SUCCEEDED}
    elif stop_at == "launching":  # died before calling the launcher: never started, budget released
        assert by_state == {"first": ClaimState.RELEASED}
        assert launcher.runs() == []
    else:
        assert set(by_state.values()) == {ClaimState.SUCCEEDED}
    succeeded = [c for c in state.claims.values() if c.state is ClaimState.SUCCEEDED]
    assert launcher.runs() == sorted(c.id for c in succeeded)  # each job started once, none lost
    for block in state.blocks.values():
        assert block.allocated == Budget()
        assert block.consumed == sum((c.demand for c in succeeded), Budget())
        assert block.unlocked == block.capacity - block.consumed


# --- faults inside one step: a commit cut short, a launcher that breaks, a recovery error, a race -------


def commit_killer(url: str, runs: str) -> None:
    """A gateway killed inside a file-store commit: the new snapshot is written to its temp file, not renamed."""
    import os

    from gateway.ledger import local

    gw = gateway_for(open_store(url), FileRunLauncher(runs))

    def killed(src, dst):
        os._exit(17)

    local.os.replace = killed  # type: ignore[attr-defined] - this child process only
    gw.submit(spec("0.5", "first"))
    os._exit(0)


def test_a_gateway_killed_between_the_temp_file_and_the_rename_changes_nothing(tmp_path):
    url, runs = str(tmp_path / "ledger"), str(tmp_path / "runs")
    setup_ledger(open_store(url))
    before = full_view(open_store(url))
    child = multiprocessing.get_context("spawn").Process(target=commit_killer, args=(url, runs))
    child.start()
    child.join(120)
    assert child.exitcode == 17
    assert list((tmp_path / "ledger").glob(".ledger-*.tmp")), "the kill was meant to leave its temp file"
    assert full_view(open_store(url)) == before  # the snapshot never moved; its audit line is ignored
    check_books(full_view(open_store(url)), open_store(url).audit())

    launcher = FileRunLauncher(runs)
    gw = gateway_for(open_store(url), launcher)
    claim = gw.submit(spec("0.5", "first"))  # the same commit again, now whole
    assert claim.state is ClaimState.RUNNING
    assert not list((tmp_path / "ledger").glob(".ledger-*.tmp"))  # the next commit removed the stale one
    launcher.finish_all()
    gw.schedule()
    state, events = full_view(open_store(url)), open_store(url).audit()
    check_books(state, events)
    assert [e.kind for e in events].count("submitted") == 1
    assert state.blocks["events/2026-10-02"].consumed == Budget.demand("0.5")


def test_a_write_that_fails_before_the_rename_leaves_no_temp_file(tmp_path, monkeypatch):
    from gateway.ledger import local

    url = str(tmp_path / "ledger")
    setup_ledger(open_store(url))
    before = full_view(open_store(url))

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(local.os, "replace", disk_full)
    gw = gateway_for(open_store(url), FileRunLauncher(tmp_path / "runs"))
    with pytest.raises(LedgerError, match="No space left"):
        gw.submit(spec("0.5", "first"))
    monkeypatch.undo()
    assert not list((tmp_path / "ledger").glob(".ledger-*.tmp"))
    assert full_view(open_store(url)) == before
    check_books(full_view(open_store(url)), open_store(url).audit())


class BreaksMidLaunch(FileRunLauncher):
    """Raises an unexpected error from ``launch``: before starting the run, or after it started."""

    def __init__(self, root, when: str) -> None:
        super().__init__(root)
        self.when = when

    def launch(self, request, start_by=math.inf):
        if self.when == "before":
            raise RuntimeError("launcher bug before the start")
        run_id = super().launch(request, start_by)
        raise ConnectionResetError(f"connection lost after starting {run_id}")


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_launcher_breaking_mid_launch_is_confined_and_reconciled_exactly(ledger_url, when, tmp_path):
    runs = tmp_path / "runs"
    setup_ledger(open_store(ledger_url))
    broken = gateway_for(open_store(ledger_url), BreaksMidLaunch(runs, when))
    with pytest.raises((RuntimeError, ConnectionResetError)):
        broken.submit(spec("0.5", "first"))
    (claim,) = full_view(open_store(ledger_url)).claims.values()
    assert claim.state is ClaimState.LAUNCHING  # it may have started: reserved, not released
    check_books(full_view(open_store(ledger_url)), open_store(ledger_url).audit())

    launcher = FileRunLauncher(runs)
    now = gateway_for(open_store(ledger_url), launcher)
    assert now.submit(spec("0.3", "second")).state is ClaimState.RUNNING  # the scheduler is not wedged
    later = gateway_for(open_store(ledger_url), launcher, clock=lambda: utc_now() + dt.timedelta(hours=1))
    report = later.schedule()
    expected = ClaimState.RELEASED if when == "before" else ClaimState.RUNNING
    assert full_view(open_store(ledger_url)).claim(claim.id).state is expected
    assert report.errors == []
    launcher.finish_all()
    later.schedule()
    state, events = full_view(open_store(ledger_url)), open_store(ledger_url).audit()
    check_books(state, events)
    spent = Budget.demand("0.3") + (Budget.demand("0.5") if when == "after" else Budget())
    assert state.blocks["events/2026-10-02"].consumed == spent
    assert all(b.allocated == Budget() for b in state.blocks.values())


class FindRunFails(FileRunLauncher):
    def __init__(self, root, broken: set[str]) -> None:
        super().__init__(root)
        self.broken = broken

    def find_run(self, submission_id):
        if submission_id in self.broken:
            raise TimeoutError("the run list did not answer")
        return super().find_run(submission_id)


def test_a_recovery_error_on_one_claim_leaves_the_others_scheduled(ledger_url, tmp_path):
    runs = tmp_path / "runs"
    setup_ledger(open_store(ledger_url), capacity="3")
    stuck = gateway_for(open_store(ledger_url), BreaksMidLaunch(runs, "after"))
    with pytest.raises(ConnectionResetError):
        stuck.submit(spec("0.5", "stuck"))
    (bad,) = full_view(open_store(ledger_url)).claims.values()
    launcher = FindRunFails(runs, {bad.id})
    gw = gateway_for(open_store(ledger_url), launcher)
    claims = [gw.submit(spec(eps, f"ok-{i}")) for i, eps in enumerate(["0.2", "0.3", "0.4"])]
    assert [c.state for c in claims] == [ClaimState.RUNNING] * 3
    launcher.finish_all()
    report = gw.schedule()
    assert sorted(report.finished) == sorted(c.id for c in claims)
    assert report.errors == [f"{bad.id}: TimeoutError: the run list did not answer"]
    check_books(full_view(open_store(ledger_url)), open_store(ledger_url).audit())
    launcher.broken.clear()
    gw.schedule()  # the run list answers again: the stuck launch is found, recorded and finished
    gw.schedule()
    state, events = full_view(open_store(ledger_url)), open_store(ledger_url).audit()
    check_books(state, events)
    assert {c.state for c in state.claims.values()} == {ClaimState.SUCCEEDED}
    assert state.blocks["events/2026-10-02"].consumed == Budget.demand("1.4")


class RacedByRecovery(FileRunLauncher):
    """While the live gateway launches, another gateway's pass finds the run, records it and may finish it."""

    def __init__(self, root, url: str, finish: bool) -> None:
        super().__init__(root)
        self.url = url
        self.finish = finish

    def launch(self, request, start_by=math.inf):
        run_id = super().launch(request, start_by)
        other = gateway_for(open_store(self.url), FileRunLauncher(self.root))
        assert other.schedule().recovered == [request.submission_id]
        if self.finish:
            self.finish_all()
            assert other.schedule().finished == [request.submission_id]
        return run_id


@pytest.mark.parametrize("finish", [False, True])
def test_a_live_gateway_raced_by_a_recovering_one_reports_no_false_alarm(ledger_url, finish, tmp_path):
    setup_ledger(open_store(ledger_url))
    launcher = RacedByRecovery(tmp_path / "runs", ledger_url, finish)
    claim = gateway_for(open_store(ledger_url), launcher).submit(spec("0.5", "raced"))  # no GatewayInternalError
    assert claim.state is (ClaimState.SUCCEEDED if finish else ClaimState.RUNNING)
    assert claim.run_id == f"run-{claim.id}" and launcher.runs() == [claim.id]
    state, events = full_view(open_store(ledger_url)), open_store(ledger_url).audit()
    check_books(state, events)
    assert [e.kind for e in events].count("launched") == 1
