"""A ledger in a local directory: one JSON document replaced atomically under an exclusive file lock.

For one host (a laptop, a CI job, the demo). Layout: ``ledger.json`` (the live state: settings, data
sets, analysts, blocks, unfinished claims, a commit counter, and each history segment's committed
size), ``history-YYYY-MM.jsonl`` (append-only history segments, one line per finished claim and one
per commit's audit events, each naming its commit number), and ``.lock``. A commit appends its history
lines and fsyncs them *before* it replaces ``ledger.json``; readers read a segment only up to the size
``ledger.json`` records, and the next commit cuts off whatever lies beyond it, so a crash between the
two writes loses nothing and doubles nothing. A commit therefore writes the live document plus its own
history lines, however long the history.

``audit.jsonl`` is the audit trail of a ledger written before the split (format 1): read up to the
commit at which the ledger was upgraded (its first commit by this code), never written again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from gateway.core.claims import Claim
from gateway.core.ledger import (
    AuditEvent,
    Change,
    LedgerState,
    apply_live,
    check_history,
    check_versions,
    utc_month,
)
from gateway.core.scheduling import PolicySettings
from gateway.errors import GatewayValidationError, LedgerError, LedgerNotFoundError
from gateway.ledger.base import warn_damaged_audit
from gateway.ledger.codec import DECODE_ERRORS, EncodedDocument, decode_document, decode_events

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
        # History read so far: per segment the committed bytes already parsed, and the finished claims by id
        # (their JSON, decoded on demand). Committed bytes never change, so only new ones are read.
        self._read_upto: dict[str, int] = {}
        self._finished: dict[str, bytes] = {}

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
                self._write(replace(EncodedDocument.of_state(LedgerState(settings=settings), commit=0), history={}))

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
            check_history(change, lambda claim_id: self._lookup(document, claim_id) is not None)
            if document.history is None:  # a format-1 ledger: its finished claims move to history now
                document = replace(document, history={}, legacy_commit=document.commit)
                new_document, finished = document.with_live_change(change, state, upgrading=True)
            else:
                new_document, finished = document.with_live_change(change, state, upgrading=False)
            assert document.history is not None
            number = new_document.commit
            lines = [_line({"commit": number, "claim": c.to_json()}) for c in finished]
            if change.events:
                lines.append(_line({"commit": number, "events": [e.to_json() for e in change.events]}))
            history = dict(document.history)
            if lines:
                segment = f"history-{utc_month()}.jsonl"
                history[segment] = self._append(segment, history.get(segment, 0), b"".join(lines))
            new_document = replace(new_document, history=history, events="[]")
            new_state = apply_live(state, change)
            identity = self._write(new_document)
            self._cache = (identity, new_state, new_document)

    def _append(self, segment: str, committed: int, data: bytes) -> int:
        """Append to a history segment after its committed size (cutting off an interrupted commit's
        lines), fsync, and return the new committed size."""
        path = self.root / segment
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.ftruncate(fd, committed)
            os.lseek(fd, committed, os.SEEK_SET)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if committed == 0:  # a new segment: make its directory entry durable too
            directory = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        return committed + len(data)

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
        document = self._read()[1]
        legacy_upto = document.commit if document.history is None else document.legacy_commit
        by_commit: dict[int, list[AuditEvent]] = {}
        for _, entry in self._lines(self._audit, None):
            if "events" in entry:
                by_commit[int(entry["commit"])] = decode_events(json.dumps(entry["events"]))  # a retried commit wins
        events = [event for n in sorted(by_commit) if n <= legacy_upto for event in by_commit[n]]
        split: list[tuple[int, list[AuditEvent]]] = []
        for segment, size in sorted((document.history or {}).items()):
            for _, entry in self._lines(self.root / segment, size):
                if "events" in entry:
                    split.append((int(entry["commit"]), decode_events(json.dumps(entry["events"]))))
        split.sort(key=lambda item: item[0])  # stable: one commit's lines keep their order
        return events + [event for _, batch in split for event in batch]

    def _lines(self, path: Path, size: int | None, start: int = 0) -> Iterator[tuple[int, dict]]:
        """The whole JSON lines of a history file from ``start`` up to ``size`` bytes, damaged ones skipped
        with a warning (``size`` None: the whole file)."""
        with self._io("read"):
            try:
                with open(path, "rb") as handle:
                    handle.seek(start)
                    raw = handle.read() if size is None else handle.read(max(0, size - start))
            except FileNotFoundError:
                return
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if not isinstance(entry, dict):
                    raise ValueError(f"a JSON {type(entry).__name__}, not an object")
                int(entry["commit"])
                if "events" in entry:
                    decode_events(json.dumps(entry["events"]))
            except (ValueError, KeyError, TypeError, RecursionError) as exc:
                where = f"{path} line {number}" if start == 0 else f"{path} byte {start}+"
                warn_damaged_audit(where, " ".join(str(exc).split())[:200])
                continue
            yield number, entry

    def _catch_up(self, document: EncodedDocument) -> None:
        """Index the finished claims committed since this process last read the history."""
        for segment, size in sorted((document.history or {}).items()):
            done = self._read_upto.get(segment, 0)
            if size <= done:
                continue
            for _, entry in self._lines(self.root / segment, size, done):
                claim = entry.get("claim")
                if isinstance(claim, dict) and isinstance(claim.get("id"), str):
                    self._finished[claim["id"]] = json.dumps(claim).encode()
            self._read_upto[segment] = size

    def _lookup(self, document: EncodedDocument, claim_id: str) -> bytes | None:
        self._catch_up(document)
        return self._finished.get(claim_id)

    def history_claim(self, claim_id: str) -> Claim | None:
        raw = self._lookup(self._read()[1], claim_id)
        return None if raw is None else _decode_claim(raw, f"{self.root} history")

    def history_claims(self) -> list[Claim]:
        self._catch_up(self._read()[1])
        return [_decode_claim(raw, f"{self.root} history") for raw in self._finished.values()]


def _line(record: dict) -> bytes:
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


def _decode_claim(raw: bytes, where: str) -> Claim:
    try:
        return Claim.from_json(json.loads(raw))
    except DECODE_ERRORS as exc:
        raise LedgerError(
            f"a finished claim in {where} is unreadable ({type(exc).__name__}); restore the ledger from a backup"
        ) from exc
