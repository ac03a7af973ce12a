"""The ``dpgw`` command line: a thin layer that parses, calls the service, renders, and maps errors
to exit codes (see ``gateway.errors``)."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.status import Status
from rich.text import Text

from gateway.cli import audit, plot, render
from gateway.cli.analysts import analysts_app
from gateway.cli.backend import Backend, backend_for
from gateway.cli.package import package_command
from gateway.cli.serve import serve
from gateway.cli.simulate import simulate
from gateway.core.budget import Budget
from gateway.core.claims import Claim, ClaimState
from gateway.core.datasets import BlockPeriod, DataFormat
from gateway.core.scheduling import PolicySettings
from gateway.core.scheduling.policy import Order, ReleaseTo
from gateway.errors import GatewayError, GatewayValidationError, SpecError
from gateway.launchers import build_launchers
from gateway.ledger import FileLedgerStore, open_store, resolve_url
from gateway.service import Gateway
from gateway.sources.declared import parse_schema
from gateway.sources.locate import check_granted_partitions
from gateway.sources.partitions import partition_days, runs
from gateway.sources.s3 import inspect_any_columns

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="dp-gateway: DP queries under a privacy-budget ledger."
)
datasets_app = typer.Typer(no_args_is_help=True, help="Register and list data sets.")
blocks_app = typer.Typer(no_args_is_help=True, help="Add and list privacy blocks.")
app.add_typer(datasets_app, name="datasets")
app.add_typer(blocks_app, name="blocks")
app.add_typer(analysts_app, name="analysts")
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
Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="DPGW_URL",
        help="A team-mode gateway (dpgw serve, or the AWS API) to use instead of a local ledger; "
        "the token is read from $DPGW_TOKEN.",
    ),
]


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
        render.console.print(render.plain(f"Created ledger at {url} (policy {settings.summary()})"))


@datasets_app.command("add")
def datasets_add(
    name: str,
    path: Annotated[str, typer.Option("--path", help="Directory or file holding the data.")],
    time_column: Annotated[
        str | None, typer.Option("--time-column", help="Date or timestamp column that defines blocks.")
    ] = None,
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
    add_blocks: Annotated[
        bool,
        typer.Option(
            "--add-blocks",
            help="Also add one privacy block per day found in the partition directory names "
            "(TIME_COLUMN=YYYY-MM-DD; metadata only), each with capacity --epsilon/--delta.",
        ),
    ] = False,
    epsilon: Annotated[
        str | None, typer.Option("--epsilon", help="With --add-blocks: ε capacity of each block.")
    ] = None,
    delta: Annotated[str, typer.Option("--delta", help="With --add-blocks: δ capacity of each block.")] = "0",
    public: Annotated[
        bool,
        typer.Option(
            "--public",
            help="A public table (no time column, blocks or budget): specs take group-by keys from it.",
        ),
    ] = False,
    ledger: Ledger = None,
    json_out: Json = False,
) -> None:
    """Register a data set and its public schema, never read from rows (and, with --add-blocks, a block per day)."""
    if public and (time_column is not None or add_blocks):
        raise GatewayValidationError(
            "a --public table has no time column and no blocks; drop --time-column/--add-blocks"
        )
    if not public and time_column is None:
        raise GatewayValidationError(
            "give --time-column (the column that defines blocks), or --public for a public table"
        )
    gateway = build_gateway(ledger)
    if launcher is not None and launcher not in gateway.launchers:
        known = ", ".join(sorted(gateway.launchers))
        raise GatewayValidationError(f"unknown launcher {launcher!r}; available: {known}")
    local = "://" not in path
    declared = parse_schema(schema) if schema is not None else None
    location = str(Path(path).resolve()) if local else path
    days: list[dt.date] = []
    capacity: Budget | None = None
    if add_blocks:  # everything is checked before the ledger changes
        if epsilon is None:
            raise GatewayValidationError("--add-blocks needs the capacity of each block: --epsilon E [--delta D]")
        capacity = Budget.capacity(epsilon, delta)
        assert time_column is not None  # checked above
        days = partition_days(location, time_column)
        if not days:
            raise GatewayValidationError(
                f"found no {time_column}=YYYY-MM-DD partition directories under {path}, so --add-blocks cannot "
                f"tell which days it holds; register without it and add blocks with: dpgw blocks add {name} "
                "--from YYYY-MM-DD --to YYYY-MM-DD --epsilon E"
            )
    elif epsilon is not None:
        raise GatewayValidationError("--epsilon and --delta go with --add-blocks (or use dpgw blocks add)")
    dataset = gateway.add_dataset(
        name, location, fmt, time_column, block_period, launcher, schema=declared, public=public
    )
    added = (
        [b for first, last in runs(days) for b in gateway.add_blocks(name, first, last, capacity)] if capacity else []
    )
    if json_out:
        doc = dataset.model_dump(mode="json")
        if add_blocks:
            doc["blocks_added"] = {
                "count": len(added),
                "ranges": [[f.isoformat(), t.isoformat()] for f, t in runs(days)],
            }
        render.print_json(doc)
        return
    cols = ", ".join(f"{c}:{t.value}" for c, t in dataset.columns.items())
    kind = "public table" if dataset.public else "data set"
    render.console.print(render.plain(f"Registered {kind} {dataset.name} ({dataset.format.value}, {cols})"))
    if added:
        spans = ", ".join(f"{f}" if f == t else f"{f} → {t}" for f, t in runs(days))
        render.console.print(
            render.plain(f"Added {len(added)} block(s) to {name} ({spans}), capacity {added[0].capacity} each")
        )


@datasets_app.command("list")
def datasets_list(ledger: Ledger = None, json_out: Json = False) -> None:
    """List registered data sets."""
    datasets = build_gateway(ledger).state().datasets.values()
    if json_out:
        render.print_json([d.model_dump(mode="json") for d in datasets])
        return
    for d in datasets:
        render.console.print(
            render.plain(d.name),
            render.plain(d.format.value),
            render.plain(d.path),
            render.plain("public table" if d.public else f"time column {d.time_column}"),
            sep="\t",
        )


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
        render.console.print(
            render.plain(f"Added {len(blocks)} block(s) to {name}, capacity {blocks[0].capacity} each")
        )


@blocks_app.command(
    "list",
    help="Budget per block: capacity, allocated, consumed, remaining, and what the ledger's policy released.\n\n"
    + render.BLOCKS_HELP,
)
def blocks_list(
    name: Annotated[str | None, typer.Argument()] = None, ledger: Ledger = None, url: Url = None, json_out: Json = False
) -> None:
    backend = backend_for(url, ledger)
    blocks = backend.blocks(name)
    if json_out:
        render.print_json([render.block_json(b) for b in blocks])
    else:
        render.console.print(render.blocks_table(blocks, backend.settings()))


@blocks_app.command("plot")
def blocks_plot(
    name: str,
    out: Annotated[Path | None, typer.Option("--out", help="PNG file to write (e.g. burn.png).")] = None,
    ledger: Ledger = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the series as one JSON document instead.")] = False,
) -> None:
    """Plot a data set's budget per block and its burn-down over time (PNG), or print the series (--json)."""
    gateway = build_gateway(ledger)
    blocks, series = gateway.burn_down(name)
    if json_out:
        render.print_json(plot.series_json(name, blocks, series))
        return
    if out is None:
        raise GatewayValidationError("give --out FILE.png for the picture, or --json for the series")
    plot.write_png(plot.burn_figure(name, blocks, series, gateway.clock()), out)
    render.console.print(f"Wrote {out} ({len(blocks)} block(s) of {name})")


def _read_spec(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise SpecError(f"cannot read spec file {path}: {exc.strerror}") from None


@app.command()
def submit(
    spec_file: Annotated[Path, typer.Argument(help="Query spec (YAML or JSON).")],
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Wait for the job to finish if it is admitted, showing its progress and elapsed time on stderr.",
        ),
    ] = False,
    launcher: Annotated[
        str | None, typer.Option(help="Where to run the job: local, glue or emr (default: the data set's, else local).")
    ] = None,
    ledger: Ledger = None,
    url: Url = None,
    json_out: Json = False,
) -> None:
    """Validate a query, queue it as a pending claim, and run a scheduling pass.

    The JSON form gives the blocks read as block_range (first, last, count); dpgw status ID --json lists them all.
    """
    backend = backend_for(url, ledger)
    started = time.monotonic()
    claim = backend.submit(_read_spec(spec_file), launcher=launcher)
    if wait and claim.state in (ClaimState.ADMITTED, ClaimState.LAUNCHING, ClaimState.RUNNING):
        if json_out:
            claim = backend.wait(claim.id)
        else:
            claim = _wait_with_progress(backend, claim, started)
    log = backend.job_log(claim) if claim.state is ClaimState.FAILED else None
    if json_out:
        extra = {"job_log": log} if log else {}
        render.print_json({**render.claim_json(claim, full_blocks=False), **extra, "result": claim.result})
        return
    render.console.print(render.claims_table([claim], title="Submission"))
    if claim.state is ClaimState.SUCCEEDED:
        render.console.print(render.result_table(claim))
    elif log:
        render.err_console.print(render.plain(f"job log: {log}"))


PROGRESS = {
    ClaimState.PENDING: "queued, waiting for budget",
    ClaimState.ADMITTED: "admitted (budget reserved), launching",
    ClaimState.LAUNCHING: "launching the job",
    ClaimState.RUNNING: "running: Spark starts, reads the granted days, computes, writes the answer (often 15-110 s)",
}


def _wait_with_progress(backend: Backend, submitted: Claim, started: float) -> Claim:
    """Wait for a job, saying on stderr which step it is at and for how long (a query takes 15 s to minutes).

    Submitting already queued the claim, admitted it and launched its job (one scheduling pass).
    """
    steps = "queued, admitted, job launched" if submitted.state is ClaimState.RUNNING else "queued, admitted"
    render.err_console.print(render.plain(f"{time.monotonic() - started:6.1f}s  {submitted.id} {steps}"))
    seen: list[ClaimState] = []

    def tick(claim: Claim) -> None:
        elapsed = time.monotonic() - started
        if claim.state not in seen:
            seen.append(claim.state)
            render.err_console.print(render.plain(f"{elapsed:6.1f}s  {claim.id} {claim.state.value}"))
            if claim.state is ClaimState.RUNNING and (log := backend.job_log(claim)):
                render.err_console.print(render.plain(f"        job log: {log}"))
        doing = PROGRESS.get(claim.state, claim.state.value)
        spinner.update(render.plain(f"{claim.id}: {doing} · {elapsed:.0f}s"))

    try:
        with Status(render.plain(f"{submitted.id}: launching"), console=render.err_console) as spinner:
            return backend.wait(submitted.id, on_tick=tick)
    except KeyboardInterrupt:  # the job runs in its own session: Ctrl-C stops the waiting only
        render.err_console.print(render.plain(f"stopped waiting; the job goes on: dpgw status {submitted.id}"))
        return backend.status(submitted.id)


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
    url: Url = None,
    json_out: Json = False,
    detail: Annotated[
        bool, typer.Option("--detail", help="Operator only: also show a failed job's full error (may quote data).")
    ] = False,
) -> None:
    """Show one submission, or all of them (in team mode: yours).

    For one submission: when a waiting one can be admitted if nothing else competes (exact under time-based
    unlocking, an estimate from recent arrivals under DPF-N/RR-N) or why it never will, and the job log's
    location if its job failed. JSON: one submission lists every block it reads under blocks, and a waiting
    or rejected one carries forecast {outlook, at, basis}; the listing gives block_range only.
    """
    backend = backend_for(url, ledger)
    if claim_id is None:
        claims = backend.list()
        if json_out:
            render.print_json([{**render.claim_json(c, full_blocks=False), **_detail_json(c, detail)} for c in claims])
        else:
            render.console.print(render.claims_table(claims))
            _print_detail(claims, detail)
        return
    claim = backend.status(claim_id)
    when = backend.forecast(claim_id) if claim.state in (ClaimState.PENDING, ClaimState.REJECTED) else None
    if json_out:
        extra = {"forecast": when.to_json()} if when is not None else {}
        render.print_json({**render.claim_json(claim, full_blocks=True), **extra, **_detail_json(claim, detail)})
        return
    render.console.print(render.claims_table([claim]))
    if when is not None:
        render.console.print(render.plain(f"when: {when.describe()}"))
    if claim.state is ClaimState.FAILED and (log := backend.job_log(claim)):
        render.console.print(render.plain(f"job log: {log}"))
    _print_detail([claim], detail)


def _detail_json(claim: Claim, wanted: bool) -> dict[str, str | None]:
    return {"detail": claim.detail} if wanted else {}


def _print_detail(claims: list[Claim], wanted: bool) -> None:
    """Operators' view of failed jobs: the full error, which may quote data values."""
    for claim in claims if wanted else []:
        if claim.detail:
            render.console.print(render.plain(f"detail of {claim.id} (operator only):"))
            render.console.print(render.plain(claim.detail))


@app.command()
def result(
    claim_id: str,
    round_: Annotated[
        bool, typer.Option("--round", help="Post-processing, display only: round each value to an integer.")
    ] = False,
    clamp_zero: Annotated[
        bool, typer.Option("--clamp-zero", help="Post-processing, display only: show negative values as 0.")
    ] = False,
    ledger: Ledger = None,
    url: Url = None,
    json_out: Json = False,
) -> None:
    """Print the private answer of a finished submission.

    Values are the engine's unbiased noisy estimates, so a count can be fractional or negative. --round and
    --clamp-zero post-process what is shown (DP is unaffected: they only use the released value); the stored
    answer never changes, and --json then gives each value's post_processed form beside the raw value.
    """
    claim = backend_for(url, ledger).result(claim_id)
    if json_out:
        render.print_json(render.result_json(claim, round_, clamp_zero))
    else:
        render.console.print(render.result_table(claim, round_, clamp_zero))


@app.command()
def cancel(claim_id: str, ledger: Ledger = None, url: Url = None, json_out: Json = False) -> None:
    """Withdraw a submission that is still pending (waiting for budget); it is charged nothing."""
    claim = backend_for(url, ledger).cancel(claim_id)
    if json_out:
        render.print_json(render.claim_json(claim))
    else:
        render.console.print(render.claims_table([claim], title="Cancelled"))


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
app.command("serve")(serve)


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
            render.err_console.print(Text.assemble(("error:", "red"), " ", render.plain(exc, newlines=True)))
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
