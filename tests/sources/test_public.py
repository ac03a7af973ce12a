"""The submission-time check of a lookup join's public table: keys read as text, nulls ignored, a key
held twice refused with the fix named; a table that cannot be read is a clear data error."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway.core.datasets import ColumnType, DataFormat, Dataset
from gateway.errors import DataNotFoundError, GatewayValidationError
from gateway.sources.public import check_lookup_keys


def table(path: Path, fmt: DataFormat = DataFormat.PARQUET) -> Dataset:
    return Dataset(
        name="tags",
        path=str(path),
        format=fmt,
        public=True,
        columns={"product": ColumnType.STRING, "shelf": ColumnType.STRING},
    )


def test_unique_keys_pass_and_nulls_do_not_count(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"product": ["p1", "p2", None, None], "shelf": ["a", "b", "c", "d"]}), path)
    check_lookup_keys(table(path), ["product"])
    check_lookup_keys(table(path), ["product", "shelf"])


def test_a_key_held_twice_is_refused_naming_matches_many(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"product": ["p1", "p1"], "shelf": ["a", "b"]}), path)
    with pytest.raises(GatewayValidationError, match="matches: many"):
        check_lookup_keys(table(path), ["product"])
    check_lookup_keys(table(path), ["product", "shelf"])  # the pair is unique


def test_csv_keys_are_compared_as_text(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("product,shelf\n007,a\n7,b\n")  # as integers these would be one key
    check_lookup_keys(table(path, DataFormat.CSV), ["product"])
    path.write_text("product,shelf\n007,a\n007,b\n")
    with pytest.raises(GatewayValidationError):
        check_lookup_keys(table(path, DataFormat.CSV), ["product"])


def test_an_unreadable_table_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(DataNotFoundError, match="cannot read public table 'tags'"):
        check_lookup_keys(table(path), ["product"])
    with pytest.raises(DataNotFoundError):
        check_lookup_keys(table(tmp_path / "missing.parquet"), ["product"])
