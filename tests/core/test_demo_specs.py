"""The demo's specs (including its richer query) are valid against the demo's schema, with no Spark."""

from __future__ import annotations

import pytest

from gateway.core.datasets import ColumnType, DataFormat, Dataset
from gateway.core.spec import parse_spec
from gateway.demo import SPECS

PURCHASES = Dataset(
    name="purchases",
    path="/demo",
    format=DataFormat.PARQUET,
    time_column="day",
    columns={
        "user_id": ColumnType.STRING,
        "ts": ColumnType.TIMESTAMP,
        "amount": ColumnType.DOUBLE,
        "region": ColumnType.STRING,
        "day": ColumnType.DATE,
    },
)


@pytest.mark.parametrize("name", list(SPECS))
def test_each_demo_spec_checks_against_the_demo_schema(name: str) -> None:
    parse_spec(SPECS[name]).check_against(PURCHASES)


def test_the_demo_has_a_richer_query() -> None:
    spec = parse_spec(SPECS["frank-basket-sizes.yaml"])
    assert spec.where and spec.group_by is not None and len(spec.group_by.names) == 2
    assert len(spec.all_aggregates) == 2 and spec.contribution is not None
