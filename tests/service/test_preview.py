"""Preview against submission: rdp copy counts, a query that would wait, and nothing recorded."""

from __future__ import annotations

import datetime as dt

from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.datasets import DataFormat
from gateway.core.scheduling import PolicySettings
from gateway.ledger import InMemoryLedgerStore
from gateway.service import Gateway
from tests.service.test_gateway import COLUMNS, ScriptedLauncher, spec
from tests.service.test_rdp_gateway import rdp_env, rho_spec  # noqa: F401 - the rdp_env fixture


def test_rdp_preview_counts_exactly_the_copies_submit_admits(rdp_env):  # noqa: F811
    gw, _ = rdp_env
    before, trail = gw.state(), gw.store.audit()
    first = gw.preview(rho_spec("0.004"))
    assert gw.state() == before and gw.store.audit() == trail  # nothing recorded
    assert first.fits and first.accounting == "rdp" and first.demand.curve is not None
    copies = first.copies
    assert copies > 1
    for i in range(copies):
        claim = gw.submit(rho_spec("0.004").model_copy(update={"client_id": f"c{i}"}))
        assert claim.state is ClaimState.RUNNING, i
        assert gw.preview(rho_spec("0.004")).copies == copies - 1 - i
    last = gw.preview(rho_spec("0.004"))
    assert not last.fits and last.copies == 0
    assert gw.submit(rho_spec("0.004").model_copy(update={"client_id": "one-more"})).state is ClaimState.REJECTED


def test_a_query_that_would_wait_is_previewed_as_waiting():
    launcher = ScriptedLauncher()
    gw = Gateway(InMemoryLedgerStore(), {"fake": launcher}, inspect=lambda p, f: dict(COLUMNS), default_launcher="fake")
    gw.init(PolicySettings(policy="dpf-n", n=4))  # one arrival unlocks a quarter of a block
    gw.add_dataset("events", "/data", DataFormat.PARQUET, "day")
    gw.add_blocks("events", dt.date(2026, 10, 1), dt.date(2026, 10, 3), Budget.capacity(1))
    shown = gw.preview(spec(0.3))
    assert not shown.fits and shown.state == "pending" and shown.copies == 3
    assert "not released enough" in (shown.reason or "")
    assert gw.submit(spec(0.3)).state is ClaimState.PENDING
    assert gw.preview(spec(0.2)).fits and gw.submit(spec(0.2, client_id="small")).state is ClaimState.RUNNING
