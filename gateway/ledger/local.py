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

from gateway.core.ledger import AuditEvent, Change, LedgerState, apply, check_versions
from gateway.core.scheduling import PolicySettings
from gateway.errors import GatewayValidationError, LedgerError, LedgerNotFoundError
from gateway.ledger.base import warn_damaged_audit
from gateway.ledger.codec import EncodedDocument, decode_document, decode_events

TEMP_PREFIX, TEMP_SUFFIX = ".ledger-", ".tmp"


class FileLedgerStore:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        if "\x00" in os.fspath(directory):
            raise GatewayValidationError("the ledger path contains a NUL character; give a directory path")
        self.root = Path(directory)
        self.url = f"file://{self.root.resolve()}"
        self._snapshot = self.root / "ledger.json"
        self._audit = self.root / "audit.jsonl"
        self._lock_path = self.root / ".lock"
        # Decoded snapshot and its raw document, valid while ledger.json is the same file (os.replace
        # gives every commit a new inode), so a process re-parses only what other writers committed.
        self._cache: tuple[tuple[int, int, int], LedgerState, EncodedDocument] | None = None

    @contextlib.contextmanager
    def _io(self, what: str) -> Iterator[None]:
        """The file system's refusals (a path under /proc, a read-only disk, no permission) as LedgerErrors."""
        try:
            self._check_directory()
            yield
        except OSError as exc:
            raise LedgerError(
                f"cannot {what} the ledger directory {self.root}: {exc.strerror or exc}; check --ledger "
                "(a directory this user may write)"
            ) from None

    def _check_directory(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise LedgerError(
                f"--ledger {self.root} is a file, not a directory: a local ledger is a directory (e.g. ./.dpgw)"
            )
        if self._snapshot.exists() and not self._snapshot.is_file():
            raise LedgerError(f"{self._snapshot} is not a regular file; point --ledger at a ledger directory")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self._lock_path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._remove_stale_temps()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _remove_stale_temps(self) -> None:
        """Under the lock no write is under way, so a temp file is what a killed writer left: remove it."""
        for stale in self.root.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()

    def create(self, settings: PolicySettings) -> None:
        with self._io("create"):
            self.root.mkdir(parents=True, exist_ok=True)
            with self._locked():
                if self._snapshot.exists():
                    raise LedgerError(f"a ledger already exists at {self.root}; use it, or pick another --ledger")
                self._write(EncodedDocument.of_state(LedgerState(settings=settings), commit=0))

    def _read(self) -> tuple[LedgerState, EncodedDocument]:
        with self._io("read"):
            try:
                handle = open(self._snapshot, "rb")
            except (FileNotFoundError, NotADirectoryError):
                raise LedgerNotFoundError(
                    f"no ledger at {self.root}; create one with: dpgw init --ledger {self.root}"
                ) from None
            with handle:
                info = os.fstat(handle.fileno())
                identity = (info.st_ino, info.st_mtime_ns, info.st_size)
                if self._cache is not None and self._cache[0] == identity:
                    return self._cache[1], self._cache[2]
                raw = handle.read()
        state, document = decode_document(raw, str(self._snapshot))
        self._cache = (identity, state, document)
        return state, document

    def load(self) -> LedgerState:
        return self._read()[0]

    def commit(self, change: Change) -> None:
        if change.is_empty():
            return
        with self._io("write"), self._locked():
            state, document = self._read()
            check_versions(state, change)
            new_state = apply(state, change)
            new_document = document.with_change(change)
            if change.events:
                line = {"commit": new_document.commit, "events": [e.to_json() for e in change.events]}
                with open(self._audit, "a+b") as audit:
                    # A writer killed mid-line left a torn last line: end it, so this line stays whole.
                    size = os.fstat(audit.fileno()).st_size
                    torn = size > 0 and os.pread(audit.fileno(), 1, size - 1) != b"\n"
                    text = ("\n" if torn else "") + json.dumps(line, separators=(",", ":")) + "\n"
                    audit.write(text.encode())
                    audit.flush()
                    os.fsync(audit.fileno())
            identity = self._write(new_document)
            self._cache = (identity, new_state, new_document)

    def _write(self, document: EncodedDocument) -> tuple[int, int, int]:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
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
        """Committed events, oldest first; a damaged line is skipped with a ``DamagedAuditWarning`` naming it."""
        committed = self._read()[1].commit
        by_commit: dict[int, list[AuditEvent]] = {}
        with self._io("read"):
            raw = self._audit.read_bytes() if self._audit.exists() else b""
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if not isinstance(entry, dict):
                    raise ValueError(f"a JSON {type(entry).__name__}, not an object")
                commit = int(entry["commit"])
                events = decode_events(json.dumps(entry["events"]))
            except (ValueError, KeyError, TypeError, RecursionError) as exc:
                warn_damaged_audit(f"{self._audit} line {number}", " ".join(str(exc).split())[:200])
                continue
            by_commit[commit] = events  # a retried commit number wins
        return [event for number in sorted(by_commit) if number <= committed for event in by_commit[number]]
