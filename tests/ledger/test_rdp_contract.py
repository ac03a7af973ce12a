"""Rényi-DP accounting on every store: curves persist exactly and admission is "fits at some order"."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.core import ledger as core
from gateway.core import rdp
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec
from gateway.errors import GatewayValidationError
from tests.ledger.support import DATASET, FIRST, LAST, FileRunLauncher, gateway_for


def rho_spec(rho: str, client_id: str):
    return parse_spec(
        {
            "engine": "tumult",
            "dataset": "events",
            "analyst": "ann",
            "blocks": {"last": 2},
            "client_id": client_id,
            "budget": {"rho": rho},
            "privacy_unit": "row",
            "aggregate": {"function": "count"},
        }
    )


def rdp_ledger(store, launcher=None):
    store.create(PolicySettings(policy="fcfs", accounting="rdp"))
    gw = gateway_for(store, launcher)
    gw._mutate(lambda s, now: core.add_dataset(s, DATASET, now))
    gw.add_blocks("events", FIRST, LAST, Budget.capacity(1, "1e-5"))
    return gw


def test_curves_round_trip_exactly_and_admission_uses_the_best_order(make_store, tmp_path):
    launcher = FileRunLauncher(tmp_path / "runs")
    gw = rdp_ledger(make_store(), launcher)
    block = make_store().load().blocks["events/2026-10-01"]
    alphas = PolicySettings(accounting="rdp").orders()
    assert block.guarantee == Budget(Decimal(1), Decimal("0.00001"))
    assert block.capacity.curve == rdp.capacity_curve(Decimal(1), Decimal("1e-5"), alphas)
    # rho = 0.005 costs 0.005*alpha: at alpha = 32 the capacity is 1 - ln(1e5)/31 = 0.6286, room for 3 such
    # queries (0.48), not 4 (0.64); under basic composition their (eps, delta) would not fit at all
    results = [gw.submit(rho_spec("0.005", f"q{i}")) for i in range(5)]
    assert [c.state for c in results] == [ClaimState.RUNNING] * 3 + [ClaimState.REJECTED] * 2
    launcher.finish_all()
    gateway_for(make_store(), launcher).schedule()
    state = make_store().load()  # a fresh instance reads back exactly what was written
    block = state.blocks["events/2026-10-01"]
    assert block.consumed.curve == tuple(3 * x for x in rdp.rho_curve(Decimal("0.005"), alphas))
    assert block.remaining == block.capacity - block.consumed
    assert all(c.demand.curve is not None for c in state.claims.values())
    for key, b in state.blocks.items():
        assert (b.allocated + b.consumed).admissible_in(b.capacity), key
        b.check()
    charged = [e for e in make_store().audit() if e.kind == "charged"]
    assert len(charged) == 3 and all(e.amount is not None and e.amount.curve is not None for e in charged)


def test_rho_is_refused_under_basic_accounting_with_the_way_out(make_store, tmp_path):
    store = make_store()
    store.create(PolicySettings(policy="fcfs"))
    gw = gateway_for(store, FileRunLauncher(tmp_path / "runs"))
    gw._mutate(lambda s, now: core.add_dataset(s, DATASET, now))
    gw.add_blocks("events", FIRST, LAST, Budget.capacity(1, "1e-5"))
    with pytest.raises(GatewayValidationError, match="--accounting rdp"):
        gw.submit(rho_spec("0.005", "r"))
