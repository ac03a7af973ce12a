"""``dpgw serve``: the team-mode HTTP service on this host (FastAPI on uvicorn) with its scheduling loop."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.errors import GatewayValidationError


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on; keep 127.0.0.1 unless a TLS proxy fronts it.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    interval: Annotated[float, typer.Option(help="Seconds between scheduling passes.", min=0.1)] = 2.0,
    ledger: Annotated[
        str | None, typer.Option("--ledger", envvar="DPGW_LEDGER", help="Ledger location (as for every command).")
    ] = None,
) -> None:
    """Serve the API: analysts submit with their token; jobs are scheduled here, every INTERVAL seconds."""
    try:
        import uvicorn

        from gateway.api import create_app
    except ImportError as exc:  # the service's libraries are an optional extra
        raise GatewayValidationError(
            f"dpgw serve needs the server extra ({exc.name} is missing): pip install 'dp-gateway[server]'"
        ) from None
    from gateway.cli.main import build_gateway

    build_gateway(ledger).state()  # fail now, with the usual message, if there is no ledger
    app = create_app(lambda: build_gateway(ledger), interval=interval)
    typer.echo(f"dpgw: serving on http://{host}:{port} (ledger {build_gateway(ledger).store.url})", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
