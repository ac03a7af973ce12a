"""A ledger on S3: a live document replaced by compare-and-swap on its ETag, and create-only history objects.

Layout under ``s3://bucket/prefix``: ``ledger.json`` (the live state: settings, data sets, analysts,
blocks, unfinished claims, a commit counter, plus the commit's *outbox*: its audit events, the
claims it finished and the blocks it spent), ``audit/<commit>.json`` (the events of every earlier
commit), ``claims/<id>.json`` (every finished claim, with its result) and ``blocks/<dataset>/<day>.json``
(every block that left the live state, retired and spent). Multi-object S3 writes are not atomic,
so the live document is the only thing a commit changes: a commit first copies the *previous*
commit's outbox into create-only history objects (``IfNoneMatch="*"``; whoever writes one first wins,
every copy is identical because it comes from a committed document), then puts the new live document
with ``IfMatch`` on the ETag it read. A crash between the two writes loses nothing (the outbox is still
in the live document) and invents nothing (only committed documents are copied out). A commit thus
writes the live document and the previous commit's history objects, however long the history.

A 412 (another writer replaced the snapshot) or 409 (a conditional write in flight) re-reads and
re-checks the change's record versions: the change is still applied if none of its records moved,
and raises ``LedgerConflictError`` for the caller to recompute if one did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from gateway.core.ledger import AuditEvent, Change, LedgerState
from gateway.core.scheduling import PolicySettings
from gateway.errors import LedgerError, LedgerNotFoundError
from gateway.ledger.aws import Backoff, client_errors, error_code, make_client, unavailable
from gateway.ledger.base import warn_damaged_audit
from gateway.ledger.codec import EncodedDocument, decode_document, decode_events, encode_record
from gateway.ledger.template import Kind, LedgerTemplate, Raw, Snapshot

SWAP_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
MISSING_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "404"})


class S3LedgerStore(LedgerTemplate[tuple[EncodedDocument, str]]):
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
        body = replace(EncodedDocument.of_state(LedgerState(settings=settings), commit=0), finished={}).text()
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

    # --- the template's primitives ---------------------------------------------------------------

    @property
    def commit_attempts(self) -> int:  # type: ignore[override]
        return self.backoff.attempts

    def pause(self, attempt: int) -> None:
        self.backoff.pause(attempt)

    def read_live(self) -> Snapshot[tuple[EncodedDocument, str]]:
        state, document, etag = self._read()
        return Snapshot(state, (document, etag))

    def read_history_claim(
        self, claim_id: str, live: Snapshot[tuple[EncodedDocument, str]] | None = None
    ) -> Raw | None:
        return self._finished_raw(live.token[0] if live is not None else self._read()[1], claim_id)

    def append_history(self, live: Snapshot[tuple[EncodedDocument, str]] | None, change: Change) -> EncodedDocument:
        """Copy the committed document's outbox out to history objects; the next document carries this
        change's outbox (its finished claims, spent blocks and events)."""
        assert live is not None
        document = live.token[0]
        self._copy_out(document)
        new_document, finished = document.with_live_change(change, live.state, upgrading=document.finished is None)
        return replace(
            new_document,
            finished={c.id: encode_record(c.to_json()) for c in finished},
            spent={b.key: encode_record(b.to_json()) for b in change.spent},
        )

    def write_live(
        self,
        live: Snapshot[tuple[EncodedDocument, str]] | None,
        change: Change,
        new_state: LedgerState | None,
        appended: EncodedDocument,
    ) -> bool:
        assert live is not None and new_state is not None
        try:
            response = self.client.put_object(
                Bucket=self.bucket, Key=self._key("ledger.json"), Body=appended.text().encode(), IfMatch=live.token[1]
            )
        except client_errors() as exc:
            if error_code(exc) in SWAP_CODES:
                return False
            raise unavailable(self.url, exc) from exc
        self._cache = (response["ETag"], new_state, appended)
        return True

    def list_history(self, kind: Kind) -> Iterable[Raw]:
        document = self._read()[1]
        outbox = (document.finished if kind == "claim" else document.spent) or {}
        found: list[Raw] = list(outbox.values())
        folder = "claims/" if kind == "claim" else "blocks/"
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(folder))
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"].removeprefix(self._key(folder)).removesuffix(".json")
                    if name not in outbox:
                        found.append(self.client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read())
        except client_errors() as exc:
            raise unavailable(self.url, exc) from exc
        return found

    def _copy_out(self, document: EncodedDocument) -> None:
        """The committed document's outbox into create-only history objects (every copy is identical)."""
        if document.commit > 0 and document.events != "[]":
            self._create(self._audit_key(document.commit), document.events)
        for claim_id, raw in (document.finished or {}).items():
            self._create(self._claim_key(claim_id), raw)
        for key, raw in (document.spent or {}).items():
            self._create(self._key(f"blocks/{key}.json"), raw)

    def _create(self, key: str, body: str) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body.encode(), IfNoneMatch="*")
        except client_errors() as exc:
            if error_code(exc) not in SWAP_CODES:  # 412: already copied out by an earlier writer
                raise unavailable(self.url, exc) from exc

    def _claim_key(self, claim_id: str) -> str:
        return self._key(f"claims/{claim_id}.json")

    def _finished_raw(self, document: EncodedDocument, claim_id: str) -> str | bytes | None:
        """A finished claim's JSON: from the live document's outbox, else its history object."""
        if document.finished is not None and claim_id in document.finished:
            return document.finished[claim_id]
        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._claim_key(claim_id))["Body"].read()
        except client_errors() as exc:
            if error_code(exc) in MISSING_CODES:
                return None
            raise unavailable(self.url, exc) from exc
        return body

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
