"""The ``Accounts`` port over the ledger's exact Decimal ``Block`` records (basic composition or RDP curves).

Under rdp accounting every amount is a curve over the ledger's alpha grid and a demand fits a block when
it fits its unlocked curve at *some* order (``Budget.admissible_in``); allocation deducts at every order.

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

_NEARLY = 1e-12


def _times(value: Decimal, fraction: Fraction | float) -> Decimal:
    if isinstance(fraction, Fraction):
        return quantize_down(value * fraction.numerator / fraction.denominator)
    return quantize_down(value * Decimal(fraction))


def release(block: Block, fraction: Fraction | float, retired: bool) -> Block:
    """Bring the block's released budget (capacity - locked) up to ``fraction`` of its capacity."""
    cap = block.capacity
    if fraction >= 1:
        target = cap
    elif cap.curve is not None:  # rdp: the fraction applies per order
        target = Budget(curve=tuple(_times(x, fraction) for x in cap.curve))
    else:
        target = Budget(_times(cap.epsilon, fraction), _times(cap.delta, fraction))
    released = cap - block.locked
    step = (target - released).clipped()
    if step.is_zero() and retired == block.retired:
        return block
    return replace(block, unlocked=block.unlocked + step, retired=block.retired or retired)


def share(demand: Budget, capacity: Budget, include_delta: bool) -> Decimal:
    """A claim's share of one block; δ counts only when asked (the paper schedules ε alone).

    RDP: the share at the block's best order, min over orders with capacity > 0 of demand/capacity
    (PrivateKube's dominant share under Rényi accounting).
    """
    if capacity.curve is not None:
        demand_curve = demand.aligned_with(capacity)[0]
        ratios = [d / c for d, c in zip(demand_curve, capacity.curve, strict=True) if c > 0]
        return min(ratios) if ratios else Decimal("Infinity")
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
        """All or nothing across blocks; per block every dimension (basic) or some order (rdp)."""
        return all(d.admissible_in(self.blocks[k].unlocked) for k, d in zip(blocks, demands, strict=True))

    def fits_block(self, block: str, demand: Budget) -> bool:
        return demand.admissible_in(self.blocks[block].unlocked)

    def allocate(self, blocks: Sequence[str], demands: Sequence[Budget]) -> None:
        for key, demand in zip(blocks, demands, strict=True):
            block = self.blocks[key]
            self.blocks[key] = replace(block, unlocked=block.unlocked - demand, allocated=block.allocated + demand)

    def is_retired(self, block: str) -> bool:
        return self.blocks[block].final

    def available(self, block: str) -> tuple[float, ...]:
        b = self.blocks[block]
        if b.capacity.curve is not None:  # an empty account may still be the zero pair: read it as a curve
            return tuple(float(x) for x in b.unlocked.aligned_with(b.capacity)[0])
        return (float(b.unlocked.epsilon),)

    def vector(self, demand: Budget) -> tuple[float, ...]:
        if demand.curve is not None:
            return tuple(float(x) for x in demand.curve)
        return (float(demand.epsilon),)

    # round robin: accumulators live in the block's ``held`` map and already count as allocated

    def residual(self, block: str) -> float:
        return float(self.blocks[block].unlocked.epsilon)

    def need(self, block: str, claim: str, demand: Budget) -> float:
        """The epsilon still missing, or its delta counterpart if delta lags behind (both fill in proportion)."""
        held = self.blocks[block].held.get(claim, Budget())
        missing = demand - held
        lag = missing.delta / demand.delta * demand.epsilon if demand.delta > 0 else Decimal(0)
        value = max(missing.epsilon, lag)
        return max(float(value), 2 * _NEARLY) if value > 0 else 0.0  # exact: never "met" while anything is missing

    def hold(self, block: str, claim: str, demand: Budget, amount: float) -> None:
        b = self.blocks[block]
        held = b.held.get(claim, Budget())
        missing = demand - held
        eps = min(missing.epsilon, quantize_down(Decimal(repr(amount))))
        if missing.epsilon - eps <= Decimal(_NEARLY):  # float water-filling rounds: give the exact rest
            eps = missing.epsilon
        eps = min(eps, b.unlocked.epsilon)
        if missing.epsilon > 0 and eps < missing.epsilon:
            dlt = quantize_down(missing.delta * eps / missing.epsilon)
        else:
            dlt = missing.delta
        give = Budget(eps, min(dlt, b.unlocked.delta))
        if give.is_zero():
            return
        self.blocks[block] = replace(
            b,
            unlocked=b.unlocked - give,
            allocated=b.allocated + give,
            held={**b.held, claim: held + give},
        )

    def complete(self, blocks: Sequence[str], claim: str) -> None:
        for key in blocks:
            b = self.blocks[key]
            self.blocks[key] = replace(b, held={c: a for c, a in b.held.items() if c != claim})

    def forget(self, blocks: Sequence[str], claim: str) -> None:
        """Give a leaving claim's accumulations back to the unlocked budget."""
        for key in blocks:
            b = self.blocks[key]
            held = b.held.get(claim)
            if held is not None:
                rest = {c: a for c, a in b.held.items() if c != claim}
                self.blocks[key] = replace(b, unlocked=b.unlocked + held, allocated=b.allocated - held, held=rest)

    def changed(self) -> dict[str, Block]:
        return {k: b.check() for k, b in self.blocks.items() if b != self._original[k]}
