"""The contract every ledger store keeps: the same tests on memory, a directory, S3 and DynamoDB (moto)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from gateway.core import ledger as core
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.scheduling import PolicySettings
from gateway.errors import BlockRangeError, GatewayInternalError, LedgerConflictError, LedgerError, LedgerNotFoundError
from gateway.ledger.base import full_view
from tests.ledger.support import DATASET, FileRunLauncher, check_books, gateway_for, setup_ledger, spec


def arrive(gw, eps, client_id=None, analyst="ann"):
    state = gw.store.load()
    claim = core.prepare_claim(state, spec(eps, client_id, analyst), gw.clock(), launcher="files")
    gw._mutate(lambda s, now: core.arrive(s, core.prepare_claim(s, claim.spec, now, claim.id, "files"), now))
    return claim.id


def test_missing_ledger_and_create_once(make_store):
    store = make_store()
    with pytest.raises(LedgerNotFoundError, match="dpgw init"):
        store.load()
    store.create(PolicySettings())
    with pytest.raises(LedgerError, match="already exists"):
        make_store().create(PolicySettings())
    assert store.load().claims == {} and store.audit() == []


def test_commit_is_conditional_and_audited(make_store):
    gw = setup_ledger(make_store())
    store = gw.store
    claim_id = arrive(gw, 0.4)
    state = store.load()
    assert state.claims[claim_id].state is ClaimState.PENDING
    assert state.blocks["events/2026-10-02"].version == 2  # created, then one arrival
    new, events = core.schedule_next(state, gw.clock())
    change = core.diff(state, new, events)
    store.commit(change)
    with pytest.raises(LedgerConflictError):
        store.commit(change)  # the same versions again: a repeated transition is refused, not re-applied
    with pytest.raises(LedgerConflictError):
        make_store().commit(change)  # also from another instance (another gateway)
    after = full_view(make_store())
    assert after.claims[claim_id].state is ClaimState.ADMITTED
    assert after.blocks["events/2026-10-01"].allocated == Budget.demand("0.4")
    assert [e.kind for e in make_store().audit()] == ["dataset-added", "blocks-added", "submitted", "granted"]


def test_a_change_applies_entirely_or_not_at_all(make_store):
    gw = setup_ledger(make_store())
    first = arrive(gw, 0.3)
    stale = gw.store.load()
    arrive(gw, 0.2)  # moves both blocks: a change computed from `stale` now conflicts on them
    new, events = core.schedule_next(stale, gw.clock())
    change = core.diff(stale, new, events)
    assert change.claims and change.blocks and change.events
    before_audit = make_store().audit()
    with pytest.raises(LedgerConflictError):
        gw.store.commit(change)
    fresh = full_view(make_store())
    assert fresh.claims[first].state is ClaimState.PENDING  # the claim record was not written either
    assert make_store().audit() == before_audit  # nor its audit event


def test_every_store_refuses_a_change_that_overspends_a_block(make_store):
    gw = setup_ledger(make_store(), capacity="1")
    state = gw.store.load()
    block = state.blocks["events/2026-10-01"]
    taken = Budget.demand("1.5")  # more than the block holds, on the right version: only a bug could ask this
    over = replace(block, unlocked=block.unlocked - taken, allocated=block.allocated + taken, version=block.version + 1)
    with pytest.raises(GatewayInternalError):
        gw.store.commit(core.Change(blocks=(over,)))
    assert full_view(make_store()).blocks[block.key] == block


def test_idempotent_submission_from_two_gateways_at_once(make_store, tmp_path):
    gw = setup_ledger(make_store())
    other = gateway_for(make_store())
    # Both compute an arrival of the same client id from the same snapshot; one commit wins.
    snapshot = gw.store.load()
    claim = core.prepare_claim(snapshot, spec(0.2, "job-7"), gw.clock(), launcher="files")
    steps = [core.arrive(snapshot, claim, gw.clock()) for _ in range(2)]
    gw.store.commit(core.diff(snapshot, *steps[0]))
    with pytest.raises(LedgerConflictError):
        other.store.commit(core.diff(snapshot, *steps[1]))
    # ... and the loser's retry finds the submission: nothing more is recorded.
    other._mutate(lambda s, now: core.arrive(s, core.prepare_claim(s, claim.spec, now, claim.id, "files"), now))
    state = full_view(make_store())
    assert list(state.claims) == [claim.id]
    assert state.blocks["events/2026-10-01"].arrivals == 1
    assert [e.kind for e in make_store().audit()].count("submitted") == 1


def test_lifecycle_through_the_gateway_balances_the_books(make_store, tmp_path):
    launcher = FileRunLauncher(tmp_path / "runs")
    gw = setup_ledger(make_store())
    gw = gateway_for(gw.store, launcher)
    first = gw.submit(spec(0.5, "a"))
    second = gw.submit(spec(0.4, "b"))
    third = gw.submit(spec(0.3, "c"))  # FCFS unlocks everything at once: it can never fit
    assert first.state is second.state is ClaimState.RUNNING
    assert third.state is ClaimState.REJECTED
    assert gw.submit(spec(0.5, "a")).id == first.id  # a retried client id: the same submission
    launcher.finish_all()
    report = gateway_for(make_store(), launcher).schedule()
    assert sorted(report.finished) == sorted([first.id, second.id])
    state = full_view(make_store())
    assert state.claims[first.id].state is ClaimState.SUCCEEDED
    assert state.blocks["events/2026-10-01"].consumed == Budget.demand("0.9")
    check_books(state, make_store().audit())
    kinds = [e.kind for e in make_store().audit() if e.submission_id == first.id]
    assert kinds == ["submitted", "granted", "launched", "charged"]


def test_release_returns_budget_and_rejection_is_audited(make_store, tmp_path):
    launcher = FileRunLauncher(tmp_path / "runs")
    gw = gateway_for(setup_ledger(make_store()).store, launcher)
    too_big = gw.submit(spec(2, "huge"))
    assert too_big.state is ClaimState.REJECTED
    claim_id = arrive(gw, 0.7)
    gw._mutate(core.schedule_next)
    gw._mutate(lambda s, now: core.start_launch(s, claim_id, now))
    gw._mutate(lambda s, now: core.release(s, claim_id, "never started", now))
    with pytest.raises(LedgerConflictError):  # repeating a transition is refused, not double-counted
        gw._mutate(lambda s, now: core.release(s, claim_id, "never started", now))
    state = full_view(make_store())
    assert state.blocks["events/2026-10-02"].unlocked == Budget.capacity(1)
    events = make_store().audit()
    assert [e.kind for e in events if e.submission_id == too_big.id] == ["submitted", "rejected"]
    assert next(e for e in events if e.kind == "rejected").reason
    check_books(state, events)


def test_audit_events_keep_their_order_and_fields(make_store):
    gw = setup_ledger(make_store())
    ids = [arrive(gw, 0.1, f"k{i}", analyst=f"an{i}") for i in range(3)]
    events = [e for e in make_store().audit() if e.kind == "submitted"]
    assert [e.submission_id for e in events] == ids
    assert [e.analyst for e in events] == ["an0", "an1", "an2"]
    assert all(e.amount == Budget.demand("0.1") and len(e.blocks) == 2 for e in events)
    assert all(isinstance(e.at, dt.datetime) for e in events)


def test_many_blocks_commit_in_chunks(make_store):
    gw = setup_ledger(make_store())
    added = gw.add_blocks("events", dt.date(2027, 1, 1), dt.date(2027, 4, 30), Budget.capacity(1))
    assert len(added) == 120
    assert len(full_view(make_store()).blocks) == 122


def test_a_clock_release_on_many_blocks_commits_in_chunks_then_admits(make_store, tmp_path):
    store = make_store()
    store.create(PolicySettings(policy="dpf-t", lifetime="1d"))
    t0 = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    clock = [t0]
    gw = gateway_for(store, FileRunLauncher(tmp_path), clock=lambda: clock[0])
    gw._mutate(lambda s, now: core.add_dataset(s, DATASET, now))
    gw.add_blocks("events", dt.date(2026, 9, 1), dt.date(2026, 12, 31), Budget.capacity(1))  # 122 blocks
    first = arrive(gw, 0.4)  # needs 0.4 unlocked on the last two days: nothing is unlocked at t0
    clock[0] = t0 + dt.timedelta(hours=12)  # every block half unlocked: 122 records move at once
    report = gw.schedule()
    assert report.admitted == [first]
    state = full_view(make_store())
    assert all(b.unlocked + b.allocated == Budget.demand("0.5") for b in state.blocks.values())
    assert state.blocks["events/2026-12-31"].allocated == Budget.demand("0.4")
    assert gw.schedule().admitted == [] and full_view(make_store()) == state  # the same instant again: no change


def test_a_range_that_overlaps_with_another_capacity_in_a_later_chunk_adds_nothing(make_store):
    gw = setup_ledger(make_store())  # blocks 2026-10-01 and 2026-10-02, capacity 1
    before = full_view(make_store())
    with pytest.raises(BlockRangeError, match="already exist with another capacity"):
        gw.add_blocks("events", dt.date(2026, 6, 1), dt.date(2026, 10, 1), Budget.capacity(2))
    assert full_view(make_store()) == before
    assert [e.kind for e in make_store().audit()] == ["dataset-added", "blocks-added"]


def test_an_interrupted_range_is_resumed_by_adding_it_again(make_store):
    """A range cut short (a chunked store, a stopped process) is finished by re-running it: only the
    missing days are added, with the same capacity; re-running a complete range adds nothing."""
    store = make_store()
    gw = setup_ledger(store)  # blocks 2026-10-01 and 2026-10-02
    gw.add_blocks("events", dt.date(2026, 10, 10), dt.date(2026, 10, 12), Budget.capacity(1))  # a part that landed
    added = gw.add_blocks("events", dt.date(2026, 9, 1), dt.date(2027, 1, 31), Budget.capacity(1))
    assert len(added) == 153 - 5 and all(b.created_at is not None for b in added)
    assert len(full_view(make_store()).blocks) == 153
    assert gw.add_blocks("events", dt.date(2026, 9, 1), dt.date(2027, 1, 31), Budget.capacity(1)) == []
    events = make_store().audit()
    assert sum(len(e.blocks) for e in events if e.kind == "blocks-added") == 153
    check_books(full_view(make_store()), events)
