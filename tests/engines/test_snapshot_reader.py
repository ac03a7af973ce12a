"""The job reads one version of a snapshot: the files under PATH/version=V and no others, Parquet or CSV."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway.core.datasets import BlockPeriod, ColumnType, DataFormat, Dataset
from gateway.errors import DataNotFoundError, GatewayValidationError
from gateway.runtime.reader import read_granted_blocks, read_granted_version

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

COLUMNS = {"user": ColumnType.STRING, "age": ColumnType.INTEGER}


def snapshot(path: Path, fmt: DataFormat) -> Dataset:
    return Dataset(name="people", path=str(path), format=fmt, block_period=BlockPeriod.VERSION, columns=COLUMNS)


@pytest.mark.parametrize("fmt", [DataFormat.PARQUET, DataFormat.CSV])
def test_only_the_granted_version_is_read(spark: Any, tmp_path: Path, fmt: DataFormat) -> None:
    for label, n in (("v1", 3), ("v10", 5), ("v2", 7)):
        folder = tmp_path / f"version={label}"
        folder.mkdir()
        users = [f"{label}-{i}" for i in range(n)]
        if fmt is DataFormat.PARQUET:
            pq.write_table(pa.table({"user": users, "age": list(range(n))}), folder / "part-0.parquet")
        else:
            (folder / "part-0.csv").write_text("user,age\n" + "".join(f"{u},{i}\n" for i, u in enumerate(users)))
    data = snapshot(tmp_path, fmt)
    rows = read_granted_version(spark, data, "v1", columns=["user", "age"]).collect()
    assert sorted(r["user"] for r in rows) == ["v1-0", "v1-1", "v1-2"]  # not v10's, not v2's
    assert read_granted_version(spark, data, "v2").count() == 7
    assert read_granted_version(spark, data, "v2").columns == ["user", "age"]  # no version column
    with pytest.raises(DataNotFoundError, match="no data at"):
        read_granted_version(spark, data, "v3")
    with pytest.raises(GatewayValidationError, match="is invalid"):
        read_granted_version(spark, data, "../v1")
    with pytest.raises(GatewayValidationError, match="no time column"):
        read_granted_blocks(spark, data, [dt.date(2026, 10, 1)])
