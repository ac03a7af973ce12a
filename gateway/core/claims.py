"""Claims: a submitted query's request for budget on its blocks, and its persisted lifecycle.

pending → admitted (budget reserved) → launching → running → succeeded | failed (charged),
or released (the launch provably never started), or rejected (can never fit),
or cancelled (withdrawn by its analyst while pending). Every transition names
the states it may come from, so repeating or racing one is detected instead of double-counted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from gateway.core.budget import Budget
from gateway.core.spec import QuerySpec, parse_spec
from gateway.errors import LedgerConflictError


class ClaimState(StrEnum):
    PENDING = "pending"
    ADMITTED = "admitted"
    LAUNCHING = "launching"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RELEASED = "released"
    REJECTED = "rejected"
    CANCELLED = "cancelled"  # withdrawn by its analyst while pending: never held budget

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def holds_allocation(self) -> bool:
        """States whose demand sits in the blocks' *allocated* account."""
        return self in (ClaimState.ADMITTED, ClaimState.LAUNCHING, ClaimState.RUNNING)


TERMINAL_STATES = frozenset(
    {ClaimState.SUCCEEDED, ClaimState.FAILED, ClaimState.RELEASED, ClaimState.REJECTED, ClaimState.CANCELLED}
)


def submission_id_for(spec: QuerySpec) -> str:
    """A client id maps to one submission id per analyst, so a retry finds the first submission."""
    if spec.client_id is None:
        return "q-" + uuid.uuid4().hex[:16]
    digest = hashlib.sha256(f"{spec.analyst}\x00{spec.client_id}".encode()).hexdigest()
    return "c-" + digest[:16]


@dataclass(frozen=True, slots=True)
class Claim:
    id: str
    spec: QuerySpec
    blocks: tuple[str, ...]  # block keys, in time order
    demand: Budget  # demanded on every block (block composition)
    state: ClaimState
    submitted_at: dt.datetime
    updated_at: dt.datetime
    reason: str | None = None  # analyst-safe: a fixed category (+ reference id) for failures
    launcher: str | None = None
    run_id: str | None = None
    result: dict[str, Any] | None = None
    version: int = 1
    detail: str | None = None  # operator only: the full job error; never in analyst-facing views

    @property
    def analyst(self) -> str:
        return self.spec.analyst or ""  # the gateway sets it before recording a claim (Gateway.submit)

    def demands(self) -> dict[str, Budget]:
        """Demand per block key: block composition charges the query's (ε, δ) on every block it reads."""
        return {key: self.demand for key in self.blocks}

    def transition(self, to: ClaimState, expected: tuple[ClaimState, ...], now: dt.datetime, **changes: Any) -> Claim:
        if self.state not in expected:
            raise LedgerConflictError(
                f"submission {self.id} is {self.state.value}; cannot move it to {to.value} "
                f"(expected {', '.join(s.value for s in expected)})"
            )
        return replace(self, state=to, updated_at=now, **changes)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "spec": self.spec.to_json(),
            "blocks": list(self.blocks),
            "demand": self.demand.to_json(),
            "state": self.state.value,
            "submitted_at": self.submitted_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "reason": self.reason,
            "launcher": self.launcher,
            "run_id": self.run_id,
            "result": self.result,
            "version": self.version,
            "detail": self.detail,
        }
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Claim:
        return cls(
            id=data["id"],
            spec=parse_spec(data["spec"]),
            blocks=tuple(data["blocks"]),
            demand=Budget.from_json(data["demand"]),
            state=ClaimState(data["state"]),
            submitted_at=dt.datetime.fromisoformat(data["submitted_at"]),
            updated_at=dt.datetime.fromisoformat(data["updated_at"]),
            reason=data.get("reason"),
            launcher=data.get("launcher"),
            run_id=data.get("run_id"),
            result=data.get("result"),
            version=int(data["version"]),
            detail=data.get("detail"),
        )
