"""JSON encoding of a whole ledger snapshot, shared by the document-based stores.

``EncodedDocument`` keeps each record's JSON text, so a commit re-encodes only the records it
touches and the document is assembled by joining strings: commits stay cheap as the ledger grows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from decimal import InvalidOperation
from typing import Any

from gateway.core.analysts import Analyst
from gateway.core.blocks import Block
from gateway.core.claims import Claim
from gateway.core.datasets import Dataset
from gateway.core.ledger import AuditEvent, Change, LedgerState, RetiredDays
from gateway.core.scheduling import PolicySettings
from gateway.errors import GatewayError, LedgerError

FORMAT = 1  # one document: live records and finished claims alike
SPLIT_FORMAT = 2  # the live document of a store that keeps finished claims in history segments
SECTIONS = ("datasets", "blocks", "claims", "analysts", "retired")
OPTIONAL = ("analysts", "retired")  # absent from ledgers before team mode, and before spent blocks left


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


encode_record = _dumps  # a record's stored JSON text, as the document holds it


@dataclass(frozen=True)
class EncodedDocument:
    settings: str
    commit: int
    records: dict[str, dict[str, str]]  # section -> key -> record JSON
    events: str = "[]"  # the audit events of the commit that produced this document (the S3 store's outbox)
    # Split format only: each history segment's committed size in bytes (what lies beyond is an interrupted
    # commit's, never read and cut off by the next commit), and the last commit of the format-1 audit file.
    history: dict[str, int] | None = None
    legacy_commit: int = 0
    # S3's split format only: the claims this commit finished (its outbox, copied out to history objects by
    # the next commit like ``events``); None in a format-1 document.
    finished: dict[str, str] | None = None
    # Directory split format only: every finished claim in the segments has its index entry (a ledger
    # split before the index existed is indexed by its next commit; until then readers scan).
    indexed: bool = False
    # S3's split format only: the blocks this commit moved out of the live state (its outbox, like ``finished``).
    spent: dict[str, str] | None = None

    @classmethod
    def of_state(cls, state: LedgerState, commit: int) -> EncodedDocument:
        return cls(
            settings=_dumps(state.settings.model_dump(mode="json")),
            commit=commit,
            records={
                "datasets": {k: _dumps(d.model_dump(mode="json")) for k, d in state.datasets.items()},
                "blocks": {k: _dumps(b.to_json()) for k, b in state.blocks.items()},
                "claims": {k: _dumps(c.to_json()) for k, c in state.claims.items()},
                "analysts": {k: _dumps(a.to_json()) for k, a in state.analysts.items()},
                "retired": {k: _dumps(r.to_json()) for k, r in state.retired.items()},
            },
        )

    @classmethod
    def of_json(cls, document: dict[str, Any]) -> EncodedDocument:
        return cls(
            settings=_dumps(document["settings"]),
            commit=int(document["commit"]),
            records={s: {k: _dumps(v) for k, v in document.get(s, {}).items()} for s in SECTIONS},
            events=_dumps(document.get("events", [])),
            history={str(k): int(v) for k, v in document["history"].items()} if "history" in document else None,
            legacy_commit=int(document.get("legacy_commit", 0)),
            finished={str(k): _dumps(v) for k, v in document["finished"].items()} if "finished" in document else None,
            indexed=document.get("indexed") is True,
            spent={str(k): _dumps(v) for k, v in document["spent"].items()} if "spent" in document else None,
        )

    def with_change(self, change: Change) -> EncodedDocument:
        updates = {
            "datasets": {d.name: _dumps(d.model_dump(mode="json")) for d in change.datasets},
            "blocks": {b.key: _dumps(b.to_json()) for b in change.blocks},
            "claims": {c.id: _dumps(c.to_json()) for c in change.claims},
            "analysts": {a.name: _dumps(a.to_json()) for a in change.analysts},
            "retired": {r.dataset: _dumps(r.to_json()) for r in change.retired},
        }
        records = {s: {**self.records[s], **updates[s]} for s in SECTIONS}
        if change.spent:
            gone = {b.key for b in change.spent}
            records["blocks"] = {k: v for k, v in records["blocks"].items() if k not in gone}
        events = _dumps([e.to_json() for e in change.events])
        return replace(self, commit=self.commit + 1, records=records, events=events)

    def with_live_change(
        self, change: Change, state: LedgerState, upgrading: bool
    ) -> tuple[EncodedDocument, tuple[Claim, ...]]:
        """The next live document, and the claims it hands to history: those the change finishes, plus (on a
        format-1 document's first write, ``upgrading``) every finished claim it still holds."""
        finished = tuple(c for c in change.claims if c.state.is_terminal)
        if upgrading:
            finished = (*(c for c in state.claims.values() if c.state.is_terminal), *finished)
        document = self.with_change(change)
        gone = {c.id for c in finished}
        if not gone:
            return document, finished
        claims = {k: v for k, v in document.records["claims"].items() if k not in gone}
        return replace(document, records={**document.records, "claims": claims}), finished

    def text(self) -> str:
        sections = ",".join(
            f'"{s}":{{' + ",".join(f"{_dumps(k)}:{v}" for k, v in self.records[s].items()) + "}" for s in SECTIONS
        )
        split = self.history is not None or self.finished is not None
        extra = ""
        if self.history is not None:
            extra += f',"history":{_dumps(self.history)},"legacy_commit":{self.legacy_commit}'
            if self.indexed:
                extra += ',"indexed":true'
        if self.finished is not None:
            extra += ',"finished":{' + ",".join(f"{_dumps(k)}:{v}" for k, v in self.finished.items()) + "}"
        if self.spent is not None:
            extra += ',"spent":{' + ",".join(f"{_dumps(k)}:{v}" for k, v in self.spent.items()) + "}"
        return (
            f'{{"format":{SPLIT_FORMAT if split else FORMAT},"commit":{self.commit},"settings":{self.settings},'
            f'{sections},"events":{self.events}{extra}}}'
        )


# What a damaged record can raise while it is decoded: wrong types (a list where a map belongs), missing
# keys, bad numbers or dates, invalid settings or specs (the model's own errors), absurd nesting.
DECODE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, InvalidOperation, RecursionError, GatewayError)


def decode_document(raw: str | bytes, where: str) -> tuple[LedgerState, EncodedDocument]:
    """The state and its encoded form from a stored snapshot; a damaged one is a ``LedgerError`` naming it."""
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError(f"the document is a JSON {type(data).__name__}, not an object")
        if data.get("format") not in (FORMAT, SPLIT_FORMAT):
            raise ValueError(f"unsupported ledger format {str(data.get('format'))[:40]!r}")
        for section in SECTIONS:
            if not isinstance(data.get(section, {} if section in OPTIONAL else None), dict):
                raise ValueError(f"{section!r} must be an object of records")
        if not isinstance(data.get("events", []), list):
            raise ValueError("'events' must be a list")
        if not isinstance(data.get("finished", {}), dict) or not isinstance(data.get("spent", {}), dict):
            raise ValueError("'finished' must be an object of claims")
        if not isinstance(data.get("history", {}), dict):
            raise ValueError("'history' must be an object of segment sizes")
        state = LedgerState(
            settings=PolicySettings.model_validate(data["settings"]),
            datasets={k: _keyed(k, Dataset.model_validate(v), "name") for k, v in data["datasets"].items()},
            blocks={k: _keyed(k, Block.from_json(v).check(), "key") for k, v in data["blocks"].items()},
            claims={k: _keyed(k, Claim.from_json(v), "id") for k, v in data["claims"].items()},
            analysts={k: _keyed(k, Analyst.from_json(v), "name") for k, v in data.get("analysts", {}).items()},
            retired={k: _keyed(k, RetiredDays.from_json(v), "dataset") for k, v in data.get("retired", {}).items()},
        )
        return state, EncodedDocument.of_json(data)
    except DECODE_ERRORS as exc:
        detail = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise LedgerError(
            f"the ledger at {where} is unreadable ({type(exc).__name__}: {detail}); restore it from a backup "
            "or its audit trail, or point --ledger elsewhere"
        ) from exc


def _keyed(key: str, record: Any, attribute: str) -> Any:
    if getattr(record, attribute) != key:
        raise ValueError(f"record {key[:80]!r} holds {str(getattr(record, attribute))[:80]!r}")
    return record


def decode_events(raw: str | bytes) -> list[AuditEvent]:
    """One commit's audit events; raises ``ValueError`` (with the reason) when they are damaged."""
    try:
        events = json.loads(raw)
        if not isinstance(events, list):
            raise ValueError(f"a JSON {type(events).__name__}, not a list of events")
        return [AuditEvent.from_json(e) for e in events]
    except DECODE_ERRORS as exc:
        raise ValueError(" ".join(str(exc).split())[:200] or type(exc).__name__) from exc
