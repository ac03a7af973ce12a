"""The ``Accounts`` port over float arrays: one row per block, one column per budget dimension.

Basic composition uses one column (epsilon, plus delta when it counts as a resource); RDP uses one
column per order alpha and the "exists alpha per block" rule. Floats are fine here because the simulator
only measures policies; a tolerance absorbs the rounding of N equal unlocks (the artifact's 1e-8 for
basic composition, none for RDP). The ledger keeps exact Decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np


class ArrayAccounts:
    def __init__(self, dims: int, rdp: bool, tolerance: float | None = None) -> None:
        self.rdp = rdp
        self.tolerance = (0.0 if rdp else 1e-8) if tolerance is None else tolerance
        self.capacity = np.zeros((0, dims))
        self.unlocked = np.zeros((0, dims))
        self.used = np.zeros((0, dims))  # allocated + consumed: the simulator commits on grant
        self.released = np.zeros((0, dims))  # capacity - locked
        self.retired: list[bool] = []
        self.arrivals: list[int] = []
        self.created: list[float] = []
        self.held: dict[tuple[int, object], float] = {}  # round robin accumulators (epsilon), counted in used
        self.waste_held = False  # artifact: a failed claim's accumulations are lost (note 6.2)

    def add_block(self, capacity: Sequence[float], created: float) -> int:
        row = np.asarray(capacity, dtype=float)[None, :]
        zero = np.zeros_like(row)
        self.capacity = np.vstack([self.capacity, row])
        self.unlocked = np.vstack([self.unlocked, zero])
        self.used = np.vstack([self.used, zero])
        self.released = np.vstack([self.released, zero])
        self.retired.append(False)
        self.arrivals.append(0)
        self.created.append(created)
        return len(self.retired) - 1

    def release(self, block: int, fraction: float | Fraction, retired: bool) -> bool:
        """Bring released budget up to ``fraction`` of the capacity; True if anything was unlocked."""
        target = self.capacity[block] * min(float(fraction), 1.0)
        step = np.maximum(target - self.released[block], 0.0)
        self.retired[block] = self.retired[block] or retired
        if not step.any():
            return False
        self.released[block] += step
        self.unlocked[block] += step
        return True

    def shares(self, blocks: Sequence[int], demands: Sequence[np.ndarray]) -> tuple[float, ...]:
        cap = self.capacity[list(blocks)]
        positive = cap > 0
        values = np.asarray(demands)[positive] / cap[positive]
        return tuple(np.sort(values)[::-1].tolist())

    def fits(self, blocks: Sequence[int], demands: Sequence[np.ndarray]) -> bool:
        if len(blocks) == 1:
            return self.fits_block(blocks[0], demands[0])
        ok = np.asarray(demands) <= self.unlocked[list(blocks)] + self.tolerance
        return bool(ok.any(axis=1).all() if self.rdp else ok.all())

    def fits_block(self, block: int, demand: np.ndarray) -> bool:
        ok = demand <= self.unlocked[block] + self.tolerance
        return bool(ok.any() if self.rdp else ok.all())

    def allocate(self, blocks: Sequence[int], demands: Sequence[np.ndarray]) -> None:
        for block, demand in zip(blocks, demands, strict=True):
            self.unlocked[block] -= demand
            self.used[block] += demand

    def is_retired(self, block: int) -> bool:
        return self.retired[block]

    def available(self, block: int) -> Sequence[float]:
        return self.unlocked[block].tolist()

    def vector(self, demand: np.ndarray) -> Sequence[float]:
        return demand.tolist()

    def residual(self, block: int) -> float:
        return float(self.unlocked[block, 0])

    def need(self, block: int, claim: object, demand: np.ndarray) -> float:
        return float(demand[0]) - self.held.get((block, claim), 0.0)

    def hold(self, block: int, claim: object, demand: np.ndarray, amount: float) -> None:
        self.unlocked[block, 0] -= amount
        self.used[block, 0] += amount
        self.held[(block, claim)] = self.held.get((block, claim), 0.0) + amount

    def complete(self, blocks: Sequence[int], claim: object) -> None:
        for block in blocks:
            self.held.pop((block, claim), None)

    def forget(self, blocks: Sequence[int], claim: object) -> None:
        for block in blocks:
            amount = self.held.pop((block, claim), 0.0)
            if amount and not self.waste_held:
                self.unlocked[block, 0] += amount
                self.used[block, 0] -= amount

    def invariant_holds(self, block: int) -> bool:
        """Basic: used <= capacity in every dimension; RDP: at some alpha (up to the tolerance)."""
        ok = self.used[block] <= self.capacity[block] + self.tolerance + 1e-9
        return bool(ok.any() if self.rdp else ok.all())
