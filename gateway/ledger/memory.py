"""The reference store: a ledger in memory, with the same commit condition as every other store.

The live state and the history (finished claims, spent blocks, audit events) are kept apart as in every
store, so a commit costs what it touches, not what the ledger has accumulated. History is kept as JSON,
as the other stores keep it, so it reads back through the same decoders.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from gateway.core.ledger import AuditEvent, Change, LedgerState, finished_claims
from gateway.core.scheduling import PolicySettings
from gateway.errors import LedgerError, LedgerNotFoundError
from gateway.ledger.codec import encode_record
from gateway.ledger.template import Kind, LedgerTemplate, Raw, Snapshot


class InMemoryLedgerStore(LedgerTemplate[None]):
    def __init__(self) -> None:
        self.url = "memory://"
        self._state: LedgerState | None = None
        self._events: list[AuditEvent] = []
        self._history: dict[Kind, dict[str, str]] = {"claim": {}, "block": {}}
        self._lock = threading.Lock()

    def create(self, settings: PolicySettings) -> None:
        with self._lock:
            if self._state is not None:
                raise LedgerError("a ledger already exists here")
            self._state = LedgerState(settings=settings)

    # --- primitives -----------------------------------------------------------------------------

    def read_live(self) -> Snapshot[None]:
        if self._state is None:
            raise LedgerNotFoundError("no ledger in memory; create one first (dpgw init)")
        return Snapshot(self._state, None)

    def read_history_claim(self, claim_id: str, live: Snapshot[None] | None = None) -> Raw | None:
        return self._history["claim"].get(claim_id)

    def list_history(self, kind: Kind) -> Iterable[Raw]:
        return list(self._history[kind].values())

    def append_history(self, live: Snapshot[None] | None, change: Change) -> Any:
        return None  # appended with the live state, under the same lock

    def write_live(
        self, live: Snapshot[None] | None, change: Change, new_state: LedgerState | None, appended: Any
    ) -> bool:
        assert new_state is not None
        self._state = new_state
        self._history["claim"].update((c.id, encode_record(c.to_json())) for c in finished_claims(change))
        self._history["block"].update((b.key, encode_record(b.to_json())) for b in change.spent)
        self._events.extend(change.events)
        return True

    def exclusive(self) -> threading.Lock:
        return self._lock

    def audit(self) -> list[AuditEvent]:
        return list(self._events)
