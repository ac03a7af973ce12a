"""The gateway under rdp accounting: receipts are curves, charged per order, withheld when over the grant."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.datasets import DataFormat
from gateway.core.jobs import GrantedBudget, GroupValue, JobOutcome, JobResult
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec
from gateway.launchers import RunState, RunStatus
from gateway.ledger import InMemoryLedgerStore
from gateway.service import Gateway
from tests.service.test_gateway import COLUMNS, ScriptedLauncher


class CurveLauncher(ScriptedLauncher):
    """Reports ``scale`` times the granted curve, or the grant with ``bump`` added at the last order."""

    scale = Decimal(1)
    bump = Decimal(0)

    def poll(self, run_id, submission_id):
        if submission_id not in self.done:
            return RunStatus(RunState.RUNNING)
        request = next(r for r in self.requests if r.submission_id == submission_id)
        curve = [x * self.scale for x in request.granted.curve]
        curve[-1] += self.bump
        spent = GrantedBudget(curve=tuple(curve), alphas=request.granted.alphas)
        now = dt.datetime.now(dt.UTC)
        result = JobResult(
            submission_id=submission_id,
            engine="tumult",
            engine_version="x",
            dataset="events",
            blocks=request.blocks,
            granted=request.granted,
            spent=spent,
            aggregate="count",
            values=[GroupValue(key=None, value=41.5)],
            started_at=now,
            finished_at=now,
        )
        return RunStatus(
            RunState.SUCCEEDED, outcome=JobOutcome(submission_id=submission_id, status="succeeded", result=result)
        )


@pytest.fixture
def rdp_env():
    launcher = CurveLauncher()
    gw = Gateway(InMemoryLedgerStore(), {"fake": launcher}, inspect=lambda p, f: dict(COLUMNS), default_launcher="fake")
    gw.init(PolicySettings(policy="fcfs", accounting="rdp"))
    gw.add_dataset("events", "/data", DataFormat.PARQUET, "day")
    gw.add_blocks("events", dt.date(2026, 10, 1), dt.date(2026, 10, 2), Budget.capacity(1, "1e-5"))
    return gw, launcher


def rho_spec(rho: str = "0.01"):
    return parse_spec(
        {
            "engine": "tumult",
            "dataset": "events",
            "analyst": "ann",
            "blocks": {"last": 2},
            "budget": {"rho": rho},
            "privacy_unit": "row",
            "aggregate": {"function": "count"},
        }
    )


def test_a_receipt_below_the_grant_is_charged_and_the_rest_refunded_per_order(rdp_env):
    gw, launcher = rdp_env
    claim = gw.submit(rho_spec())
    request = launcher.requests[0]
    assert request.granted.curve == claim.demand.curve and request.granted.alphas == gw.state().settings.orders()
    launcher.scale = Decimal("0.5")
    launcher.done.add(claim.id)
    gw.schedule()
    done = gw.state()
    assert gw.claim(claim.id).state is ClaimState.SUCCEEDED  # finished: read from history
    block = done.blocks["events/2026-10-01"]
    assert block.consumed.curve == tuple(x / 2 for x in claim.demand.curve)
    assert block.remaining == block.capacity - block.consumed


def test_a_receipt_over_the_grant_at_one_order_is_withheld_and_the_grant_charged(rdp_env):
    gw, launcher = rdp_env
    claim = gw.submit(rho_spec())
    launcher.bump = Decimal("1e-9")
    launcher.done.add(claim.id)
    gw.schedule()
    done, finished = gw.state(), gw.claim(claim.id)  # finished: read from history
    assert finished.state is ClaimState.FAILED
    assert finished.result is None
    assert "withheld" in (finished.reason or "")
    assert done.blocks["events/2026-10-01"].consumed == claim.demand
