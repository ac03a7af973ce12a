"""Charging a finished job: the receipt's spend when within the grant, the grant otherwise."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core import ledger as core
from gateway.core.budget import Budget
from gateway.core.claims import Claim
from gateway.core.datasets import ColumnType, DataFormat, Dataset
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
DATASET = Dataset(
    name="events",
    path="/data",
    format=DataFormat.PARQUET,
    time_column="day",
    columns={"day": ColumnType.DATE, "v": ColumnType.DOUBLE},
)
BLOCK = "events/2026-10-03"


def _commit(state: core.LedgerState, step: core.Step) -> tuple[core.LedgerState, core.Change]:
    new, events = step
    change = core.diff(state, new, events)
    core.check_versions(state, change)
    return core.apply(state, change), change


def _running(eps: str, delta: str) -> tuple[core.LedgerState, str]:
    state = core.LedgerState(settings=PolicySettings(policy="fcfs"))
    state, _ = core.add_dataset(state, DATASET, NOW)
    state, _ = core.add_blocks(state, "events", [dt.date(2026, 10, 3)], Budget.capacity(1, "1e-5"), NOW)
    spec = parse_spec(
        {
            "engine": "tumult",
            "dataset": "events",
            "analyst": "ann",
            "blocks": {"last": 1},
            "budget": {"epsilon": eps, "delta": delta},
            "privacy_unit": "row",
            "aggregate": {"function": "count"},
        }
    )
    claim = core.prepare_claim(state, spec, NOW)
    for step in (
        lambda s: core.arrive(s, claim, NOW),
        lambda s: core.schedule(s, NOW),
        lambda s: core.start_launch(s, claim.id, NOW),
        lambda s: core.record_run(s, claim.id, "run-1", NOW),
    ):
        state, _ = _commit(state, step(state))
    return state, claim.id


def test_an_unused_delta_goes_back_to_the_blocks_and_the_audit_says_so() -> None:
    state, claim_id = _running("0.5", "1e-6")
    before = state.blocks[BLOCK]
    spent = Budget(Decimal("0.5"), Decimal(0))
    state, change = _commit(state, core.finish(state, claim_id, True, NOW, spent=spent))
    block = state.blocks[BLOCK]
    assert block.consumed == spent
    assert block.allocated == Budget()
    assert block.unlocked == before.unlocked + Budget(Decimal(0), Decimal("1e-6"))
    (event,) = change.events
    assert event.kind == "charged" and event.amount == spent
    assert event.reason is not None and "returned unspent" in event.reason


def test_a_failed_job_is_charged_the_whole_grant_and_keeps_the_detail_off_the_audit() -> None:
    state, claim_id = _running("0.5", "1e-6")
    state, change = _commit(
        state,
        core.finish(
            state,
            claim_id,
            False,
            NOW,
            reason="the job failed in the DP engine (ref 1)",
            detail="secret value 42",
            spent=Budget(Decimal("0.1")),
        ),
    )
    assert state.blocks[BLOCK].consumed == Budget(Decimal("0.5"), Decimal("1e-6"))
    claim = state.claims[claim_id]
    assert claim.detail == "secret value 42"
    assert Claim.from_json(claim.to_json()).detail == "secret value 42"
    assert "secret" not in str(change.events[0].to_json())


def test_a_claim_stored_before_detail_existed_still_loads() -> None:
    state, claim_id = _running("0.5", "0")
    doc = state.claims[claim_id].to_json()
    del doc["detail"]
    assert Claim.from_json(doc).detail is None


amounts = st.decimals(min_value=0, max_value=1, places=12, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(eps=amounts, delta=amounts)
def test_the_charge_is_never_below_the_spend_nor_above_the_grant(eps: Decimal, delta: Decimal) -> None:
    state, claim_id = _running("0.5", "1e-6")
    grant = state.claims[claim_id].demand
    spent = Budget(eps / 2, delta * Decimal("1e-6") * 2)  # half of the cases overspend δ
    state, change = _commit(state, core.finish(state, claim_id, True, NOW, spent=spent))
    charged = change.events[0].amount
    assert charged is not None and charged.fits_in(grant)
    if spent.fits_in(grant):
        assert spent.fits_in(charged)
    else:
        assert charged == grant
    block = state.blocks[BLOCK]
    assert block.consumed == charged
    assert block.consumed + block.unlocked + block.allocated + block.locked == block.capacity


@pytest.mark.parametrize("spent", [Budget(Decimal("-0.1")), Budget(Decimal("0.6"))])
def test_a_receipt_outside_the_grant_charges_the_grant(spent: Budget) -> None:
    state, claim_id = _running("0.5", "0")
    state, change = _commit(state, core.finish(state, claim_id, True, NOW, spent=spent))
    assert change.events[0].amount == Budget(Decimal("0.5"))
