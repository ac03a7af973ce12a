"""The reference store: a ledger in memory, with the same commit condition as every other store.

The live state and the history (finished claims, audit events) are kept apart as in every store, so
a commit costs what it touches, not what the ledger has accumulated.
"""

from __future__ import annotations

import threading

from gateway.core.blocks import Block
from gateway.core.claims import Claim
from gateway.core.ledger import (
    AuditEvent,
    Change,
    LedgerState,
    apply_live,
    check_history,
    check_versions,
    finished_claims,
)
from gateway.core.scheduling import PolicySettings
from gateway.errors import LedgerError, LedgerNotFoundError


class InMemoryLedgerStore:
    def __init__(self) -> None:
        self.url = "memory://"
        self._state: LedgerState | None = None
        self._events: list[AuditEvent] = []
        self._history: dict[str, Claim] = {}
        self._spent: dict[str, Block] = {}
        self._lock = threading.Lock()

    def create(self, settings: PolicySettings) -> None:
        with self._lock:
            if self._state is not None:
                raise LedgerError("a ledger already exists here")
            self._state = LedgerState(settings=settings)

    def load(self) -> LedgerState:
        if self._state is None:
            raise LedgerNotFoundError("no ledger in memory; create one first (dpgw init)")
        return self._state

    def commit(self, change: Change) -> None:
        with self._lock:
            state = self.load()
            check_versions(state, change)
            check_history(change, self._history.__contains__)
            self._state = apply_live(state, change)
            self._history.update((c.id, c) for c in finished_claims(change))
            self._spent.update((b.key, b) for b in change.spent)
            self._events.extend(change.events)

    def audit(self) -> list[AuditEvent]:
        return list(self._events)

    def history_claim(self, claim_id: str) -> Claim | None:
        return self._history.get(claim_id)

    def history_claims(self) -> list[Claim]:
        return list(self._history.values())

    def history_blocks(self) -> list[Block]:
        return list(self._spent.values())
