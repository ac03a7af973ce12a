"""The reference store: a ledger in memory, with the same commit condition as every other store."""

from __future__ import annotations

import threading

from gateway.core.ledger import AuditEvent, Change, LedgerState, apply, check_versions
from gateway.core.scheduling import PolicySettings
from gateway.errors import LedgerError, LedgerNotFoundError


class InMemoryLedgerStore:
    def __init__(self) -> None:
        self.url = "memory://"
        self._state: LedgerState | None = None
        self._events: list[AuditEvent] = []
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
            self._state = apply(state, change)
            self._events.extend(change.events)

    def audit(self) -> list[AuditEvent]:
        return list(self._events)
