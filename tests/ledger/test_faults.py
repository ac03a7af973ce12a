"""A gateway killed at each step boundary, restarted: the next ``schedule`` makes budgets and states exact."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import uuid

import pytest

from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.ledger import open_store
from gateway.service import CHECKPOINTS, utc_now
from tests.ledger.conftest import BUCKET
from tests.ledger.support import FileRunLauncher, check_books, crashing_worker, gateway_for, setup_ledger

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
    state = open_store(ledger_url).load()
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
