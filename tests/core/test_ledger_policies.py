"""Every policy drives the real (pure) ledger in basic mode: init settings, unlock, admit, charge, persist."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.core import ledger as core
from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.scheduling import PolicySettings
from tests.core.test_ledger import DATASET, NOW, commit, spec

SETTINGS = {
    "dpf-n": PolicySettings(policy="dpf-n", n=2),
    "dpf-t": PolicySettings(policy="dpf-t", lifetime="2d"),
    "fcfs": PolicySettings(policy="fcfs"),
    "rr-n": PolicySettings(policy="rr-n", n=2),
    "rr-t": PolicySettings(policy="rr-t", lifetime="2d"),
    "dpack": PolicySettings(policy="dpack", n=4, lifetime="2d"),
}


def fresh(settings: PolicySettings) -> core.LedgerState:
    state = core.LedgerState(settings=settings)
    state, _ = core.add_dataset(state, DATASET, NOW)
    days = [dt.date(2026, 10, d) for d in range(1, 4)]
    state, _ = core.add_blocks(state, "events", days, Budget.capacity(1), NOW)
    return state


@pytest.mark.parametrize("name", list(SETTINGS))
def test_every_policy_admits_runs_and_charges_within_capacity(name):
    state = fresh(SETTINGS[name])
    ids = []
    for i in range(3):
        claim = core.prepare_claim(state, spec(0.3, client_id=f"q{i}"), NOW)
        state, _ = commit(state, core.arrive(state, claim, NOW))
        ids.append(claim.id)
    later = NOW + dt.timedelta(days=2)  # time-based policies have released everything by now
    state, _ = commit(state, core.schedule(state, later))
    admitted = [i for i in ids if state.claims[i].state is ClaimState.ADMITTED]
    assert len(admitted) == 3, name  # 3 x 0.3 <= 1 on each block, whatever the policy
    for claim_id in admitted:
        state, _ = commit(state, core.start_launch(state, claim_id, later))
        state, _ = commit(state, core.record_run(state, claim_id, "r", later))
        state, _ = commit(state, core.finish(state, claim_id, True, later))
    for block in state.blocks.values():
        assert Block.from_json(block.to_json()) == block  # what the stores persist round-trips
        if block.key != "events/2026-10-01":
            assert block.consumed == Budget.demand("0.9") and block.allocated == Budget()
            assert block.held == {}


def test_dpf_t_unlocks_with_the_clock_in_schedule():
    state = fresh(SETTINGS["dpf-t"])
    claim = core.prepare_claim(state, spec(0.4), NOW)
    state, _ = commit(state, core.arrive(state, claim, NOW))
    state, _ = commit(state, core.schedule(state, NOW + dt.timedelta(hours=12)))  # a quarter: 0.25 < 0.4
    assert state.claims[claim.id].state is ClaimState.PENDING
    assert state.blocks["events/2026-10-03"].unlocked == Budget.demand("0.25")
    state, _ = commit(state, core.schedule(state, NOW + dt.timedelta(days=1)))
    assert state.claims[claim.id].state is ClaimState.ADMITTED


def test_old_block_documents_without_new_fields_still_load():
    doc = fresh(SETTINGS["dpf-n"]).blocks["events/2026-10-01"].to_json()
    del doc["created_at"], doc["held"]
    block = Block.from_json(doc)
    assert block.created_at is None and block.held == {}
