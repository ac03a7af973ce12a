"""Simulated time: the replay's clock, which time-based unlock rules read instead of the wall clock."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SimulatedClock:
    now: float = 0.0

    def advance(self, to: float) -> None:
        if to < self.now:
            raise ValueError(f"simulated time cannot go back from {self.now} to {to}")
        self.now = to
