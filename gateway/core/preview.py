"""What submitting a query would do now, without charging anything: admitted at once or not, why, and how many
more copies of it the blocks could still grant.

"Now" means on a quiet ledger: the query is replayed alone (every other pending claim set aside), through
the same arrival and admission pass a submission runs, so "fits" here is exactly "a submission is admitted
at once when nothing else is waiting". The copy count uses the ledger's own accounting on each block's
*remaining* budget (capacity - allocated - consumed, whether the policy has released it yet or not): k
copies fit a block iff k x demand fits it in every dimension (basic) or at some order (rdp), and a query
needs all its blocks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from gateway.core import ledger as core
from gateway.core.budget import Budget
from gateway.core.claims import Claim, ClaimState

UNBOUNDED = 10**12  # a demand of zero on every dimension: no block limits its copies


@dataclass(frozen=True)
class BlockPreview:
    block: str
    fits_unlocked: bool  # the demand fits what the policy has released on this block now
    fits_remaining: bool  # ... fits what is left once everything is released
    copies: int  # how many copies its remaining budget still holds


@dataclass(frozen=True)
class Preview:
    fits: bool
    state: str  # what a submission would become now: admitted, pending (waits) or rejected
    reason: str | None
    copies: int  # more copies of this query the blocks could still grant (all of its blocks at once)
    accounting: str
    blocks: tuple[BlockPreview, ...]
    demand: Budget

    def to_json(self) -> dict[str, Any]:
        return {
            "fits": self.fits,
            "would_be": self.state,
            "reason": self.reason,
            "copies": self.copies,
            "accounting": self.accounting,
            "demand": self.demand.to_json(),
            "blocks": [
                {
                    "block": b.block,
                    "fits_unlocked": b.fits_unlocked,
                    "fits_remaining": b.fits_remaining,
                    "copies": b.copies,
                }
                for b in self.blocks
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Preview:
        return cls(
            fits=bool(data["fits"]),
            state=str(data["would_be"]),
            reason=data.get("reason"),
            copies=int(data["copies"]),
            accounting=str(data["accounting"]),
            demand=Budget.from_json(data["demand"]),
            blocks=tuple(
                BlockPreview(str(b["block"]), bool(b["fits_unlocked"]), bool(b["fits_remaining"]), int(b["copies"]))
                for b in data["blocks"]
            ),
        )


def copies_in(demand: Budget, available: Budget) -> int:
    """How many copies of ``demand`` fit in ``available``: every dimension (basic) or the best order (rdp)."""
    if demand.curve is None and available.curve is None:
        pairs = [(demand.epsilon, available.epsilon), (demand.delta, available.delta)]
        return min(_times(d, a) for d, a in pairs)
    d, a = demand.aligned_with(available)
    return max(_times(x, y) for x, y in zip(d, a, strict=True))


def _times(demand: Decimal, available: Decimal) -> int:
    if available < 0:
        return 0
    if demand <= 0:
        return UNBOUNDED
    return min(UNBOUNDED, int((available / demand).to_integral_value(rounding=ROUND_FLOOR)))


def preview(state: core.LedgerState, claim: Claim, now: dt.datetime) -> Preview:
    """Replay ``claim`` alone on ``state`` (nothing else pending) without recording anything."""
    quiet = replace(state, claims={k: c for k, c in state.claims.items() if c.state is not ClaimState.PENDING})
    fresh = replace(claim, id="preview-" + claim.id, spec=claim.spec.model_copy(update={"client_id": None}))
    after, _ = core.arrive(quiet, fresh, now)
    if after.claims[fresh.id].state is ClaimState.PENDING:
        after, _ = core.schedule(after, now)
    outcome = after.claims[fresh.id]
    views = []
    for key, demand in claim.demands().items():
        block = state.blocks.get(key)
        if block is None:  # left the live state, retired and spent: nothing fits
            views.append(BlockPreview(block=key, fits_unlocked=False, fits_remaining=False, copies=0))
            continue
        unlocked = after.blocks[key].unlocked if outcome.state is not ClaimState.ADMITTED else block.unlocked
        views.append(
            BlockPreview(
                block=key,
                fits_unlocked=demand.admissible_in(unlocked),
                fits_remaining=demand.admissible_in(block.remaining),
                copies=copies_in(demand, block.remaining),
            )
        )
    copies = min((v.copies for v in views), default=0)
    fits = outcome.state is ClaimState.ADMITTED
    reason = None
    if not fits:
        reason = outcome.reason or _why(views, state.settings.rdp)
    return Preview(
        fits=fits,
        state=outcome.state.value,
        reason=reason,
        copies=copies,
        accounting=state.settings.accounting,
        blocks=tuple(views),
        demand=claim.demand,
    )


def _why(views: list[BlockPreview], rdp: bool) -> str:
    where = " at any order" if rdp else ""
    short = [v.block for v in views if not v.fits_remaining]
    if short:
        return (
            f"{_names(short)}: the demand no longer fits the budget left "
            f"(allocated + consumed + demand > capacity{where})"
        )
    waiting = [v.block for v in views if not v.fits_unlocked]
    return f"{_names(waiting)}: the policy has not released enough budget yet{where}; the query would wait"


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
    return f"block{'s' if len(keys) > 1 else ''} {shown}"
