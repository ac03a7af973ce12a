"""What the budget dashboard shows, computed from one ledger snapshot and the audit trail.

Visibility follows the service's rules: block budgets are public metadata; queries (the queue and the
recent decisions) are shown only to their own analyst, or to an operator (``viewer=None``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from gateway.core.blocks import Block
from gateway.core.budget_state import BudgetState, block_state, remaining_fraction
from gateway.core.burndown import Point, remaining_series, total_series
from gateway.core.claims import Claim, ClaimState
from gateway.core.forecast import Forecast, forecast
from gateway.core.ledger import AuditEvent, LedgerState
from gateway.core.scheduling.block_accounts import share

RECENT = 20  # decisions listed on the page


@dataclass(frozen=True)
class BlockView:
    block: Block
    state: BudgetState
    remaining_fraction: Decimal


@dataclass(frozen=True)
class DatasetView:
    name: str
    blocks: list[BlockView]
    burn_down: list[Point]


@dataclass(frozen=True)
class QueueEntry:
    claim: Claim
    dominant_share: Decimal
    forecast: Forecast


@dataclass(frozen=True)
class Dashboard:
    generated_at: dt.datetime
    policy: str
    viewer: str | None  # None: an operator, who sees every analyst's queries
    datasets: list[DatasetView] = field(default_factory=list)
    queue: list[QueueEntry] = field(default_factory=list)
    recent: list[AuditEvent] = field(default_factory=list)


def dominant_share(claim: Claim, state: LedgerState) -> Decimal:
    """DPF's ordering key: the largest demand/capacity over the claim's blocks (ε; the best order under rdp)."""
    return max(share(claim.demand, state.blocks[k].capacity, include_delta=False) for k in claim.blocks)


def build(state: LedgerState, events: list[AuditEvent], now: dt.datetime, viewer: str | None) -> Dashboard:
    def visible(analyst: str | None) -> bool:
        return viewer is None or analyst == viewer

    datasets = []
    for name in sorted(state.datasets):
        blocks = state.blocks_of(name)
        series = remaining_series(events, [b.key for b in blocks])
        datasets.append(
            DatasetView(
                name,
                [BlockView(b, block_state(b), remaining_fraction(b)) for b in blocks],
                total_series(series),
            )
        )
    waiting = sorted(
        (c for c in state.claims.values() if c.state is ClaimState.PENDING and visible(c.analyst)),
        key=lambda c: (dominant_share(c, state), c.submitted_at, c.id),
    )
    queue = [QueueEntry(c, dominant_share(c, state), forecast(state, c.id, now)) for c in waiting]
    decisions = [e for e in events if e.kind in ("granted", "rejected") and visible(e.analyst)]
    return Dashboard(now, state.settings.summary(), viewer, datasets, queue, decisions[-RECENT:][::-1])
