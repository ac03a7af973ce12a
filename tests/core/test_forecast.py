"""The "when" forecast against the ledger's own replay: exact for the clock, an arrival-rate estimate for DPF-N."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from gateway.core import ledger as core
from gateway.core.budget import Budget
from gateway.core.budget_state import BudgetState, block_state
from gateway.core.claims import ClaimState
from gateway.core.forecast import RESOLUTION, Outlook, forecast
from gateway.core.scheduling import PolicySettings, make_policy
from tests.core.test_ledger import DATASET, NOW, commit, spec


def ledger(settings: PolicySettings, created: dt.datetime = NOW) -> core.LedgerState:
    state = core.LedgerState(settings=settings)
    state, _ = core.add_dataset(state, DATASET, created)
    days = [dt.date(2026, 10, d) for d in range(1, 4)]
    state, _ = core.add_blocks(state, "events", days, Budget.capacity(1), created)
    return state


def submit(state: core.LedgerState, eps: float, at: dt.datetime, client_id: str) -> tuple[core.LedgerState, str]:
    claim = core.prepare_claim(state, spec(eps, client_id=client_id), at)
    state, _ = commit(state, core.arrive(state, claim, at))
    state, _ = commit(state, core.schedule(state, at))
    return state, claim.id


def test_dpf_t_forecast_is_the_instant_the_clock_admits_it():
    state = ledger(PolicySettings(policy="dpf-t", lifetime="2d"))
    state, target = submit(state, 0.4, NOW, "target")
    state, _ = submit(state, 0.9, NOW, "competitor")  # set aside: "if nothing else competes"
    result = forecast(state, target, NOW)
    assert result.outlook is Outlook.AT
    assert result.at is not None
    # 0.4 of a block unlocking linearly over 2 days is released after 0.8 days.
    assert abs(result.at - (NOW + dt.timedelta(hours=19, minutes=12))) <= RESOLUTION
    alone = replace(state, claims={k: c for k, c in state.claims.items() if k == target})
    at, _ = core.schedule(alone, result.at)
    before, _ = core.schedule(alone, result.at - RESOLUTION)
    assert at.claims[target].state is ClaimState.ADMITTED
    assert before.claims[target].state is ClaimState.PENDING


def test_dpf_t_forecast_says_never_when_held_budget_leaves_too_little():
    state = ledger(PolicySettings(policy="dpf-t", lifetime="2d"))
    later = NOW + dt.timedelta(hours=46)  # 0.958 of every block unlocked, none retired yet
    state, big = submit(state, 0.8, later, "big")
    assert state.claims[big].state is ClaimState.ADMITTED  # holds 0.8 of every block it reads
    state, target = submit(state, 0.4, later, "target")
    assert state.claims[target].state is ClaimState.PENDING
    result = forecast(state, target, later)
    assert result.outlook is Outlook.NEVER and result.at is None
    assert "below its demand" in result.basis


def test_dpf_n_estimate_matches_a_replay_at_the_stated_arrival_rate():
    settings = PolicySettings(policy="dpf-n", n=10)
    state = ledger(settings, created=NOW - dt.timedelta(days=30))
    for days_ago in (6, 4, 2):  # three small queries in the last week, each unlocking 1/10 of its blocks
        state, _ = submit(state, 0.01, NOW - dt.timedelta(days=days_ago), f"small-{days_ago}")
    state, target = submit(state, 0.5, NOW, "target")
    assert state.claims[target].state is ClaimState.PENDING  # 0.4 unlocked - 0.03 allocated < 0.5
    result = forecast(state, target, NOW)
    assert result.outlook is Outlook.ESTIMATE, result
    assert "needs 2 more" in result.basis

    # Replay: arrivals on its blocks at the rate seen over the window (4 in 7 days), nothing else demanding.
    interval = dt.timedelta(days=7) / 4
    policy = make_policy(settings)
    keys = state.claims[target].blocks
    replayed, at = state, NOW
    while replayed.claims[target].state is ClaimState.PENDING:
        at += interval
        replayed = replayed.with_(blocks=[policy.on_arrival(replayed.blocks[k]) for k in keys])
        replayed, _ = core.schedule(replayed, at)
    assert result.at is not None and abs(result.at - at) < dt.timedelta(seconds=1)


def test_forecast_of_claims_that_are_not_waiting():
    state = ledger(PolicySettings(policy="dpf-n", n=1))
    state, admitted = submit(state, 0.5, NOW, "fits")
    assert forecast(state, admitted, NOW).outlook is Outlook.NOT_WAITING
    state, rejected = submit(state, 5, NOW, "too-big")
    result = forecast(state, rejected, NOW)
    assert result.outlook is Outlook.NEVER and "exceeds the capacity" in result.basis


def test_budget_states_follow_one_definition():
    state = ledger(PolicySettings(policy="fcfs"))
    block = state.blocks["events/2026-10-01"]
    assert block_state(block) is BudgetState.ENOUGH
    nearly = replace(block, consumed=Budget.demand("0.95"), unlocked=Budget.demand("0.05"))
    assert block_state(nearly) is BudgetState.NEARLY_EXHAUSTED
    out = replace(block, consumed=Budget.demand("1"), unlocked=Budget())
    assert block_state(out) is BudgetState.OUT_OF_BUDGET
    with_delta = replace(block, capacity=Budget.capacity(1, "1e-6"), unlocked=Budget.capacity(1, "1e-6"))
    spent_delta = replace(with_delta, consumed=Budget.demand("0.1", "1e-6"), unlocked=Budget.demand("0.9"))
    assert block_state(spent_delta) is BudgetState.OUT_OF_BUDGET  # δ gone although ε is left
