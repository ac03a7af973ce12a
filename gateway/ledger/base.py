"""The ledger store port: load the live state, commit a conditional change, read the history.

The live state holds what scheduling needs (settings, data sets, analysts, blocks that can still grant,
claims not yet finished, and per data set the days whose blocks left); finished claims, spent blocks
(``core.ledger.is_spent``) and audit events are history, appended in the same atomic commit that
finishes or spends them and read only by status, result, audit, ``blocks list --all`` and reports.
"""

from __future__ import annotations

import warnings
from typing import Protocol

from gateway.core.blocks import Block
from gateway.core.claims import Claim
from gateway.core.ledger import AuditEvent, Change, LedgerState
from gateway.core.scheduling import PolicySettings


class LedgerStore(Protocol):
    """Persistence for the pure ledger.

    ``commit`` is atomic and conditional: it applies every record of the change or none, and raises
    ``LedgerConflictError`` if any record's stored version is not the one the change replaces (see
    ``gateway.core.ledger.check_versions``). Reads never modify the store.
    """

    url: str
    # A store may also set ``records_per_commit: int`` (the most records one commit may write, its audit
    # events counting as one); without it a commit may be any size, and bulk changes commit at once.

    def create(self, settings: PolicySettings) -> None:
        """Create an empty ledger; raises LedgerError if one already exists."""
        ...

    def load(self) -> LedgerState:
        """A consistent snapshot of the live state; raises LedgerNotFoundError if there is no ledger."""
        ...

    def commit(self, change: Change) -> None: ...

    def audit(self) -> list[AuditEvent]:
        """Every committed audit event, oldest first."""
        ...

    def history_claim(self, claim_id: str) -> Claim | None:
        """A finished claim by id (with its result and detail), or None if history has no such claim."""
        ...

    def history_claims(self) -> list[Claim]:
        """Every finished claim in history (in no particular order)."""
        ...

    def history_blocks(self) -> list[Block]:
        """Every block that left the live state, retired and spent (in no particular order)."""
        ...


def full_view(store: LedgerStore) -> LedgerState:
    """The live state with every finished claim and spent block added back: for reports that read all of history."""
    state = store.load()
    finished = [c for c in store.history_claims() if c.id not in state.claims]
    spent = [b for b in store.history_blocks() if b.key not in state.blocks]
    return state.with_(claims=finished, blocks=spent) if finished or spent else state


def find_claim(store: LedgerStore, state: LedgerState, claim_id: str) -> Claim | None:
    """A claim from the live state, else from history."""
    return state.claims.get(claim_id) or store.history_claim(claim_id)


class DamagedAuditWarning(UserWarning):
    """An audit record could not be read (a torn or corrupted line); readers skip it and say where."""


def warn_damaged_audit(where: str, reason: str) -> None:
    warnings.warn(f"skipped a damaged audit record at {where}: {reason}", DamagedAuditWarning, stacklevel=3)
