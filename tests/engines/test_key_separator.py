"""Several group-by columns are joined into one internal key with U+001F; a value holding it would make
two combinations one key. Declared keys holding it are refused at parse (tests/core); here, on Spark,
a data row holding it gets no group and a public table holding it is refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway.core.datasets import ColumnType, DataFormat, Dataset
from gateway.core.jobs import GrantedBudget, JobRequest
from gateway.core.spec import KEY_SEPARATOR, parse_spec
from gateway.engines import _prepare
from gateway.errors import GatewayValidationError
from gateway.runtime.reader import read_public_keys

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

DAY = dt.date(2026, 10, 1)
COLUMNS = {"day": ColumnType.DATE, "a": ColumnType.STRING, "b": ColumnType.STRING}


def test_a_row_whose_value_holds_the_separator_belongs_to_no_group(spark: Any, tmp_path: Path) -> None:
    rows = [(DAY, "x" + KEY_SEPARATOR + "y", "z"), (DAY, "x", "y" + KEY_SEPARATOR + "z"), (DAY, "x", "y")]
    df = spark.createDataFrame(rows, "day date, a string, b string")
    dataset = Dataset(name="t", path=str(tmp_path), format=DataFormat.PARQUET, time_column="day", columns=COLUMNS)
    spec = parse_spec(
        {
            "engine": "pipelinedp",
            "dataset": "t",
            "analyst": "ana",
            "blocks": {"last": 1},
            "budget": {"epsilon": 1, "delta": 1e-6},
            "privacy_unit": "row",
            "aggregate": {"function": "count"},
            "group_by": {"columns": ["a", "b"], "keys": "private"},
        }
    )
    request = JobRequest(
        submission_id="s",
        spec=spec,
        dataset=dataset,
        blocks=(DAY,),
        granted=GrantedBudget.of(spec.demand),
        output=str(tmp_path / "o.json"),
    )
    keys = [r[_prepare.KEY] for r in _prepare.standardize(df, request).collect()]
    assert keys == ["x" + KEY_SEPARATOR + "y"]  # only the clean row; the two others would have merged into it


def test_a_public_table_holding_the_separator_in_its_keys_is_refused(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "keys.parquet"
    pq.write_table(pa.table({"a": ["n", "s" + KEY_SEPARATOR], "b": ["x", "y"]}), path)
    table = Dataset(
        name="keys",
        path=str(path),
        format=DataFormat.PARQUET,
        public=True,
        columns={"a": ColumnType.STRING, "b": ColumnType.STRING},
    )
    with pytest.raises(GatewayValidationError, match="U\\+001F"):
        read_public_keys(spark, table, ["a", "b"])
    assert read_public_keys(spark, table, ["b"]) == [("x",), ("y",)]  # one column: no encoding, no refusal
