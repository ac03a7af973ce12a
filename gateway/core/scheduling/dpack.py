"""DPack: the efficiency-oriented packing heuristic (Tholoniat et al., arXiv 2212.13228; note section 10).

Per block and budget dimension alpha, a unit-profit knapsack over the whole pending queue counts how many
demands fit in the available budget (greedy by increasing demand, exact for unit profits); the best alpha
of each block (all ties kept) is the one that packs the most. A claim costs the sum of its demands at
those alpha normalised by the available budget, and claims are tried by descending weight/cost. Budget is
unlocked in N steps over the lifetime and passes run in batches on clock ticks, as in the artifact; the
relevance is computed once per pass (the artifact also recomputes it after every 50 grants).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.core.scheduling.accounts import Accounts, D, Group, K
from gateway.core.scheduling.admission import GroupKey, GroupPass, greedy_pass
from gateway.core.scheduling.policy import BlockSteps, PolicySettings, register
from gateway.core.scheduling.unlocking import OverLifetime, UnlockRule


def _packed_count(items: list[tuple[float, int]], budget: float) -> int:
    """How many of the smallest demands fit in ``budget`` (items: (demand, multiplicity))."""
    count, left = 0, budget
    for demand, times in sorted(items):
        if demand <= 0:
            count += times
            continue
        take = min(times, math.floor(left / demand + 1e-12))
        count += take
        left -= take * demand
        if take < times:
            break
    return count


def relevance(groups: Sequence[Group[K, D]], accounts: Accounts[K, D]) -> dict[K, list[float]]:
    """Rel[j][alpha] = 1/available at each block's best alpha (ties kept), 0 elsewhere or where nothing is available."""
    items: dict[K, list[tuple[Sequence[float], int]]] = defaultdict(list)
    for group in groups:
        for block, demand in zip(group.blocks, group.demands, strict=True):
            items[block].append((accounts.vector(demand), len(group.members)))
    rel: dict[K, list[float]] = {}
    for block, queue in items.items():
        available = accounts.available(block)
        values = [
            _packed_count([(d[a], c) for d, c in queue], avail) if avail > 0 else 0 for a, avail in enumerate(available)
        ]
        best = max(values)
        rel[block] = [1 / avail if v == best and avail > 0 else 0.0 for v, avail in zip(values, available, strict=True)]
    return rel


def efficiency_key(groups: Sequence[Group[K, D]], accounts: Accounts[K, D]) -> GroupKey[K, D]:
    rel = relevance(groups, accounts)

    def key(group: Group[K, D]) -> tuple[Any, ...]:
        cost = sum(
            sum(d * r for d, r in zip(accounts.vector(demand), rel[block], strict=True))
            for block, demand in zip(group.blocks, group.demands, strict=True)
        )
        return (-(group.weight / cost) if cost > 0 else -math.inf,)

    return key


@dataclass(frozen=True)
class DPackPolicy(BlockSteps):
    lifetime: float
    steps: int
    include_delta_in_share: bool = False
    name: str = "dpack"
    batched: bool = True
    holds_budget: bool = False

    @property
    def unlock(self) -> UnlockRule:  # type: ignore[override]
        return OverLifetime(self.lifetime, steps=self.steps)

    def admit(self, groups: Sequence[Group[K, D]], accounts: Accounts[K, D]) -> GroupPass[K, D]:
        return greedy_pass(groups, accounts, efficiency_key(groups, accounts))


@register("dpack")
def _dpack(settings: PolicySettings) -> DPackPolicy:
    return DPackPolicy(settings.lifetime_seconds(), steps=settings.n)
