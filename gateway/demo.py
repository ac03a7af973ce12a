"""The local end-to-end demo: generated purchase events, a DPF-N ledger, five analysts, real Spark jobs.

It goes through the same service calls as the CLI and prints the CLI command for each step, so a
reader can replay any of it by hand against the demo ledger.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from rich.live import Live
from rich.rule import Rule
from rich.text import Text

from gateway.cli import render
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.datasets import DataFormat
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import load_spec_text
from gateway.errors import GatewayValidationError
from gateway.launchers import LocalSparkLauncher
from gateway.ledger import FileLedgerStore
from gateway.service import Gateway
from gateway.sources.files import inspect_columns

FIRST_DAY = dt.date(2026, 10, 1)
DAYS = 30
USERS = 10_000
REGIONS = ["north", "south", "east", "west", "central"]
MARKER = ".dpgw-demo"


def generate_purchases(root: Path, days: int = DAYS, users: int = USERS, seed: int = 7) -> int:
    """Purchase events (user_id, ts, amount, region) as Parquet partitioned by ``day``; returns the row count."""
    rng = np.random.default_rng(seed)
    user_region = rng.choice(len(REGIONS), size=users, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    activity = rng.gamma(0.6, 1.0, size=users)  # a few heavy buyers, many occasional ones
    activity /= activity.sum()
    total = 0
    for offset in range(days):
        day = FIRST_DAY + dt.timedelta(days=offset)
        n = int(rng.normal(3000, 300)) + (600 if day.weekday() >= 5 else 0)
        who = rng.choice(users, size=n, p=activity)
        seconds = np.sort(rng.integers(0, 86_400, size=n))
        start = dt.datetime(day.year, day.month, day.day)
        table = pa.table(
            {
                "user_id": [f"u{u:05d}" for u in who],
                "ts": pa.array([start + dt.timedelta(seconds=int(s)) for s in seconds], pa.timestamp("us")),
                "amount": np.round(rng.lognormal(3.4, 0.8, size=n), 2),
                "region": [REGIONS[r] for r in user_region[who]],
            }
        )
        target = root / f"day={day.isoformat()}"
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target / "part-0.parquet")
        total += n
    return total


def _spec(
    analyst: str,
    engine: str,
    blocks: dict[str, Any],
    epsilon: float,
    aggregate: dict[str, Any],
    group_by: str | None = None,
    unit: Any = "row",
    client_id: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "engine": engine,
        "dataset": "purchases",
        "analyst": analyst,
        "blocks": blocks,
        "budget": {"epsilon": epsilon},
        "privacy_unit": unit,
        "aggregate": aggregate,
    }
    if group_by:
        spec["group_by"] = {"column": group_by, "keys": REGIONS}
    if client_id:
        spec["client_id"] = client_id
    return spec


USER_CAP = {"id_column": "user_id", "max_rows_per_id": 20}
SPECS = {
    "alice-weekly-count.yaml": _spec(
        "alice", "tumult", {"last": 7}, 0.1, {"function": "count"}, "region", USER_CAP, "alice-weekly-count"
    ),
    "bob-mean-amount.yaml": _spec(
        "bob",
        "pipelinedp",
        {"from": "2026-10-01", "to": "2026-10-14"},
        0.3,
        {"function": "mean", "column": "amount", "low": 0, "high": 500},
    ),
    "carol-revenue-by-region.yaml": _spec(
        "carol",
        "pipelinedp",
        {"from": "2026-10-08", "to": "2026-10-21"},
        0.1,
        {"function": "sum", "column": "amount", "low": 0, "high": 300},
        "region",
        USER_CAP,
    ),
    "dave-variance.yaml": _spec(
        "dave",
        "tumult",
        {"from": "2026-10-01", "to": "2026-10-10"},
        2.0,
        {"function": "variance", "column": "amount", "low": 0, "high": 500},
    ),
    "erin-mean-by-region.yaml": _spec(
        "erin",
        "tumult",
        {"from": "2026-10-01", "to": "2026-10-14"},
        0.1,
        {"function": "mean", "column": "amount", "low": 0, "high": 500},
        "region",
    ),
    # A richer query: a filter, a derived column, two group-by columns, per-group bounds, two aggregates.
    "frank-basket-sizes.yaml": {
        "engine": "pipelinedp",
        "dataset": "purchases",
        "analyst": "frank",
        "blocks": {"last": 7},
        "budget": {"epsilon": 0.1},
        "privacy_unit": {"id_column": "user_id"},
        "where": "amount >= 5 and region in ('north', 'south')",
        "derive": [
            {
                "bin": {
                    "column": "amount",
                    "edges": [0, 20, 50, 500],
                    "labels": ["small", "medium", "large"],
                    "as": "size",
                }
            }
        ],
        "aggregates": [
            {"function": "count", "budget_share": 0.5},
            {"function": "sum", "column": "amount", "low": 0, "high": 300, "budget_share": 0.5},
        ],
        "group_by": {
            "columns": ["region", "size"],
            "keys": {"region": ["north", "south"], "size": ["small", "medium", "large"]},
        },
        "contribution": {"max_groups_per_id": 2, "max_rows_per_group_per_id": 3},
    },
}


def _prepare(workdir: Path) -> None:
    if workdir.exists():
        if not (workdir / MARKER).exists():
            raise GatewayValidationError(f"{workdir} exists and was not made by the demo; pick another --workdir")
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / MARKER).touch()


def run_demo(workdir: Path) -> None:
    console = render.console
    _prepare(workdir)
    data, specs, ledger_dir = workdir / "data" / "purchases", workdir / "specs", workdir / "ledger"
    rows = generate_purchases(data)
    console.print(f"Generated {rows:,} purchase events of {USERS:,} users over {DAYS} days in {data}")

    store = FileLedgerStore(ledger_dir)
    gateway = Gateway(store, {"local": LocalSparkLauncher(ledger_dir / "jobs")}, inspect=inspect_columns)
    cli = "dpgw"
    console.print(Rule("Set-up (export DPGW_LEDGER=" + str(ledger_dir) + " to replay by hand)"))
    console.print(f"$ {cli} init --policy dpf-n --n 10")
    gateway.init(PolicySettings(policy="dpf-n", n=10))
    console.print(f"$ {cli} datasets add purchases --path {data} --format parquet --time-column day")
    gateway.add_dataset("purchases", str(data.resolve()), DataFormat.PARQUET, "day")
    last = FIRST_DAY + dt.timedelta(days=DAYS - 1)
    console.print(f"$ {cli} blocks add purchases --from {FIRST_DAY} --to {last} --epsilon 1 --delta 1e-6")
    gateway.add_blocks("purchases", FIRST_DAY, last, Budget.capacity(1, "1e-6"))
    console.print("  30 daily blocks, ε=1 each; DPF-N with N=10: each query arriving on a block unlocks ε=0.1 of it")

    console.print(Rule("Analysts submit"))
    specs.mkdir()
    ids: dict[str, str] = {}
    for name, spec in SPECS.items():
        path = specs / name
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        console.print(f"$ {cli} submit {path}")
        claim = gateway.submit(load_spec_text(path.read_text()))
        ids[name] = claim.id
        console.print(
            Text.assemble("  → ", render.plain(claim.id), " ", (claim.state.value, "bold"))
            + render.plain(f": {claim.reason}" if claim.reason else "")
        )

    console.print(f"$ {cli} submit {specs / 'alice-weekly-count.yaml'}   # a retry with the same client_id")
    again = gateway.submit(load_spec_text((specs / "alice-weekly-count.yaml").read_text()))
    console.print(f"  → {again.id} (the same submission; nothing charged twice)")

    console.print(Rule("Admitted jobs run on local Spark"))
    running = [i for i in ids.values() if gateway.claim(i).state.holds_allocation]
    with Live(render.claims_table(_claims(gateway, ids)), console=console, refresh_per_second=2) as live:
        while any(gateway.status(i).state.holds_allocation for i in running):
            time.sleep(1)
            live.update(render.claims_table(_claims(gateway, ids)))
    if not console.is_terminal:
        console.line()  # a piped Live table ends without a newline
        live.update(render.claims_table(_claims(gateway, ids)))
    if not console.is_terminal:
        console.line()  # a piped Live table ends without a newline

    console.print(Rule("Private answers"))
    for claim in _claims(gateway, ids):
        if claim.state is ClaimState.SUCCEEDED:
            console.print(render.result_table(claim))
        elif claim.state is ClaimState.FAILED:
            console.print(Text.assemble((f"{claim.id} failed", "red"), ": ", render.plain(claim.reason or "")))
    console.print(Rule("Remaining budget per block"))
    console.print(f"$ {cli} blocks list purchases")
    state = gateway.state()
    console.print(render.blocks_table(state.blocks_of("purchases"), state.settings))
    pending = [c for c in _claims(gateway, ids) if c.state is ClaimState.PENDING]
    for claim in pending:
        console.print(
            f"{claim.id} ({claim.analyst}, {claim.demand}) is still waiting: its blocks have not unlocked enough "
            "budget yet. Later arrivals on those days unlock more; `dpgw schedule` admits it once it fits."
        )
    console.print(f"Ledger: {ledger_dir}  ·  history and audit trail: {ledger_dir / 'history-*.jsonl'}")


def _claims(gateway: Gateway, ids: dict[str, str]) -> list[Any]:
    return [gateway.claim(i) for i in ids.values()]
