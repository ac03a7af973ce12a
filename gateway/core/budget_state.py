"""One definition of a block's budget state, shared by the CLI, the API and the dashboard.

A block is *out of budget* when nothing is left to grant in a dimension it has (ε, or δ when its
capacity has δ), *nearly exhausted* when less than ``NEARLY_EXHAUSTED`` of a dimension's capacity is
left, and has *enough* otherwise. "Left" is ``remaining`` = capacity - allocated - consumed (locked +
unlocked): budget no job holds yet, whether or not the policy has released it. ``retired`` is
reported beside the state: the policy has released everything it ever will on that block.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from gateway.core.blocks import Block
from gateway.core.budget import Budget

NEARLY_EXHAUSTED = Decimal("0.10")  # below 10 % of capacity left


class BudgetState(StrEnum):
    ENOUGH = "enough"
    NEARLY_EXHAUSTED = "nearly exhausted"
    OUT_OF_BUDGET = "out of budget"


def remaining_fraction(block: Block) -> Decimal:
    """The smallest share of capacity left over the dimensions the block has (ε always, δ if > 0)."""
    left = block.remaining
    if block.capacity.curve is not None:  # rdp: the best order (a demand needs to fit at one order only)
        pairs = zip(left.curve or (Decimal(0),) * len(block.capacity.curve), block.capacity.curve, strict=True)
        best = max((r / c for r, c in pairs if c > 0), default=Decimal(0))
        return max(Decimal(0), best)
    fractions = [left.epsilon / block.capacity.epsilon]
    if block.capacity.delta > 0:
        fractions.append(left.delta / block.capacity.delta)
    return max(Decimal(0), min(fractions))


def block_state(block: Block) -> BudgetState:
    left = block.remaining
    if block.capacity.curve is not None:
        if remaining_fraction(block) <= 0:
            return BudgetState.OUT_OF_BUDGET
    elif left.epsilon <= 0 or (block.capacity.delta > 0 and left.delta <= 0):
        return BudgetState.OUT_OF_BUDGET
    if remaining_fraction(block) < NEARLY_EXHAUSTED:
        return BudgetState.NEARLY_EXHAUSTED
    return BudgetState.ENOUGH


def account_fraction(amount: Budget, capacity: Budget) -> Decimal:
    """An account's share of the capacity, for pictures: ε, or under rdp the order with the largest capacity."""
    if capacity.curve is None:
        return amount.epsilon / capacity.epsilon if capacity.epsilon > 0 else Decimal(0)
    values = amount.aligned_with(capacity)[0]
    best = max(range(len(capacity.curve)), key=lambda i: capacity.curve[i] if capacity.curve else 0)
    top = capacity.curve[best]
    return values[best] / top if top > 0 else Decimal(0)
