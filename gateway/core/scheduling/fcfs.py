"""First come, first served: every block's budget is available at once; claims in arrival order.

Blocks start retired (nothing more will ever be unlocked), so a claim that does not fit when its turn
comes is rejected instead of waiting: the baseline the DPF paper compares against (note 6.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.core.scheduling.accounts import Accounts, D, Group, K
from gateway.core.scheduling.admission import GroupPass, greedy_pass
from gateway.core.scheduling.policy import BlockSteps, PolicySettings, register
from gateway.core.scheduling.unlocking import UnlockRule, Upfront


def _arrival_only(group: Group[Any, Any]) -> tuple[Any, ...]:
    return ()


@dataclass(frozen=True)
class FcfsPolicy(BlockSteps):
    include_delta_in_share: bool = False
    name: str = "fcfs"
    batched: bool = False
    holds_budget: bool = False

    @property
    def unlock(self) -> UnlockRule:  # type: ignore[override]
        return Upfront()

    def admit(self, groups: Sequence[Group[K, D]], accounts: Accounts[K, D]) -> GroupPass[K, D]:
        return greedy_pass(groups, accounts, _arrival_only)


@register("fcfs")
def _fcfs(settings: PolicySettings) -> FcfsPolicy:
    return FcfsPolicy()
