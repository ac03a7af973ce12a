"""Burn-down: each block's remaining budget over time, rebuilt from the audit trail alone.

``remaining`` (capacity - allocated - consumed) changes only at three kinds of events: a block is added
(its capacity), a claim is granted (its demand leaves), a reservation is released (it comes back).
Charging a finished job moves budget from allocated to consumed and leaves ``remaining`` as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.core.budget import Budget
from gateway.core.ledger import AuditEvent

_SIGN = {"blocks-added": 1, "granted": -1, "released": 1}


@dataclass(frozen=True)
class Point:
    at: dt.datetime
    remaining: Budget

    def to_json(self) -> dict[str, object]:
        return {"at": self.at.isoformat(), **{f"remaining_{k}": v for k, v in self.remaining.to_json().items()}}


def remaining_series(events: Iterable[AuditEvent], blocks: Iterable[str]) -> Mapping[str, list[Point]]:
    """Per block key (only those asked for), a point at every event that changed its remaining budget."""
    series: dict[str, list[Point]] = {key: [] for key in blocks}
    for event in events:
        sign = _SIGN.get(event.kind)
        if sign is None or event.amount is None:
            continue
        for key in event.blocks:
            points = series.get(key)
            if points is None:
                continue
            before = points[-1].remaining if points else Budget()
            after = before + event.amount if sign > 0 else before - event.amount
            points.append(Point(event.at, after))
    return series


def total_series(series: Mapping[str, list[Point]]) -> list[Point]:
    """The sum over blocks of their remaining budget, stepping at every point of any block."""
    current: dict[str, Budget] = {}
    out: list[Point] = []
    for key, point in sorted(((k, p) for k, ps in series.items() for p in ps), key=lambda kp: kp[1].at):
        current[key] = point.remaining
        total = sum(current.values(), Budget())
        if out and out[-1].at == point.at:
            out[-1] = Point(point.at, total)
        else:
            out.append(Point(point.at, total))
    return out
