"""The artifact compat options (note section 8): each off by default, each reproducing one quirk when on."""

from __future__ import annotations

import heapq

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.budget import Budget
from gateway.core.scheduling import Group, PolicySettings, make_policy
from gateway.core.scheduling.dpf import DpfNPolicy
from gateway.errors import GatewayValidationError
from gateway.simulation.accounts import ArrayAccounts
from tests.core.scheduling.test_dpf_n import T0, Req, Sim, eps


def _pending(sim: Sim, demands: list[float]) -> None:
    """Claims waiting together on block 0, in arrival order (ids c1, c2, ...)."""
    for i, d in enumerate(demands, 1):
        sim.pending.append(Req(f"c{i}", T0.replace(second=i), {sim.keys[0]: eps(d)}))


@pytest.mark.parametrize(
    ("order", "granted"),
    [("sorted", ["c1", "c3"]), ("heap_array", ["c1", "c2"])],
)
def test_heap_array_order_tries_an_elephant_before_a_mouse(order, granted):
    """Q1: [0.1, 0.5, 0.2] is already a heap, so the array walk tries the 0.5 before the 0.2 and takes it."""
    sim = Sim(DpfNPolicy(n=1, order=order), [Budget.capacity("0.65")])
    sim.blocks = {k: sim.policy.on_arrival(b) for k, b in sim.blocks.items()}  # all 0.65 unlocked
    _pending(sim, [0.1, 0.5, 0.2])
    assert sim.schedule()[0] == granted


def _artifact_walk(claims: list[tuple[tuple[int, ...], float]], unlocked: list[float]) -> list[int]:
    """The artifact's loop, one entry per task: heapify the arrival-ordered list, walk the array."""
    order = [(tuple(sorted([d] * len(blocks), reverse=True)), i) for i, (blocks, d) in enumerate(claims)]
    heapq.heapify(order)
    left, granted = list(unlocked), []
    for _, i in order:
        blocks, d = claims[i]
        if all(d <= left[b] + 1e-8 for b in blocks):
            for b in blocks:
                left[b] -= d
            granted.append(i)
    return granted


@settings(max_examples=200, deadline=None)
@given(
    claims=st.lists(
        st.tuples(st.sampled_from([(0,), (1,), (0, 1), (0, 1, 2)]), st.sampled_from([0.1, 0.2, 0.3, 0.5])),
        min_size=1,
        max_size=25,
    ),
    unlocked=st.lists(st.sampled_from([0.2, 0.45, 0.7, 1.0]), min_size=3, max_size=3),
)
def test_grouped_heap_array_pass_is_exactly_the_per_task_walk(claims, unlocked):
    """Grouping identical claims changes nothing: same grants, in the same order, as the per-task walk."""
    acc = ArrayAccounts(1, rdp=False)
    for amount in unlocked:
        block = acc.add_block([1.0], 0.0)
        acc.release(block, amount, False)
    groups: dict[tuple[tuple[int, ...], float], Group] = {}
    for i, (blocks, d) in enumerate(claims):
        group = groups.setdefault((blocks, d), Group(blocks, (np.array([d]),) * len(blocks)))
        group.members.append((float(i), i))
    result = DpfNPolicy(n=1, order="heap_array").admit(list(groups.values()), acc)
    assert [member[1] for _, member in result.admitted] == _artifact_walk(claims, unlocked)
    for group in groups.values():  # what is left still waits in arrival order
        assert list(group.members) == sorted(group.members)


def test_compat_options_default_to_the_paper_and_old_ledgers_still_load():
    old = PolicySettings.model_validate({"policy": "dpf-n", "n": 5, "lifetime": None, "include_delta_in_share": False})
    assert (old.order, old.release_to) == ("sorted", "unlocked")
    assert make_policy(old) == DpfNPolicy(n=5)
    quirky = PolicySettings(policy="dpf-t", lifetime=60, order="heap_array", release_to="locked")
    assert quirky.summary() == "dpf-t, lifetime 60s, order heap_array, release to locked"
    assert make_policy(quirky).order == "heap_array"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"policy": "fcfs", "order": "heap_array"}, "means nothing for policy fcfs; use dpf-n or dpf-t"),
        ({"policy": "dpack", "n": 4, "lifetime": 60, "order": "heap_array"}, "means nothing for policy dpack"),
        ({"policy": "fcfs", "release_to": "locked"}, "nothing would unlock that budget again"),
        ({"policy": "rr-n", "release_to": "locked"}, "use dpf-n or dpf-t, or keep unlocked"),
    ],
)
def test_compat_options_are_refused_where_they_mean_nothing(options, message):
    with pytest.raises(GatewayValidationError, match=message):
        PolicySettings(**options)
