"""The ``Accounts`` port over the ledger's exact Decimal ``Block`` records (basic composition).

Admission compares exact quantized budgets (ε and δ both must fit, so δ always composes safely); the
dominant share counts δ only when asked (note §8, Q3). Unlock fractions become Decimal amounts rounded
down, so released budget never exceeds the capacity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

from gateway.core.blocks import Block
from gateway.core.budget import Budget, quantize_down


def _times(value: Decimal, fraction: Fraction | float) -> Decimal:
    if isinstance(fraction, Fraction):
        return quantize_down(value * fraction.numerator / fraction.denominator)
    return quantize_down(value * Decimal(fraction))


def release(block: Block, fraction: Fraction | float, retired: bool) -> Block:
    """Bring the block's released budget (capacity - locked) up to ``fraction`` of its capacity."""
    cap = block.capacity
    if fraction >= 1:
        target = cap
    else:
        target = Budget(_times(cap.epsilon, fraction), _times(cap.delta, fraction))
    released = cap - block.locked
    step = Budget(max(target.epsilon - released.epsilon, Decimal(0)), max(target.delta - released.delta, Decimal(0)))
    if step.is_zero() and retired == block.retired:
        return block
    return replace(block, unlocked=block.unlocked + step, retired=block.retired or retired)


def share(demand: Budget, capacity: Budget, include_delta: bool) -> Decimal:
    """A claim's share of one block; δ counts only when asked (the paper schedules ε alone)."""
    value = demand.epsilon / capacity.epsilon
    if include_delta and capacity.delta > 0:
        value = max(value, demand.delta / capacity.delta)
    return value


class BlockAccounts:
    """A working copy of the ledger's blocks that a pass mutates; ``changed`` lists what to write."""

    def __init__(self, blocks: Mapping[str, Block], include_delta_in_share: bool = False) -> None:
        self._original = blocks
        self.blocks = dict(blocks)
        self.include_delta_in_share = include_delta_in_share

    def shares(self, blocks: Sequence[str], demands: Sequence[Budget]) -> tuple[Decimal, ...]:
        values = (
            share(d, self.blocks[k].capacity, self.include_delta_in_share) for k, d in zip(blocks, demands, strict=True)
        )
        return tuple(sorted(values, reverse=True))

    def fits(self, blocks: Sequence[str], demands: Sequence[Budget]) -> bool:
        return all(d.fits_in(self.blocks[k].unlocked) for k, d in zip(blocks, demands, strict=True))

    def fits_block(self, block: str, demand: Budget) -> bool:
        return demand.fits_in(self.blocks[block].unlocked)

    def allocate(self, blocks: Sequence[str], demands: Sequence[Budget]) -> None:
        for key, demand in zip(blocks, demands, strict=True):
            block = self.blocks[key]
            self.blocks[key] = replace(block, unlocked=block.unlocked - demand, allocated=block.allocated + demand)

    def is_retired(self, block: str) -> bool:
        return self.blocks[block].retired

    def available(self, block: str) -> tuple[float, ...]:
        return (float(self.blocks[block].unlocked.epsilon),)

    def vector(self, demand: Budget) -> tuple[float, ...]:
        return (float(demand.epsilon),)

    def changed(self) -> dict[str, Block]:
        return {k: b.check() for k, b in self.blocks.items() if b != self._original[k]}
