"""End-to-end time of one Tumult and one PipelineDP query: through the gateway vs. the library alone.

Both sides run in a fresh Python process with a fresh local Spark, so both pay the same JVM start-up:

* gateway: ``Gateway.submit`` (validate, arrival, DPF-N pass, admission) → local Spark job process
  (``python -m gateway.runtime``: read granted blocks, engine adapter, receipt) → outcome recorded;
* direct: a process that starts Spark, reads the same days of the same Parquet data and calls the
  library itself (``tmlt.analytics.Session`` / ``pipeline_dp.DPEngine``) for the same aggregate.

The data is the demo's (30 days, ~100k purchase events). Prints seconds per run and the ratio.

    python bench/e2e.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DAYS = [dt.date(2026, 10, 1) + dt.timedelta(days=i) for i in range(7, 21)]  # 14 granted days
REGIONS = ["north", "south", "east", "west", "central"]
EPSILON = 1.0


def spec_document(engine: str) -> dict:
    return {
        "engine": engine,
        "dataset": "purchases",
        "analyst": "bench",
        "blocks": {"from": DAYS[0].isoformat(), "to": DAYS[-1].isoformat()},
        "budget": {"epsilon": EPSILON},
        "privacy_unit": {"id_column": "user_id", "max_rows_per_id": 20},
        "aggregate": {"function": "sum", "column": "amount", "low": 0, "high": 300},
        "group_by": {"column": "region", "keys": REGIONS},
    }


def direct(engine: str, data: str) -> list[tuple[str, float]]:
    """The same query written against the library by hand (what an analyst would do without us)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (
        SparkSession.builder.master("local[*]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    df = spark.read.parquet(data)
    df = df.where((F.col("day") >= F.lit(DAYS[0])) & (F.col("day") <= F.lit(DAYS[-1])))
    df = df.select("user_id", "region", F.col("amount").cast("double"))
    if engine == "tumult":
        from tmlt.analytics import AddRowsWithID, KeySet, MaxRowsPerID, PureDPBudget, QueryBuilder, Session

        session = Session.from_dataframe(
            privacy_budget=PureDPBudget(EPSILON),
            source_id="p",
            dataframe=df,
            protected_change=AddRowsWithID("user_id"),
        )
        query = (
            QueryBuilder("p")
            .enforce(MaxRowsPerID(20))
            .groupby(KeySet.from_dict({"region": REGIONS}))
            .sum("amount", 0, 300, name="v")
        )
        rows = session.evaluate(query, PureDPBudget(EPSILON)).collect()
        return [(r["region"], float(r["v"])) for r in rows]
    import pipeline_dp

    accountant = pipeline_dp.NaiveBudgetAccountant(total_epsilon=EPSILON, total_delta=0)
    engine_ = pipeline_dp.DPEngine(accountant, pipeline_dp.SparkRDDBackend(spark.sparkContext))
    params = pipeline_dp.AggregateParams(
        metrics=[pipeline_dp.Metrics.SUM],
        noise_kind=pipeline_dp.NoiseKind.LAPLACE,
        min_value=0,
        max_value=300,
        max_contributions=20,
    )
    extractors = pipeline_dp.DataExtractors(
        privacy_id_extractor=lambda r: r[0], partition_extractor=lambda r: r[1], value_extractor=lambda r: r[2]
    )
    result = engine_.aggregate(df.rdd.map(tuple), params, extractors, public_partitions=REGIONS)
    accountant.compute_budgets()
    return [(k, float(v.sum)) for k, v in result.collect()]


def through_gateway(engine: str, workdir: Path, data: Path) -> float:
    from gateway.core.budget import Budget
    from gateway.core.claims import ClaimState
    from gateway.core.datasets import DataFormat
    from gateway.core.scheduling import PolicySettings
    from gateway.core.spec import parse_spec
    from gateway.launchers import LocalSparkLauncher
    from gateway.ledger import FileLedgerStore
    from gateway.service import Gateway
    from gateway.sources.files import inspect_columns

    ledger = workdir / f"ledger-{engine}-{time.monotonic_ns()}"
    gw = Gateway(FileLedgerStore(ledger), {"local": LocalSparkLauncher(ledger / "jobs")}, inspect=inspect_columns)
    gw.init(PolicySettings(policy="fcfs"))
    gw.add_dataset("purchases", str(data), DataFormat.PARQUET, "day")
    gw.add_blocks("purchases", dt.date(2026, 10, 1), dt.date(2026, 10, 30), Budget.capacity(10))
    started = time.perf_counter()
    claim = gw.submit(parse_spec(spec_document(engine)))
    claim = gw.wait(claim.id, poll_every=0.05)
    elapsed = time.perf_counter() - started
    if claim.state is not ClaimState.SUCCEEDED:
        raise SystemExit(f"the gateway run of {engine} ended {claim.state.value}: {claim.reason}")
    return elapsed


def through_library(engine: str, data: Path) -> float:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--direct", engine, "--data", str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"the direct {engine} run failed:\n{out.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--direct", choices=["tumult", "pipelinedp"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.direct:
        print(json.dumps(direct(args.direct, args.data)))
        return

    from gateway.demo import generate_purchases

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "purchases"
        rows = generate_purchases(data)
        print(
            f"end-to-end, one query (sum(amount) by region, 14 days, id cap 20) on {rows:,} rows; "
            f"best and median of {args.repeat}"
        )
        for engine in ("tumult", "pipelinedp"):
            gateway_s, library_s = [], []
            for _ in range(args.repeat):  # interleaved, so drift on a noisy machine hits both sides
                gateway_s.append(through_gateway(engine, Path(tmp), data))
                library_s.append(through_library(engine, data))
            g, d = min(gateway_s), min(library_s)
            print(
                f"  {engine:10} gateway {g:6.2f} s (median {statistics.median(gateway_s):6.2f})   "
                f"library alone {d:6.2f} s (median {statistics.median(library_s):6.2f})   "
                f"ratio {g / d:4.2f}x   gateway cost {g - d:+5.2f} s"
            )


if __name__ == "__main__":
    main()
