"""When a waiting query can be admitted if nothing else competes for its blocks, or why it never will.

The forecast replays the ledger forward with the policy's own code (``schedule`` and the policy's
unlock steps), with every other waiting claim set aside:

* time-based unlocking (DPF-T, RR-T, DPack's lifetime): the clock alone releases budget, so the answer
  is exact: the earliest instant, to the millisecond, at which a scheduling pass admits the claim
  (found by bisection between now and the moment its blocks have released everything);
* arrival-based unlocking (DPF-N, RR-N): budget comes with new queries on the blocks, so the answer is
  an estimate: the arrivals each block still needs, at the rate the block saw over a recent window.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from gateway.core.blocks import Block
from gateway.core.budget import NO_BUDGET
from gateway.core.claims import ClaimState
from gateway.core.ledger import LedgerState, schedule
from gateway.core.scheduling import make_policy
from gateway.core.scheduling.block_accounts import release

RESOLUTION = dt.timedelta(milliseconds=1)
ARRIVAL_WINDOW = dt.timedelta(days=7)


class Outlook(StrEnum):
    NOW = "now"  # the next scheduling pass admits it
    AT = "at"  # exact: the clock alone unlocks enough by then
    ESTIMATE = "estimate"  # arrival-based: expected from the recent arrival rate
    UNKNOWN = "unknown"  # arrival-based, but its blocks saw no recent arrivals
    NEVER = "never"  # rejected, or its blocks can never free enough
    NOT_WAITING = "not waiting"  # admitted, running or finished


@dataclass(frozen=True)
class Forecast:
    outlook: Outlook
    basis: str
    at: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {"outlook": self.outlook.value, "at": self.at.isoformat() if self.at else None, "basis": self.basis}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Forecast:
        at = data.get("at")
        return cls(Outlook(data["outlook"]), str(data["basis"]), dt.datetime.fromisoformat(at) if at else None)

    def describe(self) -> str:
        """One line for people: what to expect and on what basis."""
        when = f" {self.at:%Y-%m-%d %H:%M} UTC" if self.at is not None and self.outlook is not Outlook.NOW else ""
        return f"{self.outlook.value}{when}: {self.basis}"


def forecast(state: LedgerState, claim_id: str, now: dt.datetime, window: dt.timedelta = ARRIVAL_WINDOW) -> Forecast:
    claim = state.claim(claim_id)
    if claim.state is ClaimState.REJECTED:
        return Forecast(Outlook.NEVER, claim.reason or "it was rejected")
    if claim.state is not ClaimState.PENDING:
        return Forecast(Outlook.NOT_WAITING, f"it is {claim.state.value}")
    alone = replace(
        state, claims={k: c for k, c in state.claims.items() if k == claim_id or c.state is not ClaimState.PENDING}
    )
    first = _outcome(alone, claim_id, now)
    if first.state is ClaimState.ADMITTED:
        return Forecast(Outlook.NOW, "its blocks hold enough unlocked budget now", now)
    if first.state is ClaimState.REJECTED:
        return Forecast(Outlook.NEVER, first.reason or "its blocks can never serve it")
    if make_policy(state.settings).unlock.time_based:
        return _by_clock(alone, claim_id, now)
    return _by_arrivals(alone, claim_id, now, window)


def _outcome(state: LedgerState, claim_id: str, at: dt.datetime) -> Any:
    after, _ = schedule(state, at)
    return after.claims[claim_id]


def _created(block: Block) -> dt.datetime:
    return block.added_at


def _by_clock(state: LedgerState, claim_id: str, now: dt.datetime) -> Forecast:
    claim = state.claims[claim_id]
    lifetime = dt.timedelta(seconds=state.settings.lifetime_seconds())
    horizon = max(max(_created(state.blocks[k]) for k in claim.blocks) + lifetime, now)
    if _outcome(state, claim_id, horizon).state is not ClaimState.ADMITTED:
        return Forecast(
            Outlook.NEVER,
            f"even once its blocks have released all their budget ({horizon:%Y-%m-%d %H:%M} UTC), the budget "
            "left unallocated on them is below its demand",
        )
    lo, hi = now, horizon  # not admitted at lo, admitted at hi
    while hi - lo > RESOLUTION:
        mid = lo + (hi - lo) / 2
        if _outcome(state, claim_id, mid).state is ClaimState.ADMITTED:
            hi = mid
        else:
            lo = mid
    return Forecast(Outlook.AT, "the clock unlocks enough budget on all its blocks by then (exact)", hi)


def _arrivals_needed(block: Block, state: LedgerState, claim_id: str) -> tuple[int, Block] | None:
    """The fewest further arrivals after which this block alone would admit the claim, and the block then."""
    rule = make_policy(state.settings).unlock

    def after(k: int) -> Block:
        if k == 0:
            return block
        step = rule.after_arrival(block.arrivals + k)
        moved = replace(block, arrivals=block.arrivals + k)
        return moved if step is None else release(moved, *step)

    demand = state.claims[claim_id].demand

    def fits(k: int) -> bool:  # what round robin already holds for the claim counts as its own
        moved = after(k)
        return demand.admissible_in(moved.unlocked + moved.held.get(claim_id, NO_BUDGET))  # some order under rdp

    # After n arrivals a per-arrival rule has released everything, so search k in [0, n].
    hi = max(0, state.settings.n - block.arrivals)
    if not fits(hi):
        return None
    lo = -1  # fits(lo) is False by convention
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return hi, after(hi)


def _by_arrivals(state: LedgerState, claim_id: str, now: dt.datetime, window: dt.timedelta) -> Forecast:
    claim = state.claims[claim_id]
    needs: dict[str, int] = {}
    advanced: list[Block] = []
    for key in claim.blocks:
        found = _arrivals_needed(state.blocks[key], state, claim_id)
        if found is None:
            return Forecast(Outlook.NEVER, f"block {key} cannot free enough budget even once all of it is unlocked")
        needs[key], block = found
        advanced.append(block)
    if _outcome(state.with_(blocks=advanced), claim_id, now).state is not ClaimState.ADMITTED:
        return Forecast(Outlook.UNKNOWN, "its blocks only fit it together after more arrivals than can be estimated")
    since = now - window
    eta = now
    parts = []
    for key, k in needs.items():
        if k == 0:
            continue
        seen = sum(1 for c in state.claims.values() if key in c.blocks and since <= c.submitted_at <= now)
        if seen == 0:
            return Forecast(
                Outlook.UNKNOWN,
                f"block {key} needs {k} more querie(s) to unlock enough budget and saw none in the last "
                f"{window.days} day(s)",
            )
        rate = seen / window.total_seconds()  # arrivals per second
        eta = max(eta, now + dt.timedelta(seconds=k / rate))
        parts.append(f"{key} needs {k} more (seen {seen} in {window.days} d)")
    basis = "estimate from recent arrivals, if they keep coming at the same rate: " + "; ".join(parts)
    return Forecast(Outlook.ESTIMATE, basis, eta)
