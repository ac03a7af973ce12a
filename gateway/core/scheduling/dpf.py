"""DPF: Dominant Private Block Fairness (PrivateKube, OSDI'21, Alg. 1-3), unlocking per arrival (N) or over time (T).

Claims are tried in ascending dominant share (max over blocks and budget dimensions of demand/capacity),
ties broken by the next-largest share, then arrival order; each claim that fits on all its blocks is
admitted (note sections 3-5). Weighted DPF divides every share by the claim's weight (note 10.4).
``order="heap_array"`` reproduces the artifact simulator's heap-array walk instead (quirk Q1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.core.scheduling.accounts import Accounts, D, Group, K
from gateway.core.scheduling.admission import GroupKey, GroupPass, greedy_pass
from gateway.core.scheduling.policy import BlockSteps, Order, PolicySettings, register
from gateway.core.scheduling.unlocking import OverLifetime, PerArrival, UnlockRule


def dominant_share_key(accounts: Accounts[K, D]) -> GroupKey[K, D]:
    def key(group: Group[K, D]) -> tuple[Any, ...]:
        if group.static_key is None:  # capacities never change, so neither do shares
            shares = accounts.shares(group.blocks, group.demands)
            if group.weight != 1:
                shares = tuple(s / group.weight for s in shares)
            group.static_key = shares
        return group.static_key

    return key


@dataclass(frozen=True)
class DpfNPolicy(BlockSteps):
    n: int
    include_delta_in_share: bool = False
    order: Order = "sorted"
    name: str = "dpf-n"
    batched: bool = False
    holds_budget: bool = False

    @property
    def unlock(self) -> UnlockRule:  # type: ignore[override]
        return PerArrival(self.n)

    def admit(self, groups: Sequence[Group[K, D]], accounts: Accounts[K, D]) -> GroupPass[K, D]:
        return greedy_pass(groups, accounts, dominant_share_key(accounts), order=self.order)


@dataclass(frozen=True)
class DpfTPolicy(BlockSteps):
    lifetime: float
    include_delta_in_share: bool = False
    order: Order = "sorted"
    name: str = "dpf-t"
    batched: bool = False
    holds_budget: bool = False

    @property
    def unlock(self) -> UnlockRule:  # type: ignore[override]
        return OverLifetime(self.lifetime)

    def admit(self, groups: Sequence[Group[K, D]], accounts: Accounts[K, D]) -> GroupPass[K, D]:
        return greedy_pass(groups, accounts, dominant_share_key(accounts), order=self.order)


@register("dpf-n")
def _dpf_n(settings: PolicySettings) -> DpfNPolicy:
    return DpfNPolicy(n=settings.n, include_delta_in_share=settings.include_delta_in_share, order=settings.order)


@register("dpf-t")
def _dpf_t(settings: PolicySettings) -> DpfTPolicy:
    return DpfTPolicy(
        settings.lifetime_seconds(), include_delta_in_share=settings.include_delta_in_share, order=settings.order
    )
