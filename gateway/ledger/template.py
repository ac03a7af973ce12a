"""The one commit algorithm every store runs, over the storage primitives each store supplies.

As AWS Powertools' idempotency ``BasePersistenceLayer`` does for its persistence layers, the template
owns the algorithm and a store says only how its records are read and written:

    read the live state -> check the change's versions, and that no new claim reuses a finished id
    -> work out the next live state (which checks every block's accounts before anything is written)
    -> append the change's history where readers ignore it until the live write names it
    -> write the live state on the condition that it is still the one read; a lost race reads again.

A store whose conditional write carries the version conditions itself (DynamoDB's transaction) sets
``checks_in_write`` and is handed no snapshot: it is not read before every commit. The history readers
(``history_claim``, ``history_claims``, ``history_blocks``) decode what the primitives return, so every
store reads history back the same way and reports damage the same way.
"""

from __future__ import annotations

import contextlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Literal, TypeVar

from gateway.core.blocks import Block
from gateway.core.claims import Claim
from gateway.core.ledger import Change, LedgerState, apply_live, check_history, check_versions, is_finished
from gateway.errors import LedgerConflictError, LedgerError
from gateway.ledger.codec import DECODE_ERRORS

T = TypeVar("T")  # what a store read with the live state and conditions its write on (a document, an ETag)
R = TypeVar("R")
Raw = str | bytes
Kind = Literal["claim", "block"]


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    state: LedgerState
    token: T


class LedgerTemplate(ABC, Generic[T]):
    """The ``LedgerStore`` port implemented once; subclasses supply the primitives below."""

    url: str
    commit_attempts = 1  # how often a lost race (``write_live`` False) is retried before a conflict is raised
    checks_in_write = False  # the conditional write itself enforces ``check_versions`` and ``check_history``

    # --- primitives -----------------------------------------------------------------------------

    @abstractmethod
    def read_live(self) -> Snapshot[T]:
        """A consistent snapshot of the live state; raises LedgerNotFoundError if there is no ledger."""

    @abstractmethod
    def read_history_claim(self, claim_id: str, live: Snapshot[T] | None = None) -> Raw | None:
        """A finished claim's JSON by id, without reading the rest of history (``live``: the snapshot a commit
        read, when there is one)."""

    @abstractmethod
    def list_history(self, kind: Kind) -> Iterable[Raw]:
        """Every finished claim's (or spent block's) JSON, for reports."""

    @abstractmethod
    def append_history(self, live: Snapshot[T] | None, change: Change) -> Any:
        """Put the change's history records (finished claims, spent blocks, events) where readers ignore them
        until the live write names them; returns what ``write_live`` needs to name them."""

    @abstractmethod
    def write_live(
        self, live: Snapshot[T] | None, change: Change, new_state: LedgerState | None, appended: Any
    ) -> bool:
        """Write the next live state on the condition that it is still ``live``; False when another writer got
        there first (the template reads again and retries). ``new_state`` is None when ``checks_in_write``."""

    def exclusive(self) -> contextlib.AbstractContextManager[Any]:
        """Held around a whole commit (a lock, for stores that have one)."""
        return contextlib.nullcontext()

    def pause(self, attempt: int) -> None:
        """Between attempts after a lost race (jittered backoff, for stores that race)."""

    def fit(self, change: Change) -> Change:
        """The change as this store can commit it (a store with a size limit may leave spent blocks live)."""
        return change

    # --- the algorithm --------------------------------------------------------------------------

    def load(self) -> LedgerState:
        return self.read_live().state

    def commit(self, change: Change) -> None:
        if change.is_empty():
            return
        change = self.fit(change)
        with self.exclusive():
            for attempt in range(self.commit_attempts):
                if self.checks_in_write:
                    live, new_state = None, None
                else:
                    live = self.read_live()
                    check_versions(live.state, change)
                    check_history(change, partial(self._recorded, live))
                    new_state = apply_live(live.state, change)
                appended = self.append_history(live, change)
                if self.write_live(live, change, new_state, appended):
                    return
                self.pause(attempt)
        raise LedgerConflictError(
            f"the ledger at {self.url} kept changing or stayed busy during {self.commit_attempts} attempts to "
            "commit; try again"
        )

    def _recorded(self, live: Snapshot[T], claim_id: str) -> bool:
        return self.read_history_claim(claim_id, live) is not None

    def history_claim(self, claim_id: str) -> Claim | None:
        raw = self.read_history_claim(claim_id)
        if raw is None:
            return None
        claim = decode_claim(raw, self.url)
        return claim if is_finished(claim) else None

    def history_claims(self) -> list[Claim]:
        found = {c.id: c for c in (decode_claim(raw, self.url) for raw in self.list_history("claim"))}
        return list(found.values())

    def history_blocks(self) -> list[Block]:
        found = {b.key: b for b in (decode_block(raw, self.url) for raw in self.list_history("block"))}
        return list(found.values())


def decode_claim(raw: Raw, where: str) -> Claim:
    return _decode(raw, where, Claim.from_json, "a finished claim")


def decode_block(raw: Raw, where: str) -> Block:
    return _decode(raw, where, Block.from_json, "a spent block")


def _decode(raw: Raw, where: str, decoder: Callable[[Any], R], what: str) -> R:
    try:
        return decoder(json.loads(raw))
    except DECODE_ERRORS as exc:
        raise LedgerError(
            f"{what} in {where} is unreadable ({type(exc).__name__}); restore the ledger from a backup"
        ) from exc
