"""A ledger in a local directory: one JSON document replaced atomically under an exclusive file lock.

For one host (a laptop, a CI job, the demo). Layout: ``ledger.json`` (the live state: settings, data
sets, analysts, blocks, unfinished claims, a commit counter, and each history segment's committed
size), ``history-YYYY-MM.jsonl`` (append-only history segments, one line per finished claim and one
per commit's audit events, each naming its commit number), and ``.lock``. A commit appends its history
lines and fsyncs them *before* it replaces ``ledger.json``; readers read a segment only up to the size
``ledger.json`` records, and the next commit cuts off whatever lies beyond it, so a crash between the
two writes loses nothing and doubles nothing. A commit therefore writes the live document plus its own
history lines, however long the history.

``history-index/<xx>/<digest>.json`` finds a finished claim without reading the history: one small file
per claim (named by a digest of its id) giving the segment, offset and length of its line, written and
fsynced with the segments before the live document. An entry is believed only if the line it points at
lies within the committed size and holds that claim, so one left by an interrupted commit (whose bytes
the next commit may overwrite with other lines) is ignored. ``"indexed": true`` in ``ledger.json`` says
every committed claim has its entry; a ledger split before the index existed is read by scanning its
segments until its next commit, which indexes them all once.

``audit.jsonl`` is the audit trail of a ledger written before the split (format 1): read up to the
commit at which the ledger was upgraded (its first commit by this code), never written again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from gateway.core.ledger import AuditEvent, Change, LedgerState, utc_month
from gateway.core.scheduling import PolicySettings
from gateway.errors import GatewayValidationError, LedgerError, LedgerNotFoundError
from gateway.ledger.base import warn_damaged_audit
from gateway.ledger.codec import EncodedDocument, decode_document, decode_events
from gateway.ledger.template import Kind, LedgerTemplate, Raw, Snapshot

TEMP_PREFIX, TEMP_SUFFIX = ".ledger-", ".tmp"
INDEX_DIR = "history-index"


class FileLedgerStore(LedgerTemplate[EncodedDocument]):
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
        self._spent: dict[str, bytes] = {}  # blocks that left the live state, by key (their JSON)

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
                empty = EncodedDocument.of_state(LedgerState(settings=settings), commit=0)
                self._write(replace(empty, history={}, indexed=True))

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

    # --- the template's primitives ---------------------------------------------------------------

    def exclusive(self) -> contextlib.AbstractContextManager[Any]:
        return self._exclusive()

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        with self._io("write"), self._locked():
            yield

    def read_live(self) -> Snapshot[EncodedDocument]:
        state, document = self._read()
        return Snapshot(state, document)

    def read_history_claim(self, claim_id: str, live: Snapshot[EncodedDocument] | None = None) -> Raw | None:
        return self._finished_raw(live.token if live is not None else self._read()[1], claim_id)

    def list_history(self, kind: Kind) -> Iterable[Raw]:
        self._catch_up(self._read()[1])
        return list((self._finished if kind == "claim" else self._spent).values())

    def append_history(self, live: Snapshot[EncodedDocument] | None, change: Change) -> EncodedDocument:
        """Append the change's history lines (and the index entries of its finished claims), fsynced; returns
        the next live document, which names their committed size."""
        assert live is not None
        state, document = live.state, live.token
        if document.history is None:  # a format-1 ledger: its finished claims move to history now
            document = replace(document, history={}, legacy_commit=document.commit, indexed=True)
            new_document, finished = document.with_live_change(change, state, upgrading=True)
        else:
            new_document, finished = document.with_live_change(change, state, upgrading=False)
        assert document.history is not None
        number = new_document.commit
        history = dict(document.history)
        # A split ledger from before the index: index what its segments hold, once, in this commit.
        index = [] if document.indexed else list(self._claim_lines(document))
        claim_lines = [_line({"commit": number, "claim": c.to_json()}) for c in finished]
        lines = [*claim_lines, *(_line({"commit": number, "block": b.to_json()}) for b in change.spent)]
        if change.events:
            lines.append(_line({"commit": number, "events": [e.to_json() for e in change.events]}))
        if lines:
            segment = f"history-{utc_month()}.jsonl"
            offset = history.get(segment, 0)
            for claim, line in zip(finished, claim_lines, strict=True):
                index.append((claim.id, segment, offset, len(line)))
                offset += len(line)
            history[segment] = self._append(segment, history.get(segment, 0), b"".join(lines))
        self._write_index(index)
        return replace(new_document, history=history, events="[]", indexed=True)

    def write_live(
        self,
        live: Snapshot[EncodedDocument] | None,
        change: Change,
        new_state: LedgerState | None,
        appended: EncodedDocument,
    ) -> bool:
        assert new_state is not None  # under the lock: nobody else writes, so this write cannot lose a race
        identity = self._write(appended)
        self._cache = (identity, new_state, appended)
        return True

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

    def _index_path(self, claim_id: str) -> Path:
        """A finished claim's index entry: named by a digest of its id (any id is a safe, short file name)."""
        digest = hashlib.sha256(claim_id.encode()).hexdigest()
        return self.root / INDEX_DIR / digest[:2] / f"{digest[2:40]}.json"

    def _write_index(self, entries: list[tuple[str, str, int, int]]) -> None:
        """Write each claim's index entry (segment, offset, length of its history line) by atomic replace,
        durably, before the live document that commits those lines. An entry is believed only when the line
        it points at is committed and holds that claim, so one left by an interrupted commit is harmless."""
        bulk = len(entries) > 64  # an upgrade indexing a whole history: one sync at the end, not one per file
        directories: set[Path] = set()
        for claim_id, segment, offset, length in entries:
            path = self._index_path(claim_id)
            for directory in (path.parent.parent, path.parent):
                if not directory.exists():
                    directory.mkdir(exist_ok=True)
                    directories.add(directory.parent)
            data = json.dumps({"id": claim_id, "segment": segment, "offset": offset, "length": length}).encode()
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
            try:
                os.write(fd, data)
                if not bulk:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            directories.add(path.parent)
        if bulk:
            os.sync()
            return
        for directory in directories:
            handle = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(handle)
            finally:
                os.close(handle)

    def _indexed(self, document: EncodedDocument, claim_id: str) -> bytes | None:
        """A finished claim's JSON through its index entry: one small file and one line, whatever the history."""
        with self._io("read"):
            try:
                raw = self._index_path(claim_id).read_bytes()
            except FileNotFoundError:
                return None
            try:
                entry = json.loads(raw)
                segment, offset, length = str(entry["segment"]), int(entry["offset"]), int(entry["length"])
            except (ValueError, KeyError, TypeError) as exc:
                raise LedgerError(
                    f"the history index entry of {claim_id[:80]!r} in {self.root / INDEX_DIR} is unreadable "
                    f'({type(exc).__name__}); remove it and set "indexed" to false in ledger.json to rebuild'
                ) from None
            committed = (document.history or {}).get(segment)
            if committed is None or offset < 0 or length <= 0 or offset + length > committed:
                return None  # written by a commit that never completed
            with open(self.root / segment, "rb") as handle:
                handle.seek(offset)
                line = handle.read(length)
        try:
            claim = json.loads(line).get("claim")
        except (ValueError, AttributeError):
            return None  # the bytes there belong to another commit's lines
        if not isinstance(claim, dict) or claim.get("id") != claim_id:
            return None
        return json.dumps(claim).encode()

    def _finished_raw(self, document: EncodedDocument, claim_id: str) -> bytes | None:
        """A finished claim's JSON: through the index, or by reading the history of a ledger not indexed yet."""
        if document.indexed:
            return self._indexed(document, claim_id)
        return self._lookup(document, claim_id)

    def _claim_lines(self, document: EncodedDocument) -> Iterator[tuple[str, str, int, int]]:
        """Every finished claim's line in the committed history: (id, segment, offset, length)."""
        for segment, size in sorted((document.history or {}).items()):
            for offset, length, entry in self._lines(self.root / segment, size):
                claim = entry.get("claim")
                if isinstance(claim, dict) and isinstance(claim.get("id"), str):
                    yield claim["id"], segment, offset, length

    def audit(self) -> list[AuditEvent]:
        """Committed events, oldest first; a damaged line is skipped with a ``DamagedAuditWarning`` naming it."""
        document = self._read()[1]
        legacy_upto = document.commit if document.history is None else document.legacy_commit
        by_commit: dict[int, list[AuditEvent]] = {}
        for _, _, entry in self._lines(self._audit, None):
            if "events" in entry:
                by_commit[int(entry["commit"])] = decode_events(json.dumps(entry["events"]))  # a retried commit wins
        events = [event for n in sorted(by_commit) if n <= legacy_upto for event in by_commit[n]]
        split: list[tuple[int, list[AuditEvent]]] = []
        for segment, size in sorted((document.history or {}).items()):
            for _, _, entry in self._lines(self.root / segment, size):
                if "events" in entry:
                    split.append((int(entry["commit"]), decode_events(json.dumps(entry["events"]))))
        split.sort(key=lambda item: item[0])  # stable: one commit's lines keep their order
        return events + [event for _, batch in split for event in batch]

    def _lines(self, path: Path, size: int | None, start: int = 0) -> Iterator[tuple[int, int, dict]]:
        """The whole JSON lines of a history file from ``start`` up to ``size`` bytes, each with its offset and
        length (newline included), damaged ones skipped with a warning (``size`` None: the whole file)."""
        with self._io("read"):
            try:
                with open(path, "rb") as handle:
                    handle.seek(start)
                    raw = handle.read() if size is None else handle.read(max(0, size - start))
            except FileNotFoundError:
                return
        offset = start
        for number, line in enumerate(raw.split(b"\n"), start=1):
            at, offset = offset, offset + len(line) + 1
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
            yield at, len(line) + 1, entry

    def _catch_up(self, document: EncodedDocument) -> None:
        """Index the finished claims committed since this process last read the history."""
        for segment, size in sorted((document.history or {}).items()):
            done = self._read_upto.get(segment, 0)
            if size <= done:
                continue
            for _, _, entry in self._lines(self.root / segment, size, done):
                claim, block = entry.get("claim"), entry.get("block")
                if isinstance(claim, dict) and isinstance(claim.get("id"), str):
                    self._finished[claim["id"]] = json.dumps(claim).encode()
                if isinstance(block, dict):
                    self._spent[f"{block.get('dataset')}/{block.get('day')}"] = json.dumps(block).encode()
            self._read_upto[segment] = size

    def _lookup(self, document: EncodedDocument, claim_id: str) -> bytes | None:
        self._catch_up(document)
        return self._finished.get(claim_id)


def _line(record: dict) -> bytes:
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()
