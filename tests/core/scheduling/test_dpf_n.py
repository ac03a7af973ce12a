"""DPF-N against the paper's worked example, PrivateKube's fairness test, and its invariants."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.blocks import Block, new_blocks
from gateway.core.budget import Budget
from gateway.core.scheduling import PolicySettings, make_policy, run_pass
from gateway.core.scheduling.dpf import DpfNPolicy
from gateway.core.scheduling.fcfs import FcfsPolicy

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass
class Req:
    id: str
    submitted_at: dt.datetime
    d: dict[str, Budget] = field(default_factory=dict)

    def demands(self) -> dict[str, Budget]:
        return self.d


class Sim:
    """Arrivals then a pass, as the ledger does on every submission."""

    def __init__(self, policy, capacities: list[Budget]):
        self.policy = policy
        self.now = T0
        self.blocks: dict[str, Block] = {}
        for i, cap in enumerate(capacities):
            unlocked, retired = policy.initial_block(cap)
            (b,) = new_blocks("d", [dt.date(2026, 1, 1) + dt.timedelta(days=i)], cap, unlocked)
            self.blocks[b.key] = Block(
                b.dataset, b.day, cap, unlocked, b.allocated, b.consumed, retired=retired, created_at=T0
            )
        self.keys = list(self.blocks)
        self.pending: list[Req] = []
        self.granted: list[str] = []
        self.rejected: dict[str, str] = {}
        self.n = 0

    def arrive(self, demands: dict[int, Budget]) -> tuple[list[str], dict[str, str]]:
        self.n += 1
        self.now = T0 + dt.timedelta(seconds=self.n)
        req = Req(f"c{self.n}", self.now, {self.keys[j]: d for j, d in demands.items()})
        for key in req.d:
            self.blocks[key] = self.policy.on_arrival(self.blocks[key])
        self.pending.append(req)
        return self.schedule()

    def schedule(self, at: dt.datetime | None = None) -> tuple[list[str], dict[str, str]]:
        """What ``ledger.schedule`` does: apply the clock's unlocks, then one pass."""
        self.now = at or self.now
        self.blocks = {k: self.policy.on_clock(b, self.now) for k, b in self.blocks.items()}
        out = run_pass(self.pending, self.blocks, self.policy)
        self.blocks.update(out.blocks)
        self.granted += out.admitted
        self.rejected.update(out.rejected)
        done = set(out.admitted) | set(out.rejected)
        self.pending = [r for r in self.pending if r.id not in done]
        return out.admitted, out.rejected


def eps(x) -> Budget:
    return Budget.demand(x)


def test_paper_figure_4_worked_example():
    sim = Sim(DpfNPolicy(n=10), [Budget.capacity(10), Budget.capacity(10)])  # fair share 1 per block
    assert sim.arrive({0: eps(0.5), 1: eps(1.5)}) == ([], {})  # P1: block 2 has only 1 unlocked
    assert sim.arrive({0: eps(1), 1: eps(1)}) == (["c2"], {})  # P2: DS 0.1 < P1's 0.15
    # P3 ties P1 on the dominant share; P1's second share (0.05) is smaller than P3's (0.1)
    assert sim.arrive({0: eps(1.5), 1: eps(1)}) == (["c1"], {})
    assert [sim.blocks[k].unlocked for k in sim.keys] == [eps(1.5), eps(0.5)]
    assert [r.id for r in sim.pending] == ["c3"]


def test_privatekube_fairness_case():
    # system/dpfscheduler/pkg/scheduler/test/fairness_test.go: N=100, εG=1.01 per block
    sim = Sim(DpfNPolicy(n=100), [Budget.capacity("1.01"), Budget.capacity("1.01")])
    sim.arrive({0: eps(0.005), 1: eps(0.015)})
    sim.arrive({0: eps(0.01), 1: eps(0.01)})
    sim.arrive({0: eps(0.016), 1: eps(0.01)})
    assert sim.granted == ["c2", "c1"]
    assert [r.id for r in sim.pending] == ["c3"]  # 0.0153 unlocked on block 0, below 0.016: it waits


def test_single_block_grants_exactly_capacity_over_demand_of_mice():
    for policy in (DpfNPolicy(n=100), FcfsPolicy()):
        sim = Sim(policy, [Budget.capacity(1)])
        for _ in range(150):
            sim.arrive({0: eps(0.01)})
        assert len(sim.granted) == 100, policy.name
        assert sim.blocks[sim.keys[0]].allocated == Budget.capacity(1)


def test_fair_demand_is_granted_on_arrival():
    """Theorem 1: a claim asking at most εG/N on each block, among the first N, is granted at once."""
    sim = Sim(DpfNPolicy(n=4), [Budget.capacity(1)] * 3)
    sim.arrive({0: eps(0.9), 1: eps(0.9)})  # an elephant waits
    for j in (0, 1, 2):
        admitted, _ = sim.arrive({j: eps(0.25)})
        assert admitted == [f"c{sim.n}"]


def test_retired_block_rejects_hopeless_claims():
    sim = Sim(DpfNPolicy(n=2), [Budget.capacity(1)])
    sim.arrive({0: eps(0.4)})
    _, rejected = sim.arrive({0: eps(0.7)})  # 2nd arrival unlocks everything: 0.6 left < 0.7
    assert "c2" in rejected and "released all its budget" in rejected["c2"]


def test_fcfs_rejects_what_does_not_fit_and_never_waits():
    sim = Sim(FcfsPolicy(), [Budget.capacity(1)])
    assert sim.arrive({0: eps(0.6)})[0] == ["c1"]
    assert list(sim.arrive({0: eps(0.6)})[1]) == ["c2"]
    assert sim.arrive({0: eps(0.4)})[0] == ["c3"]


def test_policy_registry():
    assert make_policy(PolicySettings(policy="dpf-n", n=7)) == DpfNPolicy(n=7)
    assert make_policy(PolicySettings(policy="fcfs")).name == "fcfs"


amounts = st.decimals(min_value="0.01", max_value="1.5", places=2).map(Budget.demand)
arrivals = st.lists(st.dictionaries(st.integers(0, 3), amounts, min_size=1, max_size=4), min_size=1, max_size=40)


ALL_POLICIES = ["dpf-n", "dpf-t", "fcfs", "rr-n", "rr-t", "dpack"]


@settings(max_examples=200, deadline=None)
@given(
    arrivals=arrivals,
    n=st.integers(1, 12),
    lifetime=st.integers(1, 30),
    policy=st.sampled_from(ALL_POLICIES),
    heap_array=st.booleans(),
)
def test_invariants_hold_after_every_arrival(arrivals, n, lifetime, policy, heap_array):
    """The exact ledger accounts, every policy (DPF also in the artifact's heap-array order, Q1): no negative
    account, allocated = granted (+ RR holdings)."""
    order = "heap_array" if heap_array and policy.startswith("dpf") else "sorted"
    policy_settings = PolicySettings(policy=policy, n=n, lifetime=lifetime, order=order)
    sim = Sim(make_policy(policy_settings), [Budget.capacity(1)] * 4)
    demanded: dict[str, dict[str, Budget]] = {}
    for demands in arrivals:
        sim.arrive(demands)
        demanded[f"c{sim.n}"] = {sim.keys[j]: d for j, d in demands.items()}
        for key, block in sim.blocks.items():
            block.check()  # no negative account
            granted = sum((demanded[c].get(key, Budget()) for c in sim.granted), Budget())
            held = sum(block.held.values(), Budget())
            assert not set(block.held) & (set(sim.granted) | set(sim.rejected))
            assert block.allocated == granted + held  # all-or-nothing: exactly the granted demands
            assert granted.fits_in(block.capacity)
        assert len(set(sim.granted)) == len(sim.granted)
        assert not set(sim.granted) & set(sim.rejected)
        for claim_id, reason in sim.rejected.items():
            assert any(sim.blocks[k].retired for k in demanded[claim_id]), reason
