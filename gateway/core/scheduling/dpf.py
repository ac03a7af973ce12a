"""DPF-N: Dominant Private Block Fairness with unlocking per arrival (PrivateKube, OSDI'21, Alg. 1).

Each claim arriving on a block unlocks εG/N of it (the fair share), moving ``min(εG/N, locked)`` from
locked to unlocked; the N-th arrival unlocks the rest and retires the block. Claims are tried in
ascending dominant share (max over blocks of demand/capacity), ties broken by the next-largest share,
then arrival order (see ../shared/notes/scheduling-dpf.md, sections 3 and 7).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.core.scheduling.policy import PolicySettings, Request, register


def share(demand: Budget, capacity: Budget, include_delta: bool) -> Decimal:
    """A claim's share of one block; δ counts only when asked (the paper schedules ε alone)."""
    value = demand.epsilon / capacity.epsilon
    if include_delta and capacity.delta > 0:
        value = max(value, demand.delta / capacity.delta)
    return value


@dataclass(frozen=True)
class DpfNPolicy:
    n: int
    include_delta_in_share: bool = False
    name: str = "dpf-n"

    def initial_block(self, capacity: Budget) -> tuple[Budget, bool]:
        return Budget(), False

    def on_arrival(self, block: Block) -> Block:
        arrivals = block.arrivals + 1
        if block.retired:
            return replace(block, arrivals=arrivals)
        if arrivals >= self.n:
            released, retired = block.locked, True
        else:
            released, retired = block.capacity.divided_by(self.n).min(block.locked), False
        return replace(block, arrivals=arrivals, unlocked=block.unlocked + released, retired=retired)

    def sort_key(self, request: Request, blocks: Mapping[str, Block]) -> tuple[Any, ...]:
        shares = sorted(
            (share(d, blocks[k].capacity, self.include_delta_in_share) for k, d in request.demands().items()),
            reverse=True,
        )
        return (tuple(shares), request.submitted_at, request.id)


@register("dpf-n")
def _dpf_n(settings: PolicySettings) -> DpfNPolicy:
    return DpfNPolicy(n=settings.n, include_delta_in_share=settings.include_delta_in_share)
