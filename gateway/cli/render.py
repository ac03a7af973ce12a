"""How the CLI shows things: rich tables for people, one JSON document for tools (``--json``)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.core.claims import Claim, ClaimState

# Tables stay readable when output is piped (rich would otherwise assume 80 columns).
_WIDTH = shutil.get_terminal_size((140, 24)).columns
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=_WIDTH)

STATE_STYLE = {
    ClaimState.PENDING: "yellow",
    ClaimState.ADMITTED: "cyan",
    ClaimState.LAUNCHING: "cyan",
    ClaimState.RUNNING: "cyan",
    ClaimState.SUCCEEDED: "green",
    ClaimState.FAILED: "red",
    ClaimState.RELEASED: "magenta",
    ClaimState.REJECTED: "red",
    ClaimState.CANCELLED: "dim",
}


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, default=str))


def block_json(block: Block) -> dict[str, Any]:
    return {
        "block": block.key,
        "dataset": block.dataset,
        "day": block.day.isoformat(),
        "capacity": block.capacity.to_json(),
        "unlocked": block.unlocked.to_json(),
        "allocated": block.allocated.to_json(),
        "consumed": block.consumed.to_json(),
        "remaining": block.remaining.to_json(),
        "arrivals": block.arrivals,
        "retired": block.retired,
    }


def _eps(budget: Budget) -> str:
    return format(budget.epsilon.normalize(), "f")


def blocks_table(blocks: Iterable[Block], title: str = "Privacy blocks (ε)") -> Table:
    table = Table(title=title)
    for name in ("block", "capacity", "unlocked", "allocated", "consumed", "remaining", "arrivals"):
        table.add_column(name, justify="left" if name == "block" else "right", no_wrap=True)
    for b in blocks:
        table.add_row(
            b.key, _eps(b.capacity), _eps(b.unlocked), _eps(b.allocated), _eps(b.consumed), _eps(b.remaining),
            f"{b.arrivals}{' (retired)' if b.retired else ''}",
        )
    return table


def claim_json(claim: Claim) -> dict[str, Any]:
    return {
        "id": claim.id,
        "state": claim.state.value,
        "analyst": claim.analyst,
        "engine": claim.spec.engine.value,
        "dataset": claim.spec.dataset,
        "blocks": list(claim.blocks),
        "budget": claim.demand.to_json(),
        "reason": claim.reason,
        "launcher": claim.launcher,
        "run_id": claim.run_id,
        "client_id": claim.spec.client_id,
        "submitted_at": claim.submitted_at.isoformat(),
        "updated_at": claim.updated_at.isoformat(),
    }


def _span(claim: Claim) -> str:
    first, last = claim.blocks[0].split("/", 1)[1], claim.blocks[-1].split("/", 1)[1]
    return first if first == last else f"{first}..{last} ({len(claim.blocks)})"


def claims_table(claims: Iterable[Claim], title: str = "Submissions") -> Table:
    table = Table(title=title)
    for name in ("id", "analyst", "engine", "query", "blocks", "budget", "state", "reason"):
        table.add_column(name, overflow="fold")
    for c in claims:
        agg = c.spec.aggregate
        query = agg.function.value + (f"({agg.column})" if agg.column else "(*)")
        if c.spec.group_by:
            query += f" by {c.spec.group_by.column}"
        style = STATE_STYLE[c.state]
        table.add_row(
            c.id, c.analyst, c.spec.engine.value, query, _span(c), str(c.demand),
            f"[{style}]{c.state.value}[/{style}]", c.reason or "",
        )
    return table


def result_table(claim: Claim) -> Group:
    """The private answer: a heading line (a table title would wrap to the narrow table) and one row per key."""
    result = claim.result or {}
    spent = Budget.from_json(result["spent"])
    agg = claim.spec.aggregate
    heading = (
        f"{claim.id} · {claim.analyst} · {claim.spec.engine.value} · {agg.function.value}"
        f"{'(' + agg.column + ')' if agg.column else ''} · spent {spent} on {len(claim.blocks)} block(s)"
    )
    table = Table()
    table.add_column(claim.spec.group_by.column if claim.spec.group_by else "group")
    table.add_column("private value", justify="right")
    for row in result["values"]:
        table.add_row("(all)" if row["key"] is None else str(row["key"]), f"{row['value']:,.3f}")
    notes = [Text(note, style="dim") for note in result.get("notes") or []]
    return Group(Text(heading, style="bold"), table, *notes)
