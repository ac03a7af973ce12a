"""JSON encoding of a whole ledger snapshot, shared by the document-based stores.

``EncodedDocument`` keeps each record's JSON text, so a commit re-encodes only the records it
touches and the document is assembled by joining strings: commits stay cheap as the ledger grows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gateway.core.analysts import Analyst
from gateway.core.blocks import Block
from gateway.core.claims import Claim
from gateway.core.datasets import Dataset
from gateway.core.ledger import Change, LedgerState
from gateway.core.scheduling import PolicySettings
from gateway.errors import LedgerError

FORMAT = 1
SECTIONS = ("datasets", "blocks", "claims", "analysts")  # "analysts" may be absent: ledgers before team mode


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True)
class EncodedDocument:
    settings: str
    commit: int
    records: dict[str, dict[str, str]]  # section -> key -> record JSON
    events: str = "[]"  # the audit events of the commit that produced this document (the S3 store's outbox)

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
            },
        )

    @classmethod
    def of_json(cls, document: dict[str, Any]) -> EncodedDocument:
        return cls(
            settings=_dumps(document["settings"]),
            commit=int(document["commit"]),
            records={s: {k: _dumps(v) for k, v in document.get(s, {}).items()} for s in SECTIONS},
            events=_dumps(document.get("events", [])),
        )

    def with_change(self, change: Change) -> EncodedDocument:
        updates = {
            "datasets": {d.name: _dumps(d.model_dump(mode="json")) for d in change.datasets},
            "blocks": {b.key: _dumps(b.to_json()) for b in change.blocks},
            "claims": {c.id: _dumps(c.to_json()) for c in change.claims},
            "analysts": {a.name: _dumps(a.to_json()) for a in change.analysts},
        }
        records = {s: {**self.records[s], **updates[s]} for s in SECTIONS}
        events = _dumps([e.to_json() for e in change.events])
        return EncodedDocument(self.settings, self.commit + 1, records, events)

    def text(self) -> str:
        sections = ",".join(
            f'"{s}":{{' + ",".join(f"{_dumps(k)}:{v}" for k, v in self.records[s].items()) + "}" for s in SECTIONS
        )
        return (
            f'{{"format":{FORMAT},"commit":{self.commit},"settings":{self.settings},{sections},"events":{self.events}}}'
        )


def decode_document(raw: str | bytes, where: str) -> tuple[LedgerState, EncodedDocument]:
    """The state and its encoded form from a stored snapshot; a damaged one is a ``LedgerError``."""
    try:
        data = json.loads(raw)
        if data.get("format") != FORMAT:
            raise ValueError(f"unsupported ledger format {data.get('format')!r}")
        state = LedgerState(
            settings=PolicySettings.model_validate(data["settings"]),
            datasets={k: Dataset.model_validate(v) for k, v in data["datasets"].items()},
            blocks={k: Block.from_json(v) for k, v in data["blocks"].items()},
            claims={k: Claim.from_json(v) for k, v in data["claims"].items()},
            analysts={k: Analyst.from_json(v) for k, v in data.get("analysts", {}).items()},
        )
        return state, EncodedDocument.of_json(data)
    except (ValueError, KeyError) as exc:
        raise LedgerError(f"the ledger at {where} is unreadable: {exc}") from exc
