"""Unlock rules: how much of a block's capacity a policy has released, as an exact fraction.

Rules speak in fractions of the capacity (never in ε), so the same rule drives the exact Decimal
accounts of the ledger and the float arrays of the simulator. A rule is asked at three moments: when a
block is created, after each claim arriving on it, and when the clock moves; it answers with the
cumulative released fraction and whether the block is now retired (it will never release more).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

Release = tuple[Fraction | float, bool]  # (cumulative released fraction of the capacity, retired)


class UnlockRule(Protocol):
    @property
    def time_based(self) -> bool: ...

    def initial(self) -> Release: ...

    def after_arrival(self, arrivals: int) -> Release | None: ...

    def at(self, elapsed: float | Fraction) -> Release | None:
        """``elapsed`` seconds since the block's creation: an exact Fraction (ledger) or a float (simulator)."""
        ...


@dataclass(frozen=True)
class Upfront:
    """FCFS: everything is available at once and nothing more will ever come."""

    time_based: bool = False

    def initial(self) -> Release:
        return Fraction(1), True

    def after_arrival(self, arrivals: int) -> Release | None:
        return None

    def at(self, elapsed: float | Fraction) -> Release | None:
        return None


@dataclass(frozen=True)
class PerArrival:
    """DPF-N and RR-N: each arriving claim releases εG/N; the N-th releases the rest and retires the block."""

    n: int
    time_based: bool = False

    def initial(self) -> Release:
        return Fraction(0), False

    def after_arrival(self, arrivals: int) -> Release | None:
        if arrivals >= self.n:
            return Fraction(1), True
        return Fraction(arrivals, self.n), False

    def at(self, elapsed: float | Fraction) -> Release | None:
        return None


@dataclass(frozen=True)
class OverLifetime:
    """DPF-T, RR-T and DPack: release εG·t/L over the data lifetime L (seconds), then retire.

    ``steps`` = None releases linearly whenever the clock is read (PrivateKube's rule sampled at each
    tick); ``steps`` = N releases in N equal steps of L/N (DPack's ``floor((t - s)/(L/N))/N``).
    """

    lifetime: float
    steps: int | None = None
    time_based: bool = True

    def initial(self) -> Release:
        return self.at(0.0) or (Fraction(0), False)

    def after_arrival(self, arrivals: int) -> Release | None:
        return None

    def at(self, elapsed: float | Fraction) -> Release | None:
        if elapsed >= self.lifetime:
            return Fraction(1), True
        if elapsed <= 0:
            return Fraction(0), False
        if self.steps is None:
            if isinstance(elapsed, Fraction):  # the ledger's exact clock
                return elapsed / Fraction(self.lifetime), False
            return elapsed / self.lifetime, False  # the simulator's float clock
        done = math.floor(elapsed * self.steps / self.lifetime + 1e-9)  # float-epsilon steps count (note 10.1)
        return Fraction(min(done, self.steps), self.steps), done >= self.steps
