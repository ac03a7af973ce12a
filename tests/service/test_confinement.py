"""One claim's failure stays with that claim: the pass goes on, the next pass works, the books stay exact.

A failure before the launcher is called (no such launcher, a setting missing to build the request)
provably started nothing and is released; an unexpected error from the launcher may have come after a
start, so that claim stays reserved until recovery finds the run or the launch lease runs out.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest

from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.scheduling import PolicySettings
from gateway.errors import GatewayInternalError, GatewayValidationError, LaunchOutcomeUnknownError
from gateway.ledger import InMemoryLedgerStore
from gateway.ledger.base import full_view
from gateway.service import Gateway
from tests.ledger.support import DATASET, FIRST, LAST, FileRunLauncher, check_books, gateway_for, spec


class Flaky(FileRunLauncher):
    """A file launcher that can fail on chosen submissions: before writing its run, after it, or in find_run/poll."""

    def __init__(self, root) -> None:
        super().__init__(root)
        self.fail_before: set[str] = set()  # analysts whose launch raises before any start
        self.fail_after: set[str] = set()  # ... raises after the run was started
        self.find_fails: set[str] = set()  # submission ids whose find_run raises
        self.poll_fails: set[str] = set()
        self.no_output = False

    def output_for(self, submission_id):
        if self.no_output:
            raise GatewayValidationError("no S3 bucket configured for the AWS launchers: set DPGW_AWS_BUCKET")
        return super().output_for(submission_id)

    def launch(self, request, start_by=math.inf):
        if request.spec.analyst in self.fail_before:
            raise RuntimeError("launcher bug before the start")
        run_id = super().launch(request, start_by)
        if request.spec.analyst in self.fail_after:
            raise LaunchOutcomeUnknownError("the start's answer was lost")
        return run_id

    def find_run(self, submission_id):
        if submission_id in self.find_fails:
            raise OSError("the run list is unreachable")
        return super().find_run(submission_id)

    def poll(self, run_id, submission_id):
        if submission_id in self.poll_fails:
            raise TimeoutError("status service timed out")
        return super().poll(run_id, submission_id)


@pytest.fixture
def env(tmp_path):
    from gateway.core import ledger as core

    store = InMemoryLedgerStore()
    store.create(PolicySettings(policy="fcfs"))
    launcher = Flaky(tmp_path / "runs")
    gw = gateway_for(store, launcher)
    gw._mutate(lambda s, now: core.add_dataset(s, DATASET, now))
    gw.add_blocks("events", FIRST, LAST, Budget.capacity(1))
    return gw, launcher


def books(gw: Gateway) -> None:
    check_books(full_view(gw.store), gw.store.audit())


def by_analyst(gw: Gateway) -> dict[str, ClaimState]:
    return {c.analyst: c.state for c in full_view(gw.store).claims.values()}


def later(gw: Gateway) -> None:
    gw.clock = lambda: dt.datetime.now(dt.UTC) + gw.launch_lease


def test_an_unexpected_launcher_error_keeps_the_claim_reserved_and_the_pass_going(env):
    gw, launcher = env
    launcher.fail_before.add("bob")
    with pytest.raises(RuntimeError, match="launcher bug"):  # the submitter hears what befell its claim
        gw.submit(spec("0.2", analyst="bob"))
    ann = gw.submit(spec("0.3", analyst="ann"))  # the next submission is not held up by bob's claim
    assert ann.state is ClaimState.RUNNING
    assert by_analyst(gw) == {"bob": ClaimState.LAUNCHING, "ann": ClaimState.RUNNING}
    books(gw)
    report = gw.schedule()  # inside the lease: bob's launch may still be under way, left alone
    assert report.errors == [] and by_analyst(gw)["bob"] is ClaimState.LAUNCHING
    later(gw)
    report = gw.schedule()  # no run found after the lease: provably never started
    assert len(report.released) == 1 and by_analyst(gw)["bob"] is ClaimState.RELEASED
    books(gw)
    assert full_view(gw.store).blocks["events/2026-10-02"].allocated == Budget.demand("0.3")


def test_an_error_after_the_start_is_recorded_by_recovery_not_released(env):
    gw, launcher = env
    launcher.fail_after.add("bob")
    with pytest.raises(LaunchOutcomeUnknownError):
        gw.submit(spec("0.2", analyst="bob"))
    bob = next(iter(full_view(gw.store).claims.values()))
    assert bob.state is ClaimState.LAUNCHING and launcher.runs() == [bob.id]
    report = gw.schedule()
    assert report.recovered == [bob.id] and full_view(gw.store).claim(bob.id).state is ClaimState.RUNNING
    launcher.finish_all()
    gw.schedule()
    assert full_view(gw.store).claim(bob.id).state is ClaimState.SUCCEEDED
    books(gw)


def test_a_setting_missing_before_the_start_releases_the_claim(env):
    gw, launcher = env
    launcher.no_output = True
    claim = gw.submit(spec("0.2"))
    assert claim.state is ClaimState.RELEASED and "DPGW_AWS_BUCKET" in (claim.reason or "")
    assert launcher.runs() == [] and full_view(gw.store).blocks["events/2026-10-02"].allocated == Budget()
    launcher.no_output = False
    assert gw.submit(spec("0.2", analyst="cy")).state is ClaimState.RUNNING  # nothing wedged
    books(gw)


def test_a_claim_naming_a_launcher_this_gateway_lacks_is_released(env, tmp_path):
    gw, launcher = env
    gw.launchers["other"] = launcher

    def stop_after_admission(name):
        if name == "admitted":
            raise KeyboardInterrupt

    gw.checkpoint = stop_after_admission
    with pytest.raises(KeyboardInterrupt):
        gw.submit(spec("0.2"), launcher="other")
    other = gateway_for(gw.store, Flaky(tmp_path / "elsewhere"))  # a gateway without the "other" launcher
    report = other.schedule()
    (claim,) = full_view(other.store).claims.values()
    assert report.released == [claim.id] and "no launcher 'other'" in (claim.reason or "")
    assert report.errors == [] and launcher.runs() == []
    books(gw)


def test_a_recovery_error_on_one_claim_does_not_stop_the_others(env):
    gw, launcher = env
    launcher.fail_after.add("bob")
    with pytest.raises(LaunchOutcomeUnknownError):
        gw.submit(spec("0.2", analyst="bob"))
    (bob,) = full_view(gw.store).claims.values()
    launcher.find_fails.add(bob.id)
    for _ in range(2):  # every pass works, not only the first
        report = gw.schedule()
        assert report.errors == [f"{bob.id}: OSError: the run list is unreachable"]
    ann = gw.submit(spec("0.3", analyst="ann"))
    assert ann.state is ClaimState.RUNNING and full_view(gw.store).claim(bob.id).state is ClaimState.LAUNCHING
    books(gw)
    launcher.find_fails.clear()
    launcher.finish_all()
    gw.schedule()
    gw.schedule()
    assert by_analyst(gw) == {"bob": ClaimState.SUCCEEDED, "ann": ClaimState.SUCCEEDED}
    books(gw)


def test_a_job_that_cannot_be_polled_stays_running_while_others_finish(env):
    gw, launcher = env
    bob = gw.submit(spec("0.2", analyst="bob"))
    ann = gw.submit(spec("0.3", analyst="ann"))
    launcher.poll_fails.add(bob.id)
    launcher.finish_all()
    report = gw.schedule()
    assert report.finished == [ann.id] and report.errors == [f"{bob.id}: TimeoutError: status service timed out"]
    assert by_analyst(gw) == {"bob": ClaimState.RUNNING, "ann": ClaimState.SUCCEEDED}
    books(gw)


class RecoveredMeanwhile(FileRunLauncher):
    """While this gateway launches, another one recovers the launch from the run list (and may finish it)."""

    def __init__(self, root, then: str) -> None:
        super().__init__(root)
        self.then = then
        self.other: Gateway | None = None

    def launch(self, request, start_by=math.inf):
        run_id = super().launch(request, start_by)
        assert self.other is not None
        self.other.schedule()  # finds the run and records it as running
        if self.then == "finished":
            self.finish_all()
            self.other.schedule()
        return run_id


@pytest.mark.parametrize("then", ["running", "finished"])
def test_a_launch_recorded_by_a_recovering_gateway_is_no_false_alarm(tmp_path, then):
    from gateway.core import ledger as core

    store = InMemoryLedgerStore()
    store.create(PolicySettings(policy="fcfs"))
    launcher = RecoveredMeanwhile(tmp_path / "runs", then)
    gw = gateway_for(store, launcher)
    launcher.other = gateway_for(store, launcher)
    gw._mutate(lambda s, now: core.add_dataset(s, DATASET, now))
    gw.add_blocks("events", FIRST, LAST, Budget.capacity(1))
    claim = gw.submit(spec("0.2"))  # no GatewayInternalError
    expected = ClaimState.RUNNING if then == "running" else ClaimState.SUCCEEDED
    assert claim.state is expected and claim.run_id == f"run-{claim.id}"
    check_books(full_view(store), store.audit())


def test_a_truly_inconsistent_launch_is_still_an_internal_error(tmp_path, monkeypatch):
    from gateway.core import ledger as core

    store = InMemoryLedgerStore()
    store.create(PolicySettings(policy="fcfs"))
    launcher = FileRunLauncher(tmp_path / "runs")
    gw = gateway_for(store, launcher)
    gw._mutate(lambda s, now: core.add_dataset(s, DATASET, now))
    gw.add_blocks("events", FIRST, LAST, Budget.capacity(1))
    original = launcher.launch

    def launch_then_released_elsewhere(request, start_by=math.inf):
        run_id = original(request, start_by)
        gw._mutate(lambda s, now: core.release(s, request.submission_id, "released by a broken gateway", now))
        return run_id

    monkeypatch.setattr(launcher, "launch", launch_then_released_elsewhere)
    with pytest.raises(GatewayInternalError, match="shows the claim released"):
        gw.submit(spec("0.2"))
