"""DPF-T, DPack, round robin and the unlock rules against the note's unit cases (sections 10.6 and 11)."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import numpy as np
import pytest

from gateway.core.budget import Budget
from gateway.core.scheduling import Group, PolicySettings, make_policy
from gateway.core.scheduling.dpack import DPackPolicy, relevance
from gateway.core.scheduling.dpf import DpfNPolicy, DpfTPolicy
from gateway.core.scheduling.fcfs import FcfsPolicy
from gateway.core.scheduling.round_robin import RoundRobinPolicy, water_fill
from gateway.core.scheduling.unlocking import OverLifetime, PerArrival
from gateway.errors import GatewayValidationError
from gateway.simulation.accounts import ArrayAccounts
from tests.core.scheduling.test_dpf_n import T0, Req, Sim, eps


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_privatekube_dpf_t_case():
    # test/dpf_t_test.go: εG=3 per block released over 15 s (ticks every 5 s); the fairness demands x100
    sim = Sim(DpfTPolicy(lifetime=15), [Budget.capacity(3), Budget.capacity(3)])
    for i, d in enumerate(((0.5, 1.5), (1, 1), (1.6, 1)), 1):
        demands = {sim.keys[0]: eps(d[0]), sim.keys[1]: eps(d[1])}
        sim.pending.append(Req(f"c{i}", at(0) + dt.timedelta(microseconds=i), demands))
    assert sim.schedule(at(0)) == ([], {})  # no unlock on arrival
    assert sim.schedule(at(5))[0] == ["c2"]  # 1 unlocked per block
    assert sim.schedule(at(10))[0] == []  # (1, 1) left: c1 needs 1.5 on block 2
    admitted, rejected = sim.schedule(at(15))  # all released: c1 (DS 0.5) before c3 (DS 0.53)
    assert admitted == ["c1"]
    assert list(rejected) == ["c3"]  # 1.5 < 1.6 left on a retired block: Go times it out at 20 s; we reject now
    assert [sim.blocks[k].unlocked for k in sim.keys] == [eps(1.5), eps(0.5)]


def test_unlock_rules_release_exact_fractions():
    assert PerArrival(4).after_arrival(1) == (Fraction(1, 4), False)
    assert PerArrival(4).after_arrival(4) == (1, True)
    linear = OverLifetime(30)
    assert linear.at(15) == (0.5, False) and linear.at(30) == (1, True) and linear.at(-1) == (0, False)
    steps = OverLifetime(30, steps=3)
    assert [steps.at(t)[0] for t in (9.99, 10, 29, 30)] == [0, Fraction(1, 3), Fraction(2, 3), 1]


def test_dpf_n_unlock_moves_fair_share_then_retires():
    policy = DpfNPolicy(n=3)
    sim = Sim(policy, [Budget.capacity(1)])
    block = sim.blocks[sim.keys[0]]
    for i in range(1, 4):
        block = policy.on_arrival(block)
        assert block.unlocked == (Budget.capacity(1).divided_by(3) if i == 1 else block.unlocked)
    assert block.unlocked == Budget.capacity(1) and block.retired


def _one_block_rdp(cap=(1.0, 1.0)) -> ArrayAccounts:
    acc = ArrayAccounts(2, rdp=True)
    acc.add_block(cap, 0.0)
    acc.release(0, 1, True)
    return acc


def _worked_example() -> tuple[list[Group], dict[int, str]]:
    groups, names = [], {}
    for i, d in enumerate([(0.3, 0.6), (0.3, 0.6), (0.3, 0.6), (0.55, 0.2)], 1):
        g = Group((0,), (np.array(d),))
        g.members.append((float(i), i))
        groups.append(g)
        names[i] = f"t{i}"
    return groups, names


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (DPackPolicy(lifetime=1, steps=1), ["t1", "t2", "t3"]),
        (DpfNPolicy(n=1), ["t4", "t1"]),
        (FcfsPolicy(), ["t1", "t2", "t3"]),
    ],
)
def test_dpack_worked_example(policy, expected):
    """Note 10.6: one block (1.0, 1.0) at two orders; DPack packs 3 tasks, DPF 2, FCFS 3."""
    groups, names = _worked_example()
    acc = _one_block_rdp()
    result = policy.admit(groups, acc)
    assert [names[m[1]] for _, m in result.admitted] == expected


def test_dpack_relevance_picks_the_order_that_packs_most():
    groups, _ = _worked_example()
    rel = relevance(groups, _one_block_rdp())
    assert rel[0] == [1.0, 0.0]  # alpha 1 fits 3 tasks, alpha 2 only 2


def test_water_fill_is_max_min_fair():
    assert water_fill(1.0, [0.2, 0.5, 0.5]) == pytest.approx([0.2, 0.4, 0.4])
    assert water_fill(2.0, [0.2, 0.5]) == [0.2, 0.5]
    assert sum(water_fill(0.3, [1, 1, 1])) == pytest.approx(0.3)


def test_round_robin_grants_when_every_accumulator_is_full():
    sim = Sim(RoundRobinPolicy(n=4), [Budget.capacity(1)])
    assert sim.arrive({0: eps(0.5)}) == ([], {})  # 0.25 unlocked, accumulated by c1
    assert sim.blocks[sim.keys[0]].held == {"c1": eps(0.25)}
    admitted, _ = sim.arrive({0: eps(0.1)})  # 0.25 more, split max-min: c2 gets its 0.1, c1 0.15
    assert admitted == ["c2"] and sim.blocks[sim.keys[0]].held == {"c1": eps(0.4)}
    assert sim.arrive({0: eps(0.2)})[0] == ["c1"]  # 0.25 more: c1 takes its last 0.1, c3 gets 0.15 of 0.2
    assert sim.blocks[sim.keys[0]].held == {"c3": eps(0.15)}
    assert sim.blocks[sim.keys[0]].allocated == eps(0.75)


def test_settings_select_every_policy_by_name():
    assert make_policy(PolicySettings(policy="dpf-t", lifetime="30d")) == DpfTPolicy(lifetime=30 * 86400)
    assert make_policy(PolicySettings(policy="rr-n", n=5)).name == "rr-n"
    assert make_policy(PolicySettings(policy="rr-t", lifetime="12h")).name == "rr-t"
    assert make_policy(PolicySettings(policy="dpack", n=100, lifetime=30)) == DPackPolicy(30.0, steps=100)
    with pytest.raises(GatewayValidationError, match="needs a data lifetime"):
        PolicySettings(policy="dpf-t")
    with pytest.raises(GatewayValidationError, match="not a duration"):
        PolicySettings(policy="dpf-t", lifetime="soon")
    with pytest.raises(GatewayValidationError, match="unknown scheduling policy"):
        PolicySettings(policy="lottery")


def test_settings_summary_names_only_what_the_policy_uses():
    assert PolicySettings(policy="fcfs", n=10).summary() == "fcfs"
    assert PolicySettings(policy="dpf-n", n=100).summary() == "dpf-n, N=100"
    assert PolicySettings(policy="dpf-t", lifetime="1h").summary() == "dpf-t, lifetime 3600s"
    assert PolicySettings(policy="dpack", n=4, lifetime=60).summary() == "dpack, N=4, lifetime 60s"


def test_weighted_dpf_divides_shares_by_weight():
    acc = ArrayAccounts(1, rdp=False)
    acc.add_block([1.0], 0.0)
    acc.release(0, 1, True)
    small, big = Group((0,), (np.array([0.4]),)), Group((0,), (np.array([0.7]),), weight=2.0)
    small.members.append((1.0, "small"))
    big.members.append((2.0, "big"))
    result = DpfNPolicy(n=1).admit([small, big], acc)
    assert [m[1] for _, m in result.admitted] == ["big"]  # share 0.7/2 < 0.4: the heavier claim goes first
