"""The ledger store port: load a snapshot, commit a conditional change, read the audit trail."""

from __future__ import annotations

import warnings
from typing import Protocol

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
        """A consistent snapshot; raises LedgerNotFoundError if there is no ledger."""
        ...

    def commit(self, change: Change) -> None: ...

    def audit(self) -> list[AuditEvent]:
        """Every committed audit event, oldest first."""
        ...


class DamagedAuditWarning(UserWarning):
    """An audit record could not be read (a torn or corrupted line); readers skip it and say where."""


def warn_damaged_audit(where: str, reason: str) -> None:
    warnings.warn(f"skipped a damaged audit record at {where}: {reason}", DamagedAuditWarning, stacklevel=3)
