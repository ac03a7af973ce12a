"""A ledger in a local directory: one JSON document replaced atomically under an exclusive file lock.

For one host (a laptop, a CI job, the demo). Layout: ``ledger.json`` (the snapshot and a commit
counter), ``audit.jsonl`` (one line per commit, written *before* the snapshot and ignored unless the
snapshot's counter reached it, so a crash between the two writes loses nothing and invents nothing),
and ``.lock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gateway.core.ledger import AuditEvent, Change, LedgerState, apply, check_versions
from gateway.core.scheduling import PolicySettings
from gateway.errors import LedgerError, LedgerNotFoundError
from gateway.ledger.codec import EncodedDocument, decode_document


class FileLedgerStore:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.root = Path(directory)
        self.url = f"file://{self.root.resolve()}"
        self._snapshot = self.root / "ledger.json"
        self._audit = self.root / "audit.jsonl"
        self._lock_path = self.root / ".lock"
        # Decoded snapshot and its raw document, valid while ledger.json is the same file (os.replace
        # gives every commit a new inode), so a process re-parses only what other writers committed.
        self._cache: tuple[tuple[int, int, int], LedgerState, EncodedDocument] | None = None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self._lock_path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def create(self, settings: PolicySettings) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self._locked():
            if self._snapshot.exists():
                raise LedgerError(f"a ledger already exists at {self.root}; use it, or pick another --ledger")
            self._write(EncodedDocument.of_state(LedgerState(settings=settings), commit=0))

    def _read(self) -> tuple[LedgerState, EncodedDocument]:
        try:
            with open(self._snapshot, "rb") as handle:
                info = os.fstat(handle.fileno())
                identity = (info.st_ino, info.st_mtime_ns, info.st_size)
                if self._cache is not None and self._cache[0] == identity:
                    return self._cache[1], self._cache[2]
                raw = handle.read()
        except FileNotFoundError:
            raise LedgerNotFoundError(
                f"no ledger at {self.root}; create one with: dpgw init --ledger {self.root}"
            ) from None
        state, document = decode_document(raw, str(self._snapshot))
        self._cache = (identity, state, document)
        return state, document

    def load(self) -> LedgerState:
        return self._read()[0]

    def commit(self, change: Change) -> None:
        if change.is_empty():
            return
        with self._locked():
            state, document = self._read()
            check_versions(state, change)
            new_state = apply(state, change)
            new_document = document.with_change(change)
            if change.events:
                line = {"commit": new_document.commit, "events": [e.to_json() for e in change.events]}
                with open(self._audit, "a") as audit:
                    audit.write(json.dumps(line, separators=(",", ":")) + "\n")
                    audit.flush()
                    os.fsync(audit.fileno())
            identity = self._write(new_document)
            self._cache = (identity, new_state, new_document)

    def _write(self, document: EncodedDocument) -> tuple[int, int, int]:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".ledger-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(document.text())
                handle.flush()
                os.fsync(handle.fileno())
                info = os.fstat(handle.fileno())
            os.replace(tmp, self._snapshot)
            return (info.st_ino, info.st_mtime_ns, info.st_size)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def audit(self) -> list[AuditEvent]:
        committed = self._read()[1].commit
        by_commit: dict[int, list[dict[str, Any]]] = {}
        if self._audit.exists():
            for line in self._audit.read_text().splitlines():
                if line.strip():
                    entry = json.loads(line)
                    by_commit[int(entry["commit"])] = entry["events"]  # a retried commit number wins
        return [
            AuditEvent.from_json(event)
            for number in sorted(by_commit)
            if number <= committed
            for event in by_commit[number]
        ]
