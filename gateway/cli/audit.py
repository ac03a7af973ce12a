"""``dpgw audit``: the ledger's append-only trail of grants, charges, releases and rejections."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gateway.cli import render
from gateway.core.ledger import AuditEvent
from gateway.ledger import open_store


def audit(
    ledger: Annotated[
        str | None,
        typer.Option("--ledger", envvar="DPGW_LEDGER", help="Ledger location (see dpgw init --help)."),
    ] = None,
    submission: Annotated[str | None, typer.Option("--submission", help="Only this submission's events.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Print every committed audit event, oldest first: time, kind, analyst, blocks, amount, reason."""
    events = [e for e in open_store(ledger).audit() if submission in (None, e.submission_id)]
    if json_out:
        render.print_json([e.to_json() for e in events])
    else:
        render.console.print(_table(events))


def _table(events: list[AuditEvent]) -> Table:
    table = Table(title="Audit trail")
    for column in ("time", "event", "submission", "analyst", "blocks", "amount", "reason"):
        table.add_column(column)
    for e in events:
        blocks = e.blocks[0] if len(e.blocks) == 1 else (f"{e.blocks[0]} … {e.blocks[-1]}" if e.blocks else "")
        table.add_row(
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            render.plain(e.kind),
            render.plain(e.submission_id or ""),
            render.plain(e.analyst or ""),
            render.plain(blocks),
            str(e.amount) if e.amount else "",
            render.plain(e.reason or ""),
        )
    return table
