"""``dpgw analysts``: the operator registers, lists and revokes the analysts of team mode.

These act on the ledger directly (the operator's own access); a token is printed once, here, and
only its salted hash is stored.
"""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli import render
from gateway.team import Analysts

analysts_app = typer.Typer(no_args_is_help=True, help="Register, list and revoke team-mode analysts (operator).")

LedgerOption = Annotated[
    str | None,
    typer.Option("--ledger", envvar="DPGW_LEDGER", help="Ledger location (as for every other command)."),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _analysts(ledger: str | None) -> Analysts:
    from gateway.cli.main import build_gateway

    return Analysts(build_gateway(ledger))


@analysts_app.command("add")
def add(
    name: str,
    operator: Annotated[bool, typer.Option("--operator", help="May see every submission and manage analysts.")] = False,
    principal: Annotated[
        str | None, typer.Option("--principal", help="IAM principal ARN that authenticates as this analyst (AWS).")
    ] = None,
    ledger: LedgerOption = None,
    json_out: Json = False,
) -> None:
    """Register an analyst and print their bearer token (shown only this once)."""
    analyst, token = _analysts(ledger).add(name, operator=operator, principal=principal)
    if json_out:
        render.print_json({"analyst": analyst.public_json(), "token": token})
        return
    render.console.print(f"Added {analyst.role.value} {analyst.name}. Token (shown only once, keep it secret):")
    print(token)


@analysts_app.command("list")
def list_(ledger: LedgerOption = None, json_out: Json = False) -> None:
    """Every registered analyst (tokens are never shown again)."""
    analysts = _analysts(ledger).list()
    if json_out:
        render.print_json([a.public_json() for a in analysts])
        return
    for a in analysts:
        status = "revoked" if a.revoked else "active"
        print(f"{a.name}\t{a.role.value}\t{status}\t{a.principal or '-'}")


@analysts_app.command("revoke")
def revoke(name: str, ledger: LedgerOption = None, json_out: Json = False) -> None:
    """Revoke an analyst's token at once (the name stays taken)."""
    analyst = _analysts(ledger).revoke(name)
    if json_out:
        render.print_json(analyst.public_json())
    else:
        print(f"Revoked {analyst.name}")
