"""Shared fixtures: one local SparkSession for every Spark test, and a small synthetic data set.

The data set has five days. The granted days (Oct 2, 3 and 5) hold ordinary rows, one per user, with
amounts up to 129 (above the specs' ``high`` of 100) and a few nulls, plus one "whale" user with many
identical rows. The other days (Oct 1 and 4) hold many rows with huge values: if they leaked into an
answer, it would be far off.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway.core.datasets import ColumnType, Dataset
from gateway.core.jobs import GrantedBudget, JobRequest
from gateway.core.ledger import demand_of
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec

DAYS = tuple(dt.date(2026, 10, d) for d in range(1, 6))
GRANTED = (dt.date(2026, 10, 2), dt.date(2026, 10, 3), dt.date(2026, 10, 5))
KEYS = ["north", "south", "east", "west"]  # "west" has no rows
LOW, HIGH = 0.0, 100.0
CAP = 3
WHALE_ROWS = 40
HUGE = 1e9


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """The one local SparkSession of the test run (2 cores, UTC, no UI)."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("dp-gateway-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for day in DAYS:
        granted = day in GRANTED
        for i in range(60 if granted else 150):
            rows.append(
                {
                    "day": day,
                    "ts": dt.datetime(day.year, day.month, day.day, i % 24, i % 60, 0),
                    "user": f"u-{day:%m%d}-{i}",
                    "region": KEYS[i % 3],
                    "amount": (None if i % 17 == 5 else float((i * 7) % 160)) if granted else HUGE,
                    "visits": i % 4 if granted else 1000,
                    "member": i % 2 == 0,
                }
            )
    for i in range(WHALE_ROWS):
        day = GRANTED[i % len(GRANTED)]
        rows.append(
            {
                "day": day,
                "ts": dt.datetime(day.year, day.month, day.day, 12, i % 60, 30),
                "user": "whale",
                "region": "north",
                "amount": 50.0,
                "visits": 2,
                "member": True,
            }
        )
    return rows


@dataclass(frozen=True)
class Sales:
    """The synthetic data set, written as hive-partitioned Parquet and as CSV, with an exact oracle."""

    rows: list[dict[str, Any]]
    parquet: Dataset
    csv: Dataset

    days: ClassVar[tuple[dt.date, ...]] = DAYS
    granted: ClassVar[tuple[dt.date, ...]] = GRANTED
    keys: ClassVar[list[str]] = KEYS
    low: ClassVar[float] = LOW
    high: ClassVar[float] = HIGH
    cap: ClassVar[int] = CAP
    whale_rows: ClassVar[int] = WHALE_ROWS
    huge: ClassVar[float] = HUGE

    def granted_rows(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["day"] in GRANTED]

    def exact(
        self, function: str, unit: str, grouped: bool, clamp: bool = True, sample: bool = False
    ) -> dict[Any, float | None]:
        """The true answer on the granted days, with the engines' null-dropping, cap and clamping rules.

        The cap is deterministic here: only the whale has more than ``CAP`` rows, all identical.
        ``sample`` picks the sample variance (Tumult) over the population variance (PipelineDP).
        """
        rows = self.granted_rows()
        if function != "count":
            rows = [r for r in rows if r["amount"] is not None]
        if grouped:
            rows = [r for r in rows if r["region"] in KEYS]
        if unit == "id":
            kept: dict[str, int] = {}
            capped = []
            for r in rows:
                kept[r["user"]] = kept.get(r["user"], 0) + 1
                if kept[r["user"]] <= CAP:
                    capped.append(r)
            rows = capped
        groups: dict[Any, list[float]] = {k: [] for k in KEYS} if grouped else {None: []}
        for r in rows:
            value = r["amount"] if function != "count" else 0.0
            if clamp and value is not None:
                value = min(max(value, LOW), HIGH)
            groups[r["region"] if grouped else None].append(value)
        out: dict[Any, float | None] = {}
        for key, values in groups.items():
            if function == "count":
                out[key] = float(len(values))
            elif function == "sum":
                out[key] = float(sum(values))
            elif not values:
                out[key] = None
            elif function == "mean":
                out[key] = statistics.fmean(values)
            else:
                out[key] = statistics.variance(values) if sample else statistics.pvariance(values)
        return out


@pytest.fixture(scope="session")
def sales(tmp_path_factory: pytest.TempPathFactory) -> Sales:
    root = tmp_path_factory.mktemp("sales")
    rows = _rows()
    frame = pd.DataFrame(rows)
    table = pa.Table.from_pandas(
        frame.drop(columns=["ts"]),
        schema=pa.schema(
            [
                ("day", pa.date32()),
                ("user", pa.string()),
                ("region", pa.string()),
                ("amount", pa.float64()),
                ("visits", pa.int64()),
                ("member", pa.bool_()),
            ]
        ),
        preserve_index=False,
    )
    parquet_path = root / "parquet"
    pq.write_to_dataset(table, str(parquet_path), partition_cols=["day"])
    csv_path = root / "csv"
    csv_path.mkdir()
    csv_frame = frame[["ts", "user", "region", "amount", "visits"]].copy()
    csv_frame["ts"] = csv_frame["ts"].map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S"))
    csv_frame.to_csv(csv_path / "part-0.csv", index=False)
    parquet = Dataset(
        name="sales",
        path=str(parquet_path),
        format="parquet",
        time_column="day",
        columns={
            "day": ColumnType.DATE,
            "user": ColumnType.STRING,
            "region": ColumnType.STRING,
            "amount": ColumnType.DOUBLE,
            "visits": ColumnType.INTEGER,
            "member": ColumnType.BOOLEAN,
        },
    )
    csv = Dataset(
        name="sales",
        path=str(csv_path),
        format="csv",
        time_column="ts",
        columns={
            "ts": ColumnType.TIMESTAMP,
            "user": ColumnType.STRING,
            "region": ColumnType.STRING,
            "amount": ColumnType.DOUBLE,
            "visits": ColumnType.INTEGER,
        },
    )
    return Sales(rows=rows, parquet=parquet, csv=csv)


MakeRequest = Callable[..., JobRequest]


@pytest.fixture
def make_request(sales: Sales, tmp_path: Path) -> MakeRequest:
    """Build a JobRequest for the synthetic data set; ``epsilon`` defaults to a large (finite) 200."""

    def build(
        engine: str = "pipelinedp",
        function: str = "count",
        unit: str = "row",
        grouped: bool = False,
        epsilon: object = 200,
        delta: object = 0,
        dataset: Dataset | None = None,
        blocks: tuple[dt.date, ...] = GRANTED,
        submission_id: str = "sub-1",
        group_column: str = "region",
        keys: list[Any] | None = None,
        budget: dict[str, Any] | None = None,
        accounting: str = "basic",
    ) -> JobRequest:
        """``accounting="rdp"``: the grant is the RDP curve the ledger reserves for ``budget`` (e.g. {rho})."""
        aggregate: dict[str, Any] = {"function": function}
        if function != "count":
            aggregate.update(column="amount", low=LOW, high=HIGH)
        spec_doc: dict[str, Any] = {
            "engine": engine,
            "dataset": "sales",
            "analyst": "ana",
            "blocks": {"last": len(blocks)},
            "budget": budget or {"epsilon": epsilon, "delta": delta},
            "privacy_unit": "row" if unit == "row" else {"id_column": "user", "max_rows_per_id": CAP},
            "aggregate": aggregate,
        }
        if grouped:
            spec_doc["group_by"] = {"column": group_column, "keys": KEYS if keys is None else keys}
        spec = parse_spec(spec_doc)
        granted = GrantedBudget.of(spec.demand) if accounting == "basic" else None
        if granted is None:
            settings = PolicySettings(accounting="rdp")
            granted = GrantedBudget.of(demand_of(spec, settings), settings.orders())
        return JobRequest(
            submission_id=submission_id,
            spec=spec,
            dataset=dataset or sales.parquet,
            blocks=blocks,
            granted=granted,
            output=str(tmp_path / submission_id / "outcome.json"),
        )

    return build
