"""First come, first served: every block's budget is available at once; claims in arrival order.

Blocks start retired (nothing more will ever be unlocked), so a claim that does not fit when its turn
comes is rejected instead of waiting: the baseline the DPF paper compares against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.core.scheduling.policy import PolicySettings, Request, register


@dataclass(frozen=True)
class FcfsPolicy:
    name: str = "fcfs"

    def initial_block(self, capacity: Budget) -> tuple[Budget, bool]:
        return capacity, True

    def on_arrival(self, block: Block) -> Block:
        return replace(block, arrivals=block.arrivals + 1)

    def sort_key(self, request: Request, blocks: Mapping[str, Block]) -> tuple[Any, ...]:
        return (request.submitted_at, request.id)


@register("fcfs")
def _fcfs(settings: PolicySettings) -> FcfsPolicy:
    return FcfsPolicy()
