"""JSON encoding of a whole ledger snapshot, shared by the document-based stores."""

from __future__ import annotations

from typing import Any

from gateway.core.blocks import Block
from gateway.core.claims import Claim
from gateway.core.datasets import Dataset
from gateway.core.ledger import LedgerState
from gateway.core.scheduling import PolicySettings

FORMAT = 1


def encode_state(state: LedgerState, commit: int) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "commit": commit,
        "settings": state.settings.model_dump(mode="json"),
        "datasets": {k: d.model_dump(mode="json") for k, d in sorted(state.datasets.items())},
        "blocks": {k: b.to_json() for k, b in sorted(state.blocks.items())},
        "claims": {k: c.to_json() for k, c in state.claims.items()},
    }


def decode_state(data: dict[str, Any]) -> tuple[LedgerState, int]:
    if data.get("format") != FORMAT:
        raise ValueError(f"unsupported ledger format {data.get('format')!r}")
    state = LedgerState(
        settings=PolicySettings.model_validate(data["settings"]),
        datasets={k: Dataset.model_validate(v) for k, v in data["datasets"].items()},
        blocks={k: Block.from_json(v) for k, v in data["blocks"].items()},
        claims={k: Claim.from_json(v) for k, v in data["claims"].items()},
    )
    return state, int(data["commit"])
