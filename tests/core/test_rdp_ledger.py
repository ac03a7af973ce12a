"""The ledger under rdp accounting: capacities, demands, refunds per order, and what is refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from gateway.core import ledger as core
from gateway.core import rdp
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.datasets import ColumnType, DataFormat, Dataset
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec
from gateway.errors import GatewayValidationError

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
DAY = dt.date(2026, 10, 3)
DATASET = Dataset(
    name="events",
    path="/data",
    format=DataFormat.PARQUET,
    time_column="day",
    columns={"day": ColumnType.DATE, "v": ColumnType.DOUBLE, "user": ColumnType.STRING, "region": ColumnType.STRING},
)
SETTINGS = PolicySettings(policy="fcfs", accounting="rdp")
ALPHAS = SETTINGS.orders()


def _ledger(settings: PolicySettings = SETTINGS, delta: str = "1e-5") -> core.LedgerState:
    state = core.LedgerState(settings=settings)
    state, _ = core.add_dataset(state, DATASET, NOW)
    state, _ = core.add_blocks(state, "events", [DAY], Budget.capacity(1, delta), NOW)
    return state


def _spec(budget: dict[str, object], engine: str = "tumult"):
    return parse_spec(
        {
            "engine": engine,
            "dataset": "events",
            "analyst": "ann",
            "blocks": {"last": 1},
            "budget": budget,
            "privacy_unit": "row",
            "aggregate": {"function": "count"},
        }
    )


def _running(budget: dict[str, object]) -> tuple[core.LedgerState, str]:
    state = _ledger()
    claim = core.prepare_claim(state, _spec(budget), NOW)
    state, _ = core.arrive(state, claim, NOW)
    state, _ = core.schedule(state, NOW)
    state, _ = core.start_launch(state, claim.id, NOW)
    state, _ = core.record_run(state, claim.id, "run-1", NOW)
    return state, claim.id


def test_a_block_holds_the_capacity_curve_of_its_guarantee() -> None:
    block = _ledger().blocks[f"events/{DAY}"]
    assert block.guarantee == Budget(Decimal(1), Decimal("0.00001"))
    assert block.capacity.curve is not None and block.capacity.curve[:3] == (0, 0, 0)  # ln(1e5)/(alpha-1) > 1
    assert block.capacity.curve[-1] == rdp.quantize_down(1 - Decimal(100000).ln() / Decimal(20479))


def test_demands_are_the_curves_of_the_noise_the_engines_add() -> None:
    state = _ledger()
    rho = core.prepare_claim(state, _spec({"rho": "0.01"}), NOW).demand
    assert rho.curve == tuple(Decimal("0.01") * a for a in ALPHAS)
    pure = core.prepare_claim(state, _spec({"epsilon": "0.2"}), NOW).demand
    assert pure.curve == tuple(min(Decimal("0.2"), a * Decimal("0.02")) for a in ALPHAS)
    gauss = core.prepare_claim(state, _spec({"epsilon": "1", "delta": "1e-6"}), NOW).demand
    sigma = rdp.library_sigma(1.0, 1e-6)
    assert gauss.curve is not None
    assert float(gauss.curve[ALPHAS.index(Decimal(8))]) == pytest.approx(8 / (2 * sigma**2), rel=1e-12)


def test_a_block_needs_a_delta_and_round_robin_is_refused() -> None:
    with pytest.raises(GatewayValidationError, match="0 < delta < 1"):
        _ledger(delta="0")
    with pytest.raises(GatewayValidationError, match="round robin"):
        PolicySettings(policy="rr-n", accounting="rdp")
    with pytest.raises(GatewayValidationError, match="engine tumult"):
        core.prepare_claim(_ledger(), _spec({"rho": "0.01"}, engine="pipelinedp"), NOW)


def test_finish_refunds_the_grant_minus_the_receipt_per_order_never_below_zero() -> None:
    state, claim_id = _running({"rho": "0.01"})
    grant = state.claims[claim_id].demand
    assert grant.curve is not None
    spent = Budget(curve=tuple(x / 4 for x in grant.curve))
    after, events = core.finish(state, claim_id, True, NOW, spent=spent)
    block = after.blocks[f"events/{DAY}"]
    assert block.consumed == spent and block.allocated.is_zero()
    assert block.unlocked == state.blocks[f"events/{DAY}"].unlocked + (grant - spent)
    assert events[-1].amount == spent


def test_a_receipt_above_the_grant_at_one_order_charges_the_whole_grant() -> None:
    state, claim_id = _running({"rho": "0.01"})
    grant = state.claims[claim_id].demand
    assert grant.curve is not None
    over = Budget(curve=(*grant.curve[:-1], grant.curve[-1] + 1))
    after, _ = core.finish(state, claim_id, True, NOW, spent=over)
    assert after.blocks[f"events/{DAY}"].consumed == grant
    assert after.claims[claim_id].state is ClaimState.SUCCEEDED


def test_the_dominant_share_of_a_block_is_taken_at_its_best_order() -> None:
    from gateway.core.scheduling.block_accounts import BlockAccounts, share

    capacity = Budget(curve=(Decimal(0), Decimal(2), Decimal(4)))
    demand = Budget(curve=(Decimal(1), Decimal(1), Decimal(3)))
    assert share(demand, capacity, include_delta=False) == Decimal("0.5")  # min(1/2, 3/4); no capacity at order 1
    state = _ledger()
    accounts = BlockAccounts(state.blocks)
    key = f"events/{DAY}"
    claim = core.prepare_claim(state, _spec({"rho": "0.01"}), NOW)
    cap = state.blocks[key].capacity.curve or ()
    best = min(d / c for d, c in zip(claim.demand.curve or (), cap, strict=True) if c > 0)
    assert accounts.shares([key], [claim.demand]) == (best,)


def test_private_group_keys_are_refused_under_rdp_accounting() -> None:
    spec = parse_spec(
        {
            "engine": "pipelinedp",
            "dataset": "events",
            "analyst": "ann",
            "blocks": {"last": 1},
            "budget": {"epsilon": 1, "delta": "1e-6"},
            "privacy_unit": {"id_column": "user", "max_rows_per_id": 1},
            "aggregate": {"function": "count"},
            "group_by": {"column": "region", "keys": "private"},
        }
    )
    with pytest.raises(GatewayValidationError, match="not supported under rdp accounting"):
        core.prepare_claim(_ledger(), spec, NOW)
