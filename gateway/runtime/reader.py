"""Reads exactly the granted blocks of a data set, and nothing else, into Spark.

The block filter is applied right after the read, before any other operation, as plain comparisons of
the time column with literals of its own type. That shape lets Spark prune ``day=...`` partition
directories and push the predicate into the Parquet/CSV scan, so rows outside the granted days are
never handed to a DP engine (they were not paid for).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from pyspark.errors import AnalysisException
from pyspark.sql import functions as F
from pyspark.sql import types as T

from gateway.core import predicate
from gateway.core.datasets import ColumnType, DataFormat, Dataset
from gateway.core.spec import KEY_SEPARATOR, QuerySpec
from gateway.errors import DataNotFoundError, GatewayValidationError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

SPARK_TYPES: dict[ColumnType, T.DataType] = {
    ColumnType.STRING: T.StringType(),
    ColumnType.INTEGER: T.LongType(),
    ColumnType.DOUBLE: T.DoubleType(),
    ColumnType.BOOLEAN: T.BooleanType(),
    ColumnType.DATE: T.DateType(),
    ColumnType.TIMESTAMP: T.TimestampType(),
}
_MISSING = {"PATH_NOT_FOUND", "UNABLE_TO_INFER_SCHEMA"}


def spark_schema(dataset: Dataset) -> T.StructType:
    """The registered schema as a Spark schema, in registration (file header) order."""
    return T.StructType([T.StructField(name, SPARK_TYPES[kind], True) for name, kind in dataset.columns.items()])


def spec_columns(spec: QuerySpec, dataset: Dataset | None = None) -> list[str]:
    """The stored columns a spec reads (id, group-by, aggregate, filter, join and derive sources), each
    once; with ``dataset``, only those it holds (the others come from a joined public table)."""
    derived = {d.name for d in spec.derive or []}
    names: list[str | None] = [spec.privacy_unit.id_column]
    names += [d.source for d in spec.derive or []]
    names += spec.group_by.names if spec.group_by else []
    names += [a.column for a in spec.all_aggregates]
    names += predicate.columns_of(predicate.parse(spec.where)) if spec.where else []
    names += spec.join.on if spec.join else []
    stored = dataset.columns if dataset is not None else None
    return list(
        dict.fromkeys(n for n in names if n is not None and n not in derived and (stored is None or n in stored))
    )


def day_ranges(blocks: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Contiguous half-open ranges ``[start, end + 1 day)`` covering exactly the given days."""
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(blocks)):
        if ranges and ranges[-1][1] == day:
            ranges[-1] = (ranges[-1][0], day + dt.timedelta(days=1))
        else:
            ranges.append((day, day + dt.timedelta(days=1)))
    return ranges


def read_granted_blocks(
    spark: SparkSession, dataset: Dataset, blocks: Iterable[dt.date], columns: Sequence[str] | None = None
) -> DataFrame:
    """The rows of ``dataset`` on the granted days, restricted to ``columns`` (default: all registered).

    Parquet may be a file or a directory, hive-partitioned or not; its schema comes from the files. CSV
    is read with a header and the registered schema (never inferred), checked against the header by
    name, with timestamps without an offset read as UTC.
    """
    ranges = day_ranges(blocks)
    if not ranges:
        raise GatewayValidationError("a job must read at least one block")
    df = _read(spark, dataset, dataset.path)
    return _select(df.where(_in_ranges(df, dataset, ranges)), dataset, columns)


def read_granted_version(
    spark: SparkSession, dataset: Dataset, version: str, columns: Sequence[str] | None = None
) -> DataFrame:
    """The rows of one version of a snapshot: the files under ``<path>/version=<version>`` and no others.

    Spark is pointed at that directory itself (not at the root with a filter), so no other version's
    file is ever listed or opened.
    """
    if not dataset.snapshot:
        raise GatewayValidationError(f"data set {dataset.name!r} has days, not versions")
    path = dataset.version_path(version)
    return _select(_read(spark, dataset, path), dataset, columns, path)


def _read(spark: SparkSession, dataset: Dataset, path: str) -> DataFrame:
    _check_exists(path)
    try:
        if dataset.format is DataFormat.CSV:
            reader = spark.read.schema(spark_schema(dataset)).options(
                header="true", enforceSchema="false", timeZone="UTC", mode="PERMISSIVE"
            )
            return reader.csv(path)
        return spark.read.parquet(path)
    except AnalysisException as exc:
        if exc.getErrorClass() in _MISSING:
            raise DataNotFoundError(
                f"no readable {dataset.format.value} data for data set {dataset.name!r} at {path}"
            ) from exc
        raise


def _select(df: DataFrame, dataset: Dataset, columns: Sequence[str] | None, path: str | None = None) -> DataFrame:
    path = path or dataset.path
    wanted = list(dataset.columns) if columns is None else list(columns)
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise GatewayValidationError(
            f"data set {dataset.name!r} at {path} has no column(s) {', '.join(missing)}; "
            f"its columns are: {', '.join(df.columns)}"
        )
    return df.select(*[_col(c) for c in wanted])


def _check_exists(path: str) -> None:
    """Fail early and clearly for a missing local path; remote paths are checked by Spark's read."""
    parsed = urlparse(path)
    if any(ch in path for ch in "*?[{"):  # a glob: Spark reports if nothing matches
        return
    if parsed.scheme in ("", "file") and not Path(parsed.path if parsed.scheme else path).exists():
        raise DataNotFoundError(f"no data at {path}: the path does not exist (was the data set moved?)")


def _col(name: str) -> Column:
    return F.col("`" + name.replace("`", "``") + "`")


def _in_ranges(df: DataFrame, dataset: Dataset, ranges: list[tuple[dt.date, dt.date]]) -> Column:
    """``OR`` of ``start <= time < end`` with literals typed like the time column as Spark reads it."""
    name = dataset.time_column
    if name is None:
        raise GatewayValidationError(
            f"data set {dataset.name!r} has no time column (a public table or a snapshot): it has no days to read"
        )
    if name not in df.columns:
        raise GatewayValidationError(f"time column {name!r} is missing from the data at {dataset.path}")
    kind = df.schema[name].dataType
    time = _col(name)
    bound: Callable[[dt.date], Column]
    if isinstance(kind, T.DateType):
        bound = F.lit
    elif isinstance(kind, T.TimestampType):
        bound = _utc_timestamp
    elif isinstance(kind, T.TimestampNTZType):
        bound = _ntz_timestamp
    elif isinstance(kind, T.StringType) and dataset.columns.get(name) is ColumnType.DATE:
        bound = _iso_date  # day=... partitions read as strings: ISO dates sort as text
    else:
        raise GatewayValidationError(f"time column {name!r} is read as {kind.simpleString()}, not a date or timestamp")
    return reduce(lambda acc, cond: acc | cond, [(time >= bound(start)) & (time < bound(end)) for start, end in ranges])


def _utc_timestamp(day: dt.date) -> Column:
    return F.expr(f"TIMESTAMP '{day.isoformat()} 00:00:00+00:00'")


def _ntz_timestamp(day: dt.date) -> Column:
    return F.expr(f"TIMESTAMP_NTZ '{day.isoformat()} 00:00:00'")


def _iso_date(day: dt.date) -> Column:
    return F.lit(day.isoformat())


MAX_PUBLIC_KEYS = 100_000


def _read_public(spark: SparkSession, table: Dataset) -> DataFrame:
    if not table.public:
        raise GatewayValidationError(f"data set {table.name!r} is not a public table")
    _check_exists(table.path)
    if table.format is DataFormat.CSV:
        return spark.read.schema(spark_schema(table)).options(header="true", enforceSchema="false").csv(table.path)
    return spark.read.parquet(table.path)


def read_public_lookup(spark: SparkSession, table: Dataset, on: Sequence[str], many: bool = False) -> DataFrame:
    """A public table to join with, refused unless it holds each key combination at most once (``many``:
    a one-to-many join, where it may hold one several times)."""
    df = _read_public(spark, table).select(*[_col(c) for c in table.columns]).dropna(subset=list(on))
    if many:
        return df
    if df.count() != df.select(*[_col(c) for c in on]).distinct().count():
        raise GatewayValidationError(
            f"public table {table.name!r} holds some {', '.join(on)} combination more than once; a join must "
            "match each row at most once (deduplicate the table)"
        )
    return df


def max_matches(spark: SparkSession, table: Dataset, on: Sequence[str]) -> int:
    """The most rows of a public table that share one (non-null) key combination: how many public rows one
    private row can meet in a join (public data: reading it is free). At least 1."""
    df = _read_public(spark, table).select(*[_col(c) for c in on]).dropna()
    row = df.groupBy(*[_col(c) for c in on]).count().agg(F.max("count")).collect()[0]
    return max(1, int(row[0] or 0))


def read_public_keys(spark: SparkSession, table: Dataset, columns: Sequence[str]) -> list[tuple[object, ...]]:
    """The distinct combinations of ``columns`` in a public table (public data: reading it is free),
    sorted, nulls left out; more than ``MAX_PUBLIC_KEYS`` is refused."""
    df = _read_public(spark, table)
    rows = df.select(*[_col(c) for c in columns]).dropna().distinct().limit(MAX_PUBLIC_KEYS + 1).collect()
    if len(rows) > MAX_PUBLIC_KEYS:
        raise GatewayValidationError(f"public table {table.name!r} holds over {MAX_PUBLIC_KEYS} key combinations")
    if len(columns) > 1 and any(isinstance(v, str) and KEY_SEPARATOR in v for row in rows for v in row):
        raise GatewayValidationError(
            f"public table {table.name!r} holds a key with the control character U+001F, which joins the keys of "
            "several group-by columns; remove it from the table"
        )
    return sorted((tuple(r) for r in rows), key=repr)
