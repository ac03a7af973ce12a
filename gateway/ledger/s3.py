"""A ledger on S3: one JSON document, replaced by compare-and-swap on its ETag.

Layout under ``s3://bucket/prefix``: ``ledger.json`` (the snapshot, a commit counter and the audit
events of the commit that wrote it) and ``audit/<commit>.json`` (the events of every earlier commit).
Multi-object S3 writes are not atomic, so the snapshot is the only thing a commit changes: a commit
first copies the *previous* commit's events out of the snapshot into a create-only audit object
(``IfNoneMatch="*"``; whoever writes it first wins, every copy is identical), then puts the new
snapshot with ``IfMatch`` on the ETag it read. A crash between the two writes loses no event (they are
still in the snapshot) and invents none (only committed snapshots are copied out).

A 412 (another writer replaced the snapshot) or 409 (a conditional write in flight) re-reads and
re-checks the change's record versions: the change is still applied if none of its records moved,
and raises ``LedgerConflictError`` for the caller to recompute if one did.
"""

from __future__ import annotations

from typing import Any

from gateway.core.ledger import AuditEvent, Change, LedgerState, apply, check_versions
from gateway.core.scheduling import PolicySettings
from gateway.errors import LedgerConflictError, LedgerError, LedgerNotFoundError
from gateway.ledger.aws import Backoff, client_errors, error_code, make_client, unavailable
from gateway.ledger.base import NoSeparateHistory, warn_damaged_audit
from gateway.ledger.codec import EncodedDocument, decode_document, decode_events

SWAP_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
MISSING_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "404"})


class S3LedgerStore(NoSeparateHistory):
    def __init__(self, bucket: str, prefix: str = "", client: Any = None, backoff: Backoff | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._client = client
        self.backoff = backoff or Backoff()
        self._cache: tuple[str, LedgerState, EncodedDocument] | None = None  # (etag, state, document)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client("s3")
        return self._client

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def _audit_key(self, commit: int) -> str:
        return self._key(f"audit/{commit:012d}.json")

    def create(self, settings: PolicySettings) -> None:
        body = EncodedDocument.of_state(LedgerState(settings=settings), commit=0).text()
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key("ledger.json"), Body=body.encode(), IfNoneMatch="*"
            )
        except client_errors() as exc:
            if error_code(exc) in SWAP_CODES:
                raise LedgerError(f"a ledger already exists at {self.url}; use it, or pick another --ledger") from exc
            if error_code(exc) == "NoSuchBucket":
                raise LedgerNotFoundError(
                    f"bucket {self.bucket!r} does not exist; create it first (aws s3 mb s3://{self.bucket})"
                ) from exc
            raise unavailable(self.url, exc) from exc

    def _read(self) -> tuple[LedgerState, EncodedDocument, str]:
        """The snapshot and its ETag; an unchanged snapshot costs a 304 instead of a download."""
        extra = {"IfNoneMatch": self._cache[0]} if self._cache else {}
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key("ledger.json"), **extra)
            raw = response["Body"].read()
        except client_errors() as exc:
            status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if self._cache is not None and (status == 304 or error_code(exc) == "304"):
                etag, state, document = self._cache
                return state, document, etag
            if error_code(exc) in MISSING_CODES:
                raise LedgerNotFoundError(
                    f"no ledger at {self.url}; create one with: dpgw init --ledger {self.url}"
                ) from exc
            raise unavailable(self.url, exc) from exc
        state, document = decode_document(raw, str(self.url))
        etag = response["ETag"]
        self._cache = (etag, state, document)
        return state, document, etag

    def load(self) -> LedgerState:
        return self._read()[0]

    def commit(self, change: Change) -> None:
        if change.is_empty():
            return
        for attempt in range(self.backoff.attempts):
            state, document, etag = self._read()
            check_versions(state, change)
            new_state = apply(state, change)  # checks every block's accounts before anything is written
            self._copy_out_events(document)
            new_document = document.with_change(change)
            try:
                response = self.client.put_object(
                    Bucket=self.bucket, Key=self._key("ledger.json"), Body=new_document.text().encode(), IfMatch=etag
                )
            except client_errors() as exc:
                if error_code(exc) in SWAP_CODES:
                    self.backoff.pause(attempt)
                    continue
                raise unavailable(self.url, exc) from exc
            self._cache = (response["ETag"], new_state, new_document)
            return
        raise LedgerConflictError(
            f"the ledger at {self.url} kept changing during {self.backoff.attempts} attempts to commit"
        )

    def _copy_out_events(self, document: EncodedDocument) -> None:
        if document.commit == 0 or document.events == "[]":
            return
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._audit_key(document.commit), Body=document.events.encode(), IfNoneMatch="*"
            )
        except client_errors() as exc:
            if error_code(exc) not in SWAP_CODES:  # 412: already copied out by an earlier writer
                raise unavailable(self.url, exc) from exc

    def audit(self) -> list[AuditEvent]:
        _, document, _ = self._read()
        by_commit: dict[int, str | bytes] = {document.commit: document.events}
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key("audit/")
            )
            keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
            for key in keys:
                try:
                    number = int(key.rsplit("/", 1)[1].removesuffix(".json"))
                except ValueError:
                    warn_damaged_audit(f"s3://{self.bucket}/{key}", "not a commit's audit object")
                    continue
                if number < document.commit:
                    by_commit[number] = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except client_errors() as exc:
            raise unavailable(self.url, exc) from exc
        events: list[AuditEvent] = []
        for number in sorted(by_commit):
            try:
                events += decode_events(by_commit[number])
            except ValueError as exc:
                warn_damaged_audit(f"{self.url} commit {number}", str(exc))
        return events
