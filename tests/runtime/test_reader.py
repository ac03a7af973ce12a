"""The reader returns exactly the granted days, pruned at the scan, with only the requested columns."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from gateway.core.datasets import ColumnType, Dataset
from gateway.errors import DataNotFoundError
from gateway.runtime.reader import day_ranges, read_granted_blocks

D = dt.date


def _scan_line(df: Any) -> str:
    """The file scan of the physical plan, untruncated (Spark cuts metadata at 100 characters)."""
    conf = df.sparkSession.conf
    previous = conf.get("spark.sql.maxMetadataStringLength")
    conf.set("spark.sql.maxMetadataStringLength", "100000")
    try:
        plan = str(df._jdf.queryExecution().executedPlan().toString())
    finally:
        conf.set("spark.sql.maxMetadataStringLength", previous)
    return next(line for line in plan.splitlines() if "FileScan" in line)


def _field(scan: str, name: str) -> str:
    return scan.split(f"{name}: [", 1)[1].split("], ", 1)[0]


def test_day_ranges_merge_contiguous_days() -> None:
    days = [D(2026, 10, 5), D(2026, 10, 2), D(2026, 10, 3), D(2026, 10, 3), D(2026, 9, 30)]
    assert day_ranges(days) == [
        (D(2026, 9, 30), D(2026, 10, 1)),
        (D(2026, 10, 2), D(2026, 10, 4)),
        (D(2026, 10, 5), D(2026, 10, 6)),
    ]
    assert day_ranges([D(2026, 12, 31), D(2027, 1, 1)]) == [(D(2026, 12, 31), D(2027, 1, 2))]


@pytest.mark.spark
def test_parquet_read_keeps_only_granted_days(spark: Any, sales: Any) -> None:
    df = read_granted_blocks(spark, sales.parquet, sales.granted)
    rows = df.collect()
    assert len(rows) == len(sales.granted_rows())
    assert {r["day"] for r in rows} == set(sales.granted)
    assert all(r["amount"] is None or r["amount"] < sales.huge for r in rows)
    assert set(df.columns) == set(sales.parquet.columns)


@pytest.mark.spark
def test_parquet_partitions_are_pruned_at_the_scan(spark: Any, sales: Any) -> None:
    df = read_granted_blocks(spark, sales.parquet, sales.granted, columns=["amount"])
    scan = _scan_line(df)
    partition_filters = _field(scan, "PartitionFilters")
    assert "day" in partition_filters
    for literal in ("2026-10-02", "2026-10-04", "2026-10-05", "2026-10-06"):
        assert literal in partition_filters
    assert "ReadSchema: struct<amount:double>" in scan
    assert df.columns == ["amount"]


@pytest.mark.spark
def test_csv_is_read_with_the_registered_schema_and_filtered_at_the_scan(spark: Any, sales: Any) -> None:
    df = read_granted_blocks(spark, sales.csv, sales.granted)
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    assert types == {
        "ts": "timestamp",
        "user": "string",
        "region": "string",
        "amount": "double",
        "visits": "bigint",
    }
    pushed = _field(_scan_line(df), "PushedFilters")
    assert "GreaterThanOrEqual(ts,2026-10-02 00:00:00.0)" in pushed
    assert "LessThan(ts,2026-10-06 00:00:00.0)" in pushed
    rows = df.collect()
    assert len(rows) == len(sales.granted_rows())
    assert {r["ts"].date() for r in rows} == set(sales.granted)
    assert all(r["amount"] is None or r["amount"] < sales.huge for r in rows)


@pytest.mark.spark
def test_timestamp_bounds_are_utc_days_half_open(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "edges.csv"
    stamps = [
        "2026-10-01T23:59:59.999",  # before
        "2026-10-02T00:00:00",  # first instant of a granted day
        "2026-10-03T23:59:59",  # last second of the second granted day
        "2026-10-04T00:00:00",  # first instant after the range
        "2026-10-05T12:00:00+02:00",  # 10:00 UTC on a granted day
        "2026-10-06T01:00:00+02:00",  # 23:00 UTC on Oct 5: granted
    ]
    path.write_text("ts,n\n" + "".join(f"{s},{i}\n" for i, s in enumerate(stamps)))
    dataset = Dataset(
        name="edges",
        path=str(path),
        format="csv",
        time_column="ts",
        columns={"ts": ColumnType.TIMESTAMP, "n": ColumnType.INTEGER},
    )
    df = read_granted_blocks(spark, dataset, [D(2026, 10, 2), D(2026, 10, 3), D(2026, 10, 5)], columns=["n"])
    assert sorted(r["n"] for r in df.collect()) == [1, 2, 4, 5]


@pytest.mark.spark
def test_csv_header_that_disagrees_with_the_registered_schema_fails_loudly(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "swapped.csv"
    path.write_text("n,ts\n1,2026-10-02T00:00:00\n")
    dataset = Dataset(
        name="swapped",
        path=str(path),
        format="csv",
        time_column="ts",
        columns={"ts": ColumnType.TIMESTAMP, "n": ColumnType.INTEGER},
    )
    with pytest.raises(Exception, match=r"(?i)header"):
        read_granted_blocks(spark, dataset, [D(2026, 10, 2)]).collect()


@pytest.mark.spark
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_missing_path_is_data_not_found(spark: Any, sales: Any, tmp_path: Path, fmt: str) -> None:
    registered = sales.parquet if fmt == "parquet" else sales.csv
    dataset = registered.model_copy(update={"path": str(tmp_path / "nowhere")})
    with pytest.raises(DataNotFoundError, match="nowhere"):
        read_granted_blocks(spark, dataset, sales.granted)


@pytest.mark.spark
def test_empty_parquet_directory_is_data_not_found(spark: Any, sales: Any, tmp_path: Path) -> None:
    dataset = sales.parquet.model_copy(update={"path": str(tmp_path)})
    with pytest.raises(DataNotFoundError):
        read_granted_blocks(spark, dataset, sales.granted)
