"""The pure ledger: operations, versioned diffs, and the commit condition."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core import ledger as core
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.datasets import ColumnType, DataFormat, Dataset
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec
from gateway.errors import (
    BlockRangeError,
    DuplicateSubmissionError,
    LedgerConflictError,
    UnknownDatasetError,
)

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
DATASET = Dataset(
    name="events",
    path="/data",
    format=DataFormat.PARQUET,
    time_column="day",
    columns={"day": ColumnType.DATE, "v": ColumnType.DOUBLE},
)


def spec(eps=0.1, blocks=None, client_id=None, analyst="ann"):
    data = {
        "engine": "tumult",
        "dataset": "events",
        "analyst": analyst,
        "blocks": blocks or {"last": 2},
        "budget": {"epsilon": eps},
        "privacy_unit": "row",
        "aggregate": {"function": "count"},
    }
    if client_id:
        data["client_id"] = client_id
    return parse_spec(data)


def fresh(n=4, policy="dpf-n", **options) -> core.LedgerState:
    state = core.LedgerState(settings=PolicySettings(policy=policy, n=n, **options))
    state, _ = core.add_dataset(state, DATASET, NOW)
    days = [dt.date(2026, 10, d) for d in range(1, 4)]
    state, _ = core.add_blocks(state, "events", days, Budget.capacity(1), NOW)
    return state


def commit(state, step):
    new, events = step
    change = core.diff(state, new, events)
    core.check_versions(state, change)
    return core.apply(state, change), change


def test_submit_unlocks_then_admits_then_charges():
    state = fresh(n=4)
    claim = core.prepare_claim(state, spec(0.25), NOW)
    state, change = commit(state, core.arrive(state, claim, NOW))
    assert {b.key for b in change.blocks} == {"events/2026-10-02", "events/2026-10-03"}
    state, _ = commit(state, core.schedule(state, NOW))
    assert state.claims[claim.id].state is ClaimState.ADMITTED
    block = state.blocks["events/2026-10-03"]
    assert (block.unlocked, block.allocated, block.remaining) == (Budget(), Budget.demand(0.25), Budget.demand(0.75))
    state, _ = commit(state, core.start_launch(state, claim.id, NOW))
    state, _ = commit(state, core.record_run(state, claim.id, "run-1", NOW))
    state, change = commit(state, core.finish(state, claim.id, False, NOW, reason="boom"))
    block = state.blocks["events/2026-10-03"]
    assert state.claims[claim.id].state is ClaimState.FAILED
    assert (block.allocated, block.consumed) == (Budget(), Budget.demand(0.25))  # failures keep their charge
    assert [e.kind for e in change.events] == ["charged"]


def test_release_returns_the_reservation_to_unlocked():
    state = fresh(n=1)
    claim = core.prepare_claim(state, spec(0.5), NOW)
    state, _ = commit(state, core.arrive(state, claim, NOW))
    state, _ = commit(state, core.schedule(state, NOW))
    state, _ = commit(state, core.start_launch(state, claim.id, NOW))
    state, _ = commit(state, core.release(state, claim.id, "never started", NOW))
    block = state.blocks["events/2026-10-03"]
    assert (block.unlocked, block.allocated, block.consumed) == (Budget.capacity(1), Budget(), Budget())
    with pytest.raises(LedgerConflictError):  # released is final: no charge can follow
        core.finish(state, claim.id, True, NOW)


def admit_and_release(state, eps):
    claim = core.prepare_claim(state, spec(eps), NOW)
    state, _ = commit(state, core.arrive(state, claim, NOW))
    state, _ = commit(state, core.schedule(state, NOW))
    state, _ = commit(state, core.start_launch(state, claim.id, NOW))
    state, _ = commit(state, core.release(state, claim.id, "never started", NOW))
    return state


@pytest.mark.parametrize(("release_to", "unlocked", "locked"), [("unlocked", "0.25", "0.75"), ("locked", "0", "1")])
def test_release_to_locked_puts_the_reservation_back_under_lock(release_to, unlocked, locked):
    """Q6: PrivateKube's Go system returns a never-started reservation to locked; the next unlock frees it."""
    state = admit_and_release(fresh(n=4, release_to=release_to), 0.25)
    block = state.blocks["events/2026-10-03"].check()
    assert (block.unlocked, block.locked, block.allocated) == (Budget.of(unlocked), Budget.of(locked), Budget())
    state, _ = commit(state, core.arrive(state, core.prepare_claim(state, spec(0.9, client_id="k"), NOW), NOW))
    assert state.blocks["events/2026-10-03"].unlocked == Budget.demand(0.5)  # unlock rules are cumulative


def test_budget_relocked_on_a_retired_block_is_not_lost():
    """A retired block holding re-locked budget is not final: waiting claims stay, the next arrival frees it."""
    state = admit_and_release(fresh(n=1, release_to="locked"), 0.5)
    block = state.blocks["events/2026-10-03"]
    assert block.retired and not block.final and block.locked == Budget.demand(0.5)
    big = core.prepare_claim(state, spec(0.8, client_id="big"), NOW)
    state, _ = commit(state, core.arrive(state, big, NOW))  # the arrival releases the re-locked half again
    state, _ = commit(state, core.schedule(state, NOW))
    assert state.claims[big.id].state is ClaimState.ADMITTED
    assert state.blocks["events/2026-10-03"].final


def test_demand_above_capacity_is_rejected_on_arrival_without_unlocking():
    state = fresh()
    claim = core.prepare_claim(state, spec(2), NOW)
    state, change = commit(state, core.arrive(state, claim, NOW))
    assert state.claims[claim.id].state is ClaimState.REJECTED
    assert "exceeds the capacity" in state.claims[claim.id].reason
    assert change.blocks == ()


def test_transitions_are_conditional_on_the_prior_state():
    state = fresh(n=1)
    claim = core.prepare_claim(state, spec(), NOW)
    state, _ = commit(state, core.arrive(state, claim, NOW))
    with pytest.raises(LedgerConflictError):
        core.start_launch(state, claim.id, NOW)  # still pending
    state, _ = commit(state, core.schedule(state, NOW))
    state, _ = commit(state, core.start_launch(state, claim.id, NOW))
    with pytest.raises(LedgerConflictError):
        core.start_launch(state, claim.id, NOW)  # a second launcher loses


def test_stale_writes_are_refused():
    state = fresh(n=1)
    claim = core.prepare_claim(state, spec(), NOW)
    new, events = core.arrive(state, claim, NOW)
    change = core.diff(state, new, events)
    committed = core.apply(state, change)
    with pytest.raises(LedgerConflictError):
        core.check_versions(committed, change)  # the same change again: versions moved on
    other = core.prepare_claim(state, spec(), NOW)
    stale = core.diff(state, core.arrive(state, other, NOW)[0])
    with pytest.raises(LedgerConflictError, match="block"):
        core.check_versions(committed, stale)


def test_client_id_maps_to_one_submission_and_rejects_a_different_query():
    state = fresh()
    first = core.prepare_claim(state, spec(client_id="k1"), NOW)
    state, _ = commit(state, core.arrive(state, first, NOW))
    again = core.prepare_claim(state, spec(client_id="k1"), NOW)
    assert again.id == first.id and core.existing_submission(state, again) == state.claims[first.id]
    assert core.prepare_claim(state, spec(client_id="k1", analyst="bob"), NOW).id != first.id
    with pytest.raises(DuplicateSubmissionError):
        core.existing_submission(state, core.prepare_claim(state, spec(eps=0.2, client_id="k1"), NOW))


def test_block_selection_errors():
    state = fresh()
    with pytest.raises(BlockRangeError, match="only 3"):
        core.prepare_claim(state, spec(blocks={"last": 5}), NOW)
    with pytest.raises(BlockRangeError, match="no privacy blocks"):
        core.prepare_claim(state, spec(blocks={"from": "2026-09-01", "to": "2026-09-05"}), NOW)
    with pytest.raises(BlockRangeError, match="have no privacy block"):
        core.prepare_claim(state, spec(blocks={"from": "2026-10-02", "to": "2026-10-05"}), NOW)
    with pytest.raises(UnknownDatasetError):
        core.prepare_claim(state, parse_spec({**spec().to_json(), "dataset": "nope"}), NOW)
    with pytest.raises(BlockRangeError, match="already exist with another capacity"):
        core.add_blocks(state, "events", [dt.date(2026, 10, 3), dt.date(2026, 10, 4)], Budget.capacity(2), NOW)
    assert core.add_blocks(state, "events", [dt.date(2026, 10, 3)], Budget.capacity(1), NOW) == (state, [])


@settings(max_examples=150, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["submit", "submit", "release", "finish"]),
            st.sampled_from([0.1, 0.3, 0.6]),
            st.integers(1, 3),
        ),
        min_size=1,
        max_size=30,
    ),
    policy=st.sampled_from(["dpf-n", "dpf-t"]),
    n=st.integers(1, 6),
    order=st.sampled_from(["sorted", "heap_array"]),
    release_to=st.sampled_from(["unlocked", "locked"]),
)
def test_accounts_hold_through_releases_with_every_compat_option(ops, policy, n, order, release_to):
    """Submit, release and charge in any order, quirks on or off: no negative account, consumed <= capacity,
    and allocated/consumed are exactly the demands of the claims holding or having spent them."""
    lifetime = 10 if policy == "dpf-t" else None
    state = fresh(n=n, policy=policy, lifetime=lifetime, order=order, release_to=release_to)
    for i, (kind, eps, last) in enumerate(ops):
        now = NOW + dt.timedelta(seconds=i)
        admitted = [c for c in state.claims.values() if c.state is ClaimState.ADMITTED]
        if kind == "submit":
            claim = core.prepare_claim(state, spec(eps, blocks={"last": last}, client_id=f"k{i}"), now)
            state, _ = commit(state, core.arrive(state, claim, now))
        elif admitted and kind == "release":
            state, _ = commit(state, core.start_launch(state, admitted[0].id, now))
            state, _ = commit(state, core.release(state, admitted[0].id, "never started", now))
        elif admitted:
            state, _ = commit(state, core.start_launch(state, admitted[0].id, now))
            state, _ = commit(state, core.record_run(state, admitted[0].id, "r", now))
            state, _ = commit(state, core.finish(state, admitted[0].id, True, now))
        state, _ = commit(state, core.schedule(state, now))
        for key, block in state.blocks.items():
            block.check()
            held = [c.demands().get(key, Budget()) for c in state.claims.values() if c.state.holds_allocation]
            spent = [c.demands().get(key, Budget()) for c in state.claims.values() if c.state is ClaimState.SUCCEEDED]
            assert block.allocated == sum(held, Budget())
            assert block.consumed == sum(spent, Budget())
            assert (block.consumed + block.allocated).fits_in(block.capacity)
