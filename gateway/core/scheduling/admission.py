"""One admission pass, shared by every policy: best effort, all-or-nothing, no head-of-line blocking."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.core.scheduling.policy import Request, SchedulingPolicy


@dataclass
class PassOutcome:
    admitted: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)  # claim id -> reason
    blocks: dict[str, Block] = field(default_factory=dict)  # the blocks that changed


def infeasible_reason(demands: Mapping[str, Budget], blocks: Mapping[str, Block]) -> str | None:
    """Why a claim can never run whatever the policy does (demand above a block's capacity)."""
    for key, demand in demands.items():
        capacity = blocks[key].capacity
        if not demand.fits_in(capacity):
            return f"demand {demand} exceeds the capacity {capacity} of block {key}; it can never run"
    return None


def hopeless_reason(demands: Mapping[str, Budget], blocks: Mapping[str, Block]) -> str | None:
    """A retired block never unlocks more, so a claim it cannot serve now will never be served."""
    for key, demand in demands.items():
        block = blocks[key]
        if block.retired and not demand.fits_in(block.unlocked):
            return (
                f"block {key} has released all its budget and only {block.unlocked} is left "
                f"unallocated, below the demand {demand}"
            )
    return None


def run_pass(pending: Iterable[Request], blocks: Mapping[str, Block], policy: SchedulingPolicy) -> PassOutcome:
    """Try pending claims in the policy's order; admit each one whose demand fits on all its blocks."""
    work = dict(blocks)
    outcome = PassOutcome()
    waiting: list[Request] = []
    for request in sorted(pending, key=lambda r: policy.sort_key(r, blocks)):
        demands = request.demands()
        if all(d.fits_in(work[k].unlocked) for k, d in demands.items()):
            for key, demand in demands.items():
                block = work[key]
                work[key] = replace(block, unlocked=block.unlocked - demand, allocated=block.allocated + demand)
            outcome.admitted.append(request.id)
        else:
            waiting.append(request)
    for request in waiting:
        reason = hopeless_reason(request.demands(), work)
        if reason is not None:
            outcome.rejected[request.id] = reason
    outcome.blocks = {
        key: block.check()
        for key, block in work.items()
        if block != blocks[key]
    }
    return outcome
