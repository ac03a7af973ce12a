"""The ``dpgw`` command line: a thin layer that parses, calls the service, renders, and maps errors
to exit codes (see ``gateway.errors``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import sys
import time
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.status import Status
from rich.text import Text

try:  # typer >= 0.2x carries its own copy of click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer on click
    from click.exceptions import ClickException  # type: ignore[assignment]

from gateway.cli import audit, plot, render
from gateway.cli.analysts import analysts_app
from gateway.cli.backend import Backend, backend_for
from gateway.cli.package import package_command
from gateway.cli.serve import serve
from gateway.cli.simulate import simulate
from gateway.core.budget import Budget
from gateway.core.claims import Claim, ClaimState
from gateway.core.datasets import BlockPeriod, ColumnType, DataFormat, Dataset
from gateway.core.scheduling import PolicySettings
from gateway.core.scheduling.policy import MAX_N, Accounting, Order, ReleaseTo
from gateway.core.spec import MAX_SPEC_BYTES, decode_spec_bytes
from gateway.errors import GatewayError, GatewayValidationError, SpecError
from gateway.launchers import build_launchers
from gateway.ledger import FileLedgerStore, open_store, resolve_url
from gateway.ledger.base import DamagedAuditWarning
from gateway.service import Gateway
from gateway.sources.declared import parse_schema
from gateway.sources.locate import check_granted_partitions
from gateway.sources.partitions import partition_days, runs

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


def _check_lookup_keys(table: Dataset, on: Sequence[str]) -> None:
    """A lookup join's public table holds each key once (pyarrow imported on first use, as above)."""
    from gateway.sources.public import check_lookup_keys

    check_lookup_keys(table, on)


def _inspect_columns(path: str, fmt: DataFormat) -> dict[str, ColumnType]:
    """A data set's schema, read with pyarrow imported on first use: most commands never inspect one, and
    importing pyarrow (and pandas through it) would add about half a second to every ``dpgw`` call."""
    from gateway.sources.s3 import inspect_any_columns

    return inspect_any_columns(path, fmt)


def build_gateway(ledger: str | None) -> Gateway:
    store = open_store(ledger)
    workdir = store.root / "jobs" if isinstance(store, FileLedgerStore) else Path(".dpgw-jobs")
    return Gateway(
        store,
        build_launchers(workdir),
        inspect=_inspect_columns,
        locate=check_granted_partitions,
        lookups=_check_lookup_keys,
    )


@app.command()
def init(
    ledger: Ledger = None,
    policy: Annotated[str, typer.Option(help="Scheduling policy: dpf-n, dpf-t, fcfs, rr-n, rr-t or dpack.")] = "dpf-n",
    n: Annotated[
        int,
        typer.Option("--n", min=1, max=MAX_N, help="DPF-N/RR-N: arrivals per block that unlock it; DPack: steps."),
    ] = 10,
    lifetime: Annotated[
        str | None,
        typer.Option(help="DPF-T/RR-T/DPack: time over which a block unlocks, e.g. 30d or 12h; at most 100 years."),
    ] = None,
    order: Annotated[
        Order, typer.Option(help="DPF: sorted (paper) or heap_array (PrivateKube's simulator order, Q1).")
    ] = "sorted",
    release_to: Annotated[
        ReleaseTo,
        typer.Option(help="DPF: where a never-started launch returns its budget; locked as PrivateKube's Go (Q6)."),
    ] = "unlocked",
    accounting: Annotated[
        Accounting,
        typer.Option(
            help="basic: (ε, δ) add up per block. rdp: Rényi-DP curves over PrivateKube's alpha grid "
            "(blocks then need --delta > 0; queries may ask for {rho})."
        ),
    ] = "basic",
    json_out: Json = False,
) -> None:
    """Create a ledger."""
    try:
        settings = PolicySettings.model_validate(
            {
                "policy": policy,
                "n": n,
                "lifetime": lifetime,
                "order": order,
                "release_to": release_to,
                "accounting": accounting,
            }
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
    no_time_column: Annotated[
        bool,
        typer.Option(
            "--no-time-column",
            help="A snapshot: no time column; one block per version (version V's files under PATH/version=V), "
            "added with dpgw blocks add NAME --version V.",
        ),
    ] = False,
    ledger: Ledger = None,
    json_out: Json = False,
) -> None:
    """Register a data set and its public schema, never read from rows (and, with --add-blocks, a block per day)."""
    if public and (time_column is not None or add_blocks or no_time_column):
        raise GatewayValidationError(
            "a --public table has no time column and no blocks; drop --time-column/--add-blocks/--no-time-column"
        )
    if no_time_column or block_period is BlockPeriod.VERSION:
        if time_column is not None or add_blocks:
            raise GatewayValidationError(
                "a snapshot (--no-time-column) has no time column and a block per version: drop "
                f"--time-column/--add-blocks and add versions with: dpgw blocks add {name} --version V --epsilon E"
            )
        block_period = BlockPeriod.VERSION
    elif not public and time_column is None:
        raise GatewayValidationError(
            "give --time-column (the column that defines blocks), --no-time-column for a snapshot (a block per "
            "version), or --public for a public table"
        )
    gateway = build_gateway(ledger)
    if launcher is not None and launcher not in gateway.launchers:
        known = ", ".join(sorted(gateway.launchers))
        raise GatewayValidationError(f"unknown launcher {launcher!r}; available: {known}")
    if "\x00" in path:
        raise GatewayValidationError("the data path contains a NUL character; give a directory, file or URI")
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
    kind = "public table" if dataset.public else "snapshot data set" if dataset.snapshot else "data set"
    render.console.print(render.plain(f"Registered {kind} {dataset.name} ({dataset.format.value}, {cols})"))
    if added:
        spans = ", ".join(f"{f}" if f == t else f"{f} → {t}" for f, t in runs(days))
        each = added[0].guarantee or added[0].capacity
        render.console.print(render.plain(f"Added {len(added)} block(s) to {name} ({spans}), capacity {each} each"))


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
            render.plain(
                "public table"
                if d.public
                else "snapshot (a block per version)"
                if d.snapshot
                else f"time column {d.time_column}"
            ),
            sep="\t",
        )


@blocks_app.command("add")
def blocks_add(
    name: str,
    epsilon: Annotated[str, typer.Option("--epsilon", help="ε capacity of each block (at most 1000000).")],
    from_: Annotated[
        dt.datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="First day (YYYY-MM-DD).")
    ] = None,
    to: Annotated[dt.datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, inclusive.")] = None,
    version: Annotated[
        str | None,
        typer.Option("--version", help="A snapshot's new version V (its files under PATH/version=V): one block."),
    ] = None,
    delta: Annotated[str, typer.Option("--delta", help="δ capacity of each block.")] = "0",
    ledger: Ledger = None,
    json_out: Json = False,
) -> None:
    """Add one privacy block per day from FROM to TO (at most 36,600 days), or a snapshot's block for VERSION.

    Re-running the same command after an interruption adds only the days still missing.
    """
    capacity = Budget.capacity(epsilon, delta)
    if version is not None:
        if from_ is not None or to is not None:
            raise GatewayValidationError("give --version V (a snapshot) or --from/--to (days), not both")
        block = build_gateway(ledger).add_version(name, version, capacity)
        if json_out:
            render.print_json([render.block_json(block)] if block is not None else [])
        elif block is None:
            render.console.print(render.plain(f"Version {version} of {name} has its block already; nothing added"))
        else:
            each = block.guarantee or block.capacity
            render.console.print(render.plain(f"Added the block of version {version} to {name}, capacity {each}"))
        return
    if from_ is None or to is None:
        raise GatewayValidationError(
            "give the days with --from YYYY-MM-DD --to YYYY-MM-DD (or --version V for a snapshot data set)"
        )
    blocks = build_gateway(ledger).add_blocks(name, from_.date(), to.date(), capacity)
    if json_out:
        render.print_json([render.block_json(b) for b in blocks])
    else:
        days = (to.date() - from_.date()).days + 1
        kept = f" ({days - len(blocks)} day(s) had their block already)" if len(blocks) < days else ""
        each = (blocks[0].guarantee or blocks[0].capacity) if blocks else capacity
        render.console.print(render.plain(f"Added {len(blocks)} block(s) to {name}, capacity {each} each{kept}"))


@blocks_app.command(
    "list",
    help="Budget per block: capacity, allocated, consumed, remaining, and what the ledger's policy released.\n\n"
    + render.BLOCKS_HELP,
)
def blocks_list(
    name: Annotated[str | None, typer.Argument()] = None,
    include_spent: Annotated[
        bool, typer.Option("--all", help="Also the blocks that left the live state: retired, their budget spent.")
    ] = False,
    ledger: Ledger = None,
    url: Url = None,
    json_out: Json = False,
) -> None:
    backend = backend_for(url, ledger)
    blocks = backend.blocks(name, include_spent)
    settings = backend.settings()
    if json_out:
        alphas = settings.orders() if settings.rdp else None
        render.print_json([render.block_json(b, alphas) for b in blocks])
    else:
        render.console.print(render.blocks_table(blocks, settings))


@blocks_app.command("plot")
def blocks_plot(
    name: str,
    out: Annotated[Path | None, typer.Option("--out", help="PNG file to write (e.g. burn.png).")] = None,
    ledger: Ledger = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the series as one JSON document instead.")] = False,
) -> None:
    """Plot a data set's budget per block and its burn-down over time (PNG), or print the series (--json)."""
    gateway = build_gateway(ledger)
    view = gateway.burn_down(name)
    if json_out:
        render.print_json(plot.series_json(name, view))
        return
    if out is None:
        raise GatewayValidationError("give --out FILE.png for the picture, or --json for the series")
    plot.write_png(plot.burn_figure(name, view, gateway.clock()), out)
    render.console.print(render.plain(f"Wrote {out} ({len(view.blocks)} block(s) of {name})"))


# A submission that ended without running: rejected (budget, 3); its launch never started or its job
# failed (launch, 4). Pending, admitted, launching, running and succeeded exit 0.
SUBMIT_EXIT_CODES = {ClaimState.REJECTED: 3, ClaimState.RELEASED: 4, ClaimState.FAILED: 4}


def _read_spec(path: Path) -> str:
    """The spec file's text, read no further than the spec size limit (``/dev/zero`` ends at once)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read spec file {path}: {exc.strerror or exc}") from None
    return decode_spec_bytes(data)


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
    else:
        render.console.print(render.claims_table([claim], title="Submission"))
        if claim.state is ClaimState.SUCCEEDED:
            render.console.print(render.result_table(claim))
        elif log:
            render.err_console.print(render.plain(f"job log: {log}"))
    raise typer.Exit(SUBMIT_EXIT_CODES.get(claim.state, 0))


PROGRESS = {
    ClaimState.PENDING: "queued, waiting for budget",
    ClaimState.ADMITTED: "admitted (budget reserved), launching",
    ClaimState.LAUNCHING: "launching the job",
    ClaimState.RUNNING: "running: Spark starts, reads the granted days, computes, writes the answer (often 15-110 s)",
}


@app.command()
def preview(
    spec_file: Annotated[Path, typer.Argument(help="The query spec (YAML or JSON).")],
    ledger: Ledger = None,
    url: Url = None,
    json_out: Json = False,
) -> None:
    """Would this query be admitted now, and if not why; how many more copies the blocks could grant (no charge)."""
    result = backend_for(url, ledger).preview(_read_spec(spec_file))
    if json_out:
        render.print_json(result.to_json())
        return
    for line in render.preview_lines(result):
        render.console.print(render.plain(line))


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
            render.console.print(render.plain(f"{key:>9}: {', '.join(ids) or '-'}"))  # errors quote launchers


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


INTERNAL_ERROR = 70  # EX_SOFTWARE: a bug in the gateway, never the user's input
USAGE_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and map every outcome to the README's exit codes; never let a traceback reach the user.

    Usage errors (typer's parsing) exit 2, gateway errors their category's code, anything unexpected 70
    with one line (the traceback only with ``DPGW_DEBUG=1``). With ``--json`` every error is one JSON
    document on stdout: ``{"error": {"type": ..., "message": ...}}``.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    _write_stdout_fully()
    with warnings.catch_warnings():
        warnings.simplefilter("always", DamagedAuditWarning)
        warnings.showwarning = _show_warning
        try:
            code = _run(args, json_out="--json" in args)
            sys.stdout.flush()  # output still buffered meets a closed pipe here, not at interpreter exit
            return code
        except BrokenPipeError:  # an error report, or the last flush, hit a closed pipe
            return _stdout_gone()


STDOUT_GONE = 141  # 128 + SIGPIPE: what a shell reports for a writer killed by a closed pipe


def _stdout_gone() -> int:
    """The reader of our output went away (``dpgw audit | head``): stop quietly, as a killed pipe would.

    SIGPIPE itself stays ignored (Python's default): restoring it would also kill the process when a
    socket to S3, DynamoDB or a team gateway breaks in the middle of a ledger commit.
    """
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
    return STDOUT_GONE


class _FullWrites(io.RawIOBase):
    """A file descriptor written to the last byte or failing: ``BufferedWriter`` hands back a short count
    when a pipe's reader leaves in the middle of one large write (a whole table or JSON document), and
    ``TextIOWrapper`` drops the rest without an error, so ``dpgw ... | head`` would exit 0 having lost it."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:  # a terminal keeps its colours and width
        return os.isatty(self._fd)

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        size = view.nbytes
        while view:
            view = view[os.write(self._fd, view) :]
        return size


def _write_stdout_fully() -> None:
    """Point ``sys.stdout`` at the process's real stdout through ``_FullWrites`` (left alone when a caller,
    such as a test capturing output, replaced ``sys.stdout`` with something else)."""
    current = sys.stdout
    if current is not sys.__stdout__ or not isinstance(current, io.TextIOWrapper):
        return
    try:
        fd = current.fileno()
    except (OSError, ValueError):  # no usable descriptor: leave it as it is
        return
    current.flush()
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(_FullWrites(fd)),
        encoding=current.encoding,
        errors=current.errors,
        line_buffering=current.line_buffering,
    )


def _show_warning(message: Warning | str, category: type[Warning], *rest: object, **kwargs: object) -> None:
    """Warnings go to stderr as one plain line (stdout stays one JSON document with --json)."""
    render.err_console.print(Text.assemble(("warning:", "yellow"), " ", render.plain(message, newlines=True)))


def _run(args: list[str], json_out: bool) -> int:
    try:
        code = app(args=args, prog_name="dpgw", standalone_mode=False)
    except SystemExit as done:  # a command that exits on its own
        if isinstance(done.__context__, BrokenPipeError):  # typer's and rich's own closed-pipe exits (code 1)
            return _stdout_gone()
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except typer.Abort:
        return 130
    except ClickException as exc:
        if json_out:
            _report_error(True, type(exc).__name__, exc.format_message())
        else:
            _show_usage_error(exc)
        return exc.exit_code if exc.exit_code else USAGE_ERROR
    except GatewayError as exc:
        _report_error(json_out, type(exc).__name__, str(exc))
        return exc.exit_code if exc.exit_code != 1 else INTERNAL_ERROR
    except BrokenPipeError:
        return _stdout_gone()
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line and exit 70, never a traceback
        if os.environ.get("DPGW_DEBUG") == "1":
            traceback.print_exc()
        message = (
            f"internal error ({type(exc).__name__}: {_one_line(str(exc))}); this is a bug in dp-gateway: "
            "rerun with DPGW_DEBUG=1 for the traceback and report it"
        )
        _report_error(json_out, "GatewayInternalError", message)
        return INTERNAL_ERROR
    return code if isinstance(code, int) else 0


def _one_line(text: str, limit: int = 500) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _report_error(json_out: bool, kind: str, message: str) -> None:
    if json_out:
        render.print_json({"error": {"type": kind, "message": message}})
    else:  # plain text: a message may hold user strings that look like markup ("[/red]")
        render.err_console.print(Text.assemble(("error:", "red"), " ", render.plain(message, newlines=True)))


def _show_usage_error(exc: ClickException) -> None:
    try:
        from typer import rich_utils

        rich_utils.rich_format_error(exc)
    except ImportError:  # typer without rich
        exc.show()


if __name__ == "__main__":
    raise SystemExit(main())
