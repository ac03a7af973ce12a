"""The ``dpgw`` command line: a thin layer that parses, calls the service, renders, and maps errors
to exit codes (see ``gateway.errors``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.status import Status
from rich.text import Text

try:  # typer >= 0.2x carries its own copy of click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer on click
    from click.exceptions import ClickException

from gateway.cli import audit, render
from gateway.cli.package import package_command
from gateway.cli.simulate import simulate
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.datasets import BlockPeriod, DataFormat
from gateway.core.scheduling import PolicySettings
from gateway.core.scheduling.policy import MAX_N, Order, ReleaseTo
from gateway.core.spec import MAX_SPEC_BYTES, load_spec_text
from gateway.errors import GatewayError, GatewayValidationError, SpecError
from gateway.launchers import build_launchers
from gateway.ledger import FileLedgerStore, open_store, resolve_url
from gateway.ledger.base import DamagedAuditWarning
from gateway.service import Gateway
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
    return Gateway(store, build_launchers(workdir), inspect=inspect_any_columns)


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
    ledger: Ledger = None,
    json_out: Json = False,
) -> None:
    """Register a data set and its public schema."""
    gateway = build_gateway(ledger)
    if launcher is not None and launcher not in gateway.launchers:
        known = ", ".join(sorted(gateway.launchers))
        raise GatewayValidationError(f"unknown launcher {launcher!r}; available: {known}")
    local = "://" not in path
    dataset = gateway.add_dataset(
        name, str(Path(path).resolve()) if local else path, fmt, time_column, block_period, launcher
    )
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
    epsilon: Annotated[str, typer.Option("--epsilon", help="ε capacity of each block (at most 1000000).")],
    delta: Annotated[str, typer.Option("--delta", help="δ capacity of each block.")] = "0",
    ledger: Ledger = None,
    json_out: Json = False,
) -> None:
    """Add one privacy block per day from FROM to TO (at most 36,600 days), each with the given capacity.

    Re-running the same command after an interruption adds only the days still missing.
    """
    capacity = Budget.capacity(epsilon, delta)
    blocks = build_gateway(ledger).add_blocks(name, from_.date(), to.date(), capacity)
    if json_out:
        render.print_json([render.block_json(b) for b in blocks])
    else:
        days = (to.date() - from_.date()).days + 1
        kept = f" ({days - len(blocks)} day(s) had their block already)" if len(blocks) < days else ""
        render.console.print(Text(f"Added {len(blocks)} block(s) to {name}, capacity {capacity} each{kept}"))


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


# A submission that ended without running: rejected (budget, 3); its launch never started or its job
# failed (launch, 4). Pending, admitted, launching, running and succeeded exit 0.
SUBMIT_EXIT_CODES = {ClaimState.REJECTED: 3, ClaimState.RELEASED: 4, ClaimState.FAILED: 4}


def _read_spec(path: Path) -> bytes:
    """The spec file's bytes, read no further than the spec size limit (``/dev/zero`` ends at once)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read spec file {path}: {exc.strerror or exc}") from None


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
    else:
        render.console.print(render.claims_table([claim], title="Submission"))
        if claim.state is ClaimState.SUCCEEDED:
            render.console.print(render.result_table(claim))
    raise typer.Exit(SUBMIT_EXIT_CODES.get(claim.state, 0))


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
    claim_id: Annotated[str | None, typer.Argument()] = None, ledger: Ledger = None, json_out: Json = False
) -> None:
    """Show one submission, or all of them."""
    gateway = build_gateway(ledger)
    if claim_id is not None:
        claims = [gateway.status(claim_id)]
    else:
        gateway.reconcile()
        claims = sorted(gateway.state().claims.values(), key=lambda c: (c.submitted_at, c.id))
    if json_out:
        docs = [render.claim_json(c) for c in claims]
        render.print_json(docs[0] if claim_id is not None else docs)
    else:
        render.console.print(render.claims_table(claims))


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


INTERNAL_ERROR = 70  # EX_SOFTWARE: a bug in the gateway, never the user's input
USAGE_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and map every outcome to the README's exit codes; never let a traceback reach the user.

    Usage errors (typer's parsing) exit 2, gateway errors their category's code, anything unexpected 70
    with one line (the traceback only with ``DPGW_DEBUG=1``). With ``--json`` every error is one JSON
    document on stdout: ``{"error": {"type": ..., "message": ...}}``.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always", DamagedAuditWarning)
        warnings.showwarning = _show_warning
        try:
            return _run(args, json_out="--json" in args)
        except BrokenPipeError:  # an error report hit a closed pipe too
            return _stdout_gone()


def _stdout_gone() -> int:
    """The reader of our output went away (``dpgw audit | head``): stop quietly, as a killed pipe would."""
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
    return 141  # 128 + SIGPIPE, what a shell reports for a writer killed by a closed pipe


def _show_warning(message: Warning | str, category: type[Warning], *rest: object, **kwargs: object) -> None:
    """Warnings go to stderr as one plain line (stdout stays one JSON document with --json)."""
    render.err_console.print(Text.assemble(("warning:", "yellow"), " ", str(message)), highlight=False)


def _run(args: list[str], json_out: bool) -> int:
    try:
        code = app(args=args, prog_name="dpgw", standalone_mode=False)
    except SystemExit as done:  # a command that exits on its own
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
        render.err_console.print(Text.assemble(("error:", "red"), " ", message), highlight=False)


def _show_usage_error(exc: ClickException) -> None:
    try:
        from typer import rich_utils

        rich_utils.rich_format_error(exc)
    except ImportError:  # typer without rich
        exc.show()


if __name__ == "__main__":
    raise SystemExit(main())
