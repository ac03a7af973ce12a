"""Every policy, both accounting modes, random workloads: the block invariant after every event.

Basic: used <= capacity in every dimension. RDP: used <= capacity at some alpha. Plus all-or-nothing:
a block's used budget is exactly the demands of the tasks granted on it (and round-robin holdings).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core import rdp as curves
from gateway.core.scheduling import PolicySettings
from gateway.simulation import ReplayOptions, Task, Workload, replay
from gateway.simulation.metrics import GRANTED

ALPHAS = curves.PAPER_ALPHAS

tasks = st.lists(
    st.tuples(
        st.floats(0, 60, allow_nan=False),
        st.sampled_from([0.01, 0.05, 0.1, 0.3, 0.7]),
        st.integers(1, 4),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=120, deadline=None)
@given(
    raw=tasks,
    policy=st.sampled_from(["dpf-n", "dpf-t", "fcfs", "rr-n", "rr-t", "dpack"]),
    rdp=st.booleans(),
    n=st.integers(1, 20),
    lifetime=st.floats(1, 80),
    timeout=st.none() | st.floats(1, 30),
    quirks=st.booleans(),
)
def test_block_invariant_after_every_event(raw, policy, rdp, n, lifetime, timeout, quirks):
    """Also with the artifact's compat options on where they apply: heap-array order (Q1, DPF) and early
    retirement without unlock (Q8, DPF-N)."""
    rdp = rdp and not policy.startswith("rr-")  # round robin is basic-only
    workload = Workload(
        "random",
        tuple(Task(t, e, k, mice=e <= 0.01) for t, e, k in sorted(raw)),
        duration=100.0,
        block_interval=15.0,
        initial_blocks=2,
        timeout=timeout,
        arrival_interval=2.0,
    )
    demand = {e: np.asarray(curves.epsilon_demand(e, ALPHAS)) if rdp else np.asarray([e]) for _, e, _ in raw}

    def check(now, accounts, status):
        for block in range(len(accounts.retired)):
            assert accounts.invariant_holds(block), (now, block)
            non_negative = accounts.unlocked[block] >= -1e-8  # the stronger form: nothing overdrawn
            assert non_negative.any() if rdp else non_negative.all(), (now, block)
            assert np.all(accounts.released[block] <= accounts.capacity[block] * (1 + 1e-12))
        granted_use = np.zeros_like(accounts.used)
        existing_at = {}
        for index, task in enumerate(workload.tasks):
            if status[index] == GRANTED:
                s = existing_at.setdefault(task.arrival, sum(1 for t in accounts.created if t <= task.arrival))
                for block in range(s - min(task.blocks, s), s):
                    granted_use[block] += demand[task.epsilon]
        for (block, _), amount in accounts.held.items():
            granted_use[block, 0] += amount
        assert np.allclose(accounts.used, granted_use, atol=1e-9)

    order = "heap_array" if quirks and policy.startswith("dpf") else "sorted"
    settings_ = PolicySettings(policy=policy, n=n, lifetime=lifetime, order=order)
    options = ReplayOptions(rdp=rdp, alphas=ALPHAS, retire_without_unlock=quirks and policy == "dpf-n")
    report = replay(workload, settings_, options, observe=check)
    assert report.granted + report.rejected + report.timed_out + report.pending_at_end == report.arrivals
