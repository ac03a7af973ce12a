"""Burn-down: each block's remaining budget over time, rebuilt from the audit trail alone.

``remaining`` (capacity - allocated - consumed) changes only at the events that move budget in or out of
it: a block is added (its capacity), a claim is granted (its demand leaves), a reservation is released
(it comes back), a finished job's unspent grant is refunded. Charging moves budget from allocated to
consumed and leaves ``remaining`` as it is. The data set's total is in ε: under Rényi-DP accounting each
block's remaining curve counts as the best ε at the block's δ it still allows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from gateway.core import rdp
from gateway.core.blocks import Block
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
    """Per block key (only those asked for), a point at every event that changed its remaining budget.

    A "charged" event returns the part of its grant the job did not spend (grant minus charge), so the
    grant of each submission is remembered from its "granted" event.
    """
    series: dict[str, list[Point]] = {key: [] for key in blocks}
    granted: dict[str, Budget] = {}
    for event in events:
        if event.amount is None:
            continue
        if event.kind == "granted" and event.submission_id is not None:
            granted[event.submission_id] = event.amount
        change = _change(event, granted)
        if change is None:
            continue
        amount, sign = change
        for key in event.blocks:
            points = series.get(key)
            if points is None:
                continue
            before = points[-1].remaining if points else Budget()
            after = before + amount if sign > 0 else before - amount
            points.append(Point(event.at, after))
    return series


def _change(event: AuditEvent, granted: Mapping[str, Budget]) -> tuple[Budget, int] | None:
    """How an event moves a block's remaining budget: (amount, +1 or -1), or None when it does not."""
    assert event.amount is not None
    if event.kind == "charged":
        grant = granted.get(event.submission_id or "")
        if grant is None:
            return None
        returned = (grant - event.amount).clipped()
        return None if returned.is_zero() else (returned, 1)
    sign = _SIGN.get(event.kind)
    return None if sign is None else (event.amount, sign)


EpsilonOf = Callable[[str, Budget], Decimal]


def epsilon_left(block: Block, remaining: Budget, orders: Sequence[Decimal]) -> Decimal:
    """A block's remaining budget as one ε: itself under basic composition, the best ε at its δ under rdp."""
    if block.capacity.curve is None or block.guarantee is None:
        return remaining.epsilon
    curve = remaining.curve or (Decimal(0),) * len(block.capacity.curve)
    return rdp.remaining_epsilon(curve, block.capacity.curve, block.guarantee.delta, orders)


def total_series(series: Mapping[str, list[Point]], epsilon_of: EpsilonOf | None = None) -> list[Point]:
    """The sum over blocks of their remaining ε, stepping at every point of any block."""
    measure = epsilon_of or (lambda _key, amount: amount.epsilon)
    current: dict[str, Decimal] = {}
    out: list[Point] = []
    for key, point in sorted(((k, p) for k, ps in series.items() for p in ps), key=lambda kp: kp[1].at):
        current[key] = measure(key, point.remaining)
        total = Budget(sum(current.values(), Decimal(0)))
        if out and out[-1].at == point.at:
            out[-1] = Point(point.at, total)
        else:
            out.append(Point(point.at, total))
    return out


@dataclass(frozen=True)
class BurnDown:
    """A data set's blocks today, each block's remaining budget over time, and the total remaining ε."""

    blocks: list[Block]
    series: Mapping[str, list[Point]]
    total: list[Point]
    left: Mapping[str, Decimal]  # each block's remaining budget today, as ε (at its δ under rdp)


def burn_down(blocks: list[Block], events: Iterable[AuditEvent], orders: Sequence[Decimal]) -> BurnDown:
    by_key = {b.key: b for b in blocks}
    series = remaining_series(events, by_key)
    total = total_series(series, lambda key, amount: epsilon_left(by_key[key], amount, orders))
    left = {b.key: epsilon_left(b, b.remaining, orders) for b in blocks}
    return BurnDown(blocks, series, total, left)
