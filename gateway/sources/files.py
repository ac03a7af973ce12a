"""Schema inspection of local data sets: Parquet footers with pyarrow; CSV is never opened.

A CSV file has no metadata: its types could only be guessed from rows, so CSV data sets are registered
with a declared schema and ``inspect_columns`` only checks their location (returning no columns).

Hive partition directories whose values are all ISO dates (``day=2026-10-01``) are typed as dates,
the way Spark's partition inference reads them, so the registered schema matches what jobs see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads

from gateway.core.datasets import ColumnType, DataFormat
from gateway.errors import DataNotFoundError, GatewayValidationError
from gateway.sources.locate import check_local_dataset


def _column_type(kind: pa.DataType) -> ColumnType | None:
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_dictionary(kind):
        return ColumnType.STRING
    if pa.types.is_boolean(kind):
        return ColumnType.BOOLEAN
    if pa.types.is_integer(kind):
        return ColumnType.INTEGER
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return ColumnType.DOUBLE
    if pa.types.is_date(kind):
        return ColumnType.DATE
    if pa.types.is_timestamp(kind):
        return ColumnType.TIMESTAMP
    return None


def _is_iso_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def partition_values(relative_files: Iterable[str]) -> dict[str, set[str]]:
    """Hive partition values (``key=value`` directories) seen on paths relative to the data set's root."""
    values: dict[str, set[str]] = {}
    for file in relative_files:
        for part in file.split("/")[:-1]:
            if "=" in part:
                key, value = part.split("=", 1)
                values.setdefault(key, set()).add(value)
    return values


def columns_of(schema: pa.Schema, partitions: dict[str, set[str]], path: str) -> dict[str, ColumnType]:
    """The usable columns of a schema; a partition column whose values are all ISO dates is a date."""
    columns: dict[str, ColumnType] = {}
    for field in schema:
        kind = _column_type(field.type)
        if field.name in partitions and all(_is_iso_date(v) for v in partitions[field.name]):
            kind = ColumnType.DATE
        if kind is not None:
            columns[field.name] = kind
    if not columns:
        raise GatewayValidationError(f"found no usable columns in {path}")
    return columns


def inspect_columns(path: str, fmt: DataFormat) -> dict[str, ColumnType]:
    """The column names and types of a Parquet data set, from its footers; ``{}`` for CSV (declared).

    Either way the path must be a data set of the format (``check_local_dataset``); rows are never read.
    """
    root = check_local_dataset(path, fmt)
    if fmt is DataFormat.CSV:
        return {}
    try:
        dataset = pads.dataset(root, format="parquet", partitioning="hive", exclude_invalid_files=False)
        files = dataset.files
        schema = dataset.schema
    except (pa.ArrowException, OSError) as exc:
        raise GatewayValidationError(
            f"{path} is not a readable Parquet data set ({type(exc).__name__}); check --path and --format"
        ) from None
    if not files:
        raise DataNotFoundError(f"no Parquet files under {path}")
    partitions = partition_values(Path(f).relative_to(root).as_posix() for f in files) if root.is_dir() else {}
    return columns_of(schema, partitions, path)
