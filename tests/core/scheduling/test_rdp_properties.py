"""Properties of Rényi-DP accounting in the ledger, whatever the sequence of admissions and finishes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core import ledger as core
from gateway.core import rdp
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.datasets import ColumnType, DataFormat, Dataset
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
DAYS = [dt.date(2026, 10, 1) + dt.timedelta(days=i) for i in range(4)]
DATASET = Dataset(
    name="events",
    path="/data",
    format=DataFormat.PARQUET,
    time_column="day",
    columns={"day": ColumnType.DATE, "v": ColumnType.DOUBLE},
)

budgets = st.one_of(
    st.builds(lambda r: {"rho": r}, st.sampled_from(["0.001", "0.01", "0.05", "0.2", "1"])),
    st.builds(lambda e: {"epsilon": e}, st.sampled_from(["0.05", "0.3", "1", "3"])),
    st.builds(lambda e, d: {"epsilon": e, "delta": d}, st.sampled_from(["0.1", "0.5", "2"]), st.just("1e-8")),
)
queries = st.tuples(budgets, st.integers(0, 3), st.integers(1, 4), st.booleans())  # budget, first day, days, finish


def _spec(budget: dict[str, str], first: int, days: int, i: int):
    last = min(first + days, len(DAYS)) - 1
    return parse_spec(
        {
            "engine": "tumult",
            "dataset": "events",
            "analyst": "ann",
            "client_id": f"q{i}",
            "blocks": {"from": DAYS[first].isoformat(), "to": DAYS[last].isoformat()},
            "budget": budget,
            "privacy_unit": "row",
            "aggregate": {"function": "count"},
        }
    )


@settings(max_examples=60, deadline=None)
@given(
    policy=st.sampled_from(["fcfs", "dpf-n", "dpf-t", "dpack"]),
    capacity=st.sampled_from([("1", "1e-5"), ("10", "1e-7"), ("3", "1e-9")]),
    stream=st.lists(queries, min_size=1, max_size=25),
)
def test_every_block_stays_within_its_capacity_at_some_order(policy, capacity, stream) -> None:
    ledger_settings = PolicySettings(policy=policy, accounting="rdp", n=3, lifetime="1d")
    alphas = ledger_settings.orders()
    eps_g, delta_g = Decimal(capacity[0]), Decimal(capacity[1])
    state = core.LedgerState(settings=ledger_settings)
    state, _ = core.add_dataset(state, DATASET, NOW)
    state, _ = core.add_blocks(state, "events", DAYS, Budget.capacity(eps_g, delta_g), NOW)
    now = NOW
    for i, (budget, first, days, finish) in enumerate(stream):
        now += dt.timedelta(hours=1)
        claim = core.prepare_claim(state, _spec(budget, first, days, i), now)
        state, _ = core.arrive(state, claim, now)
        state, _ = core.schedule(state, now)
        if finish and state.claims[claim.id].state is ClaimState.ADMITTED:
            for step in (core.start_launch, lambda s, c, t: core.record_run(s, c, "run", t)):
                state, _ = step(state, claim.id, now)
            half = Budget(curve=tuple(x / 2 for x in claim.demand.curve or ()))  # a receipt below the grant
            state, _ = core.finish(state, claim.id, True, now, spent=half)
        for key, block in state.blocks.items():
            used = block.allocated + block.consumed
            assert used.admissible_in(block.capacity), key  # some order is within capacity
            block.check()
            curve = used.curve or (Decimal(0),) * len(alphas)
            # the block's state read back as (eps, delta) at its own delta never exceeds its guarantee
            assert rdp.to_epsilon(curve, delta_g, alphas) <= eps_g, key
            assert (
                rdp.remaining_epsilon((block.remaining.curve or curve), block.capacity.curve or (), delta_g, alphas)
                <= eps_g
            )
