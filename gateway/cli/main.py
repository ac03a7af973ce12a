"""The ``dpgw`` command line: a thin layer that parses, calls the service, renders, and maps errors
to exit codes (see ``gateway.errors``)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.status import Status

from gateway.cli import audit, render
from gateway.cli.package import package_command
from gateway.cli.simulate import simulate
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.datasets import BlockPeriod, DataFormat
from gateway.core.scheduling import PolicySettings
from gateway.core.scheduling.policy import Order, ReleaseTo
from gateway.core.spec import load_spec_text
from gateway.errors import GatewayError, GatewayValidationError, SpecError
from gateway.launchers import build_launchers
from gateway.ledger import FileLedgerStore, open_store, resolve_url
from gateway.service import Gateway
from gateway.sources.declared import parse_schema
from gateway.sources.locate import check_granted_partitions
from gateway.sources.s3 import inspect_any_columns

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="dp-gateway: DP queries under a privacy-budget ledger."
)
datasets_app = typer.Typer(no_args_is_help=True, help="Register and list data sets.")
blocks_app = typer.Typer(no_args_is_help=True, help="Add and list privacy blocks.")
app.add_typer(datasets_app, name="datasets")
app.add_typer(blocks_app, name="blocks")
app.command()(simulate)
app.command("audit")(audit.audit)

Ledger = Annotated[
    str | None,
    typer.Option(
        "--ledger",
        envvar="DPGW_LEDGER",
        help="Ledger location: a directory (default ./.dpgw), file://dir, s3://bucket/prefix or dynamodb://table",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def build_gateway(ledger: str | None) -> Gateway:
    store = open_store(ledger)
    workdir = store.root / "jobs" if isinstance(store, FileLedgerStore) else Path(".dpgw-jobs")
    return Gateway(store, build_launchers(workdir), inspect=inspect_any_columns, locate=check_granted_partitions)


@app.command()
def init(
    ledger: Ledger = None,
    policy: Annotated[str, typer.Option(help="Scheduling policy: dpf-n, dpf-t, fcfs, rr-n, rr-t or dpack.")] = "dpf-n",
    n: Annotated[int, typer.Option("--n", help="DPF-N/RR-N: arrivals per block that unlock it; DPack: steps.")] = 10,
    lifetime: Annotated[
        str | None, typer.Option(help="DPF-T/RR-T/DPack: time over which a block unlocks, e.g. 30d or 12h.")
    ] = None,
    order: Annotated[
        Order, typer.Option(help="DPF: sorted (paper) or heap_array (PrivateKube's simulator order, Q1).")
    ] = "sorted",
    release_to: Annotated[
        ReleaseTo,
        typer.Option(help="DPF: where a never-started launch returns its budget; locked as PrivateKube's Go (Q6)."),
    ] = "unlocked",
    json_out: Json = False,
) -> None:
    """Create a ledger."""
    try:
        settings = PolicySettings.model_validate(
            {"policy": policy, "n": n, "lifetime": lifetime, "order": order, "release_to": release_to}
        )
    except ValidationError as exc:
        raise GatewayValidationError(f"invalid ledger settings: {exc.errors()[0]['msg']}") from None
    build_gateway(ledger).init(settings)
    url = resolve_url(ledger)
    if json_out:
        render.print_json({"ledger": url, "settings": settings.model_dump()})
    else:
        render.console.print(f"Created ledger at {url} (policy {settings.summary()})")


@datasets_app.command("add")
def datasets_add(
    name: str,
    path: Annotated[str, typer.Option("--path", help="Directory or file holding the data.")],
    time_column: Annotated[str, typer.Option("--time-column", help="Date or timestamp column that defines blocks.")],
    fmt: Annotated[DataFormat, typer.Option("--format")] = DataFormat.PARQUET,
    block_period: Annotated[BlockPeriod, typer.Option("--block-period")] = BlockPeriod.DAY,
    launcher: Annotated[
        str | None, typer.Option(help="Default launcher of its queries: local, glue or emr (default local).")
    ] = None,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            help="Declared columns col:type,... (string, integer, double, boolean, date, timestamp); "
            "required for CSV, overrides Parquet footer types.",
        ),
    ] = None,
    ledger: Ledger = None,
    json_out: Json = False,
) -> None:
    """Register a data set and its public schema (never read from rows)."""
    gateway = build_gateway(ledger)
    if launcher is not None and launcher not in gateway.launchers:
        known = ", ".join(sorted(gateway.launchers))
        raise GatewayValidationError(f"unknown launcher {launcher!r}; available: {known}")
    local = "://" not in path
    declared = parse_schema(schema) if schema is not None else None
    where = str(Path(path).resolve()) if local else path
    dataset = gateway.add_dataset(name, where, fmt, time_column, block_period, launcher, schema=declared)
    if json_out:
        render.print_json(dataset.model_dump(mode="json"))
    else:
        cols = ", ".join(f"{c}:{t.value}" for c, t in dataset.columns.items())
        render.console.print(f"Registered data set {dataset.name} ({dataset.format.value}, {cols})")


@datasets_app.command("list")
def datasets_list(ledger: Ledger = None, json_out: Json = False) -> None:
    """List registered data sets."""
    datasets = build_gateway(ledger).state().datasets.values()
    if json_out:
        render.print_json([d.model_dump(mode="json") for d in datasets])
        return
    for d in datasets:
        render.console.print(f"{d.name}\t{d.format.value}\t{d.path}\ttime column {d.time_column}")


@blocks_app.command("add")
def blocks_add(
    name: str,
    from_: Annotated[dt.datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day (YYYY-MM-DD).")],
    to: Annotated[dt.datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, inclusive.")],
    epsilon: Annotated[str, typer.Option("--epsilon", help="ε capacity of each block.")],
    delta: Annotated[str, typer.Option("--delta", help="δ capacity of each block.")] = "0",
    ledger: Ledger = None,
    json_out: Json = False,
) -> None:
    """Add one privacy block per day from FROM to TO, each with the given capacity."""
    blocks = build_gateway(ledger).add_blocks(name, from_.date(), to.date(), Budget.capacity(epsilon, delta))
    if json_out:
        render.print_json([render.block_json(b) for b in blocks])
    else:
        render.console.print(f"Added {len(blocks)} block(s) to {name}, capacity {blocks[0].capacity} each")


@blocks_app.command("list")
def blocks_list(
    name: Annotated[str | None, typer.Argument()] = None, ledger: Ledger = None, json_out: Json = False
) -> None:
    """Capacity, unlocked, allocated, consumed and remaining budget per block."""
    state = build_gateway(ledger).state()
    if name is not None:
        state.dataset(name)
    blocks = sorted((b for b in state.blocks.values() if name in (None, b.dataset)), key=lambda b: b.key)
    if json_out:
        render.print_json([render.block_json(b) for b in blocks])
    else:
        render.console.print(render.blocks_table(blocks))


def _read_spec(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise SpecError(f"cannot read spec file {path}: {exc.strerror}") from None


@app.command()
def submit(
    spec_file: Annotated[Path, typer.Argument(help="Query spec (YAML or JSON).")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the job to finish if it is admitted.")] = False,
    launcher: Annotated[
        str | None, typer.Option(help="Where to run the job: local, glue or emr (default: the data set's, else local).")
    ] = None,
    ledger: Ledger = None,
    json_out: Json = False,
) -> None:
    """Validate a query, queue it as a pending claim, and run a scheduling pass."""
    gateway = build_gateway(ledger)
    claim = gateway.submit(load_spec_text(_read_spec(spec_file)), launcher=launcher)
    if wait and claim.state in (ClaimState.ADMITTED, ClaimState.LAUNCHING, ClaimState.RUNNING):
        if json_out:
            claim = gateway.wait(claim.id)
        else:
            with Status(f"{claim.id} running…", console=render.err_console) as status:
                claim = gateway.wait(claim.id, on_tick=lambda c: status.update(f"{c.id} {c.state.value}…"))
    if json_out:
        render.print_json({**render.claim_json(claim), "result": claim.result})
        return
    render.console.print(render.claims_table([claim], title="Submission"))
    if claim.state is ClaimState.SUCCEEDED:
        render.console.print(render.result_table(claim))


@app.command()
def schedule(ledger: Ledger = None, json_out: Json = False) -> None:
    """Run one scheduling pass: record finished jobs, admit what fits, launch it."""
    report = build_gateway(ledger).schedule()
    if json_out:
        render.print_json(report.__dict__)
    else:
        for key, ids in report.__dict__.items():
            render.console.print(f"{key:>9}: {', '.join(ids) or '-'}")


@app.command()
def status(
    claim_id: Annotated[str | None, typer.Argument()] = None,
    ledger: Ledger = None,
    json_out: Json = False,
    detail: Annotated[
        bool, typer.Option("--detail", help="Operator only: also show a failed job's full error (may quote data).")
    ] = False,
) -> None:
    """Show one submission, or all of them."""
    gateway = build_gateway(ledger)
    if claim_id is not None:
        claims = [gateway.status(claim_id)]
    else:
        gateway.reconcile()
        claims = sorted(gateway.state().claims.values(), key=lambda c: (c.submitted_at, c.id))
    if json_out:
        docs = [{**render.claim_json(c), **({"detail": c.detail} if detail else {})} for c in claims]
        render.print_json(docs[0] if claim_id is not None else docs)
    else:
        render.console.print(render.claims_table(claims))
        for c in claims if detail else []:
            if c.detail:
                render.console.print(f"detail of {c.id} (operator only):", highlight=False)
                render.console.print(c.detail, markup=False, highlight=False)


@app.command()
def result(claim_id: str, ledger: Ledger = None, json_out: Json = False) -> None:
    """Print the private answer of a finished submission."""
    claim = build_gateway(ledger).status(claim_id)
    if claim.state is not ClaimState.SUCCEEDED:
        hint = f": {claim.reason}" if claim.reason else ""
        raise GatewayNotReady(f"submission {claim_id} is {claim.state.value}, so it has no result{hint}")
    if json_out:
        render.print_json(claim.result)
    else:
        render.console.print(render.result_table(claim))


class GatewayNotReady(GatewayError):
    exit_code = 5


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="Where the demo writes its data and ledger (recreated).")] = Path(
        "demo-data"
    ),
) -> None:
    """Run the local end-to-end demo on generated purchase data."""
    from gateway.demo import run_demo

    run_demo(workdir)


app.command("package")(package_command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; usage errors are typer's to report, gateway errors get one line and their exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        app(args=args, prog_name="dpgw")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except GatewayError as exc:
        if "--json" in args:
            render.print_json({"error": {"type": type(exc).__name__, "message": str(exc)}})
        else:
            render.err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
