"""Tumult Analytics engine on local Spark: near-exact answers at a large ε, clamping, the cap, spend."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.engines import engine_for
from gateway.runtime.reader import read_granted_blocks, spec_columns

pytestmark = [
    pytest.mark.spark,
    # Warnings raised inside Tumult and pyspark.sql.pandas, not by the gateway:
    pytest.mark.filterwarnings("ignore:In Python 3.6\\+ and Spark 3.0\\+:UserWarning"),
    pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:path is deprecated:DeprecationWarning"),
]
ENGINE = "tumult"


def test_engine_for_returns_the_tumult_engine() -> None:
    engine = engine_for(ENGINE)  # type: ignore[arg-type]  (imports Tumult here, under this module's filters)
    assert type(engine).__name__ == "TumultEngine"
    assert engine.name == "tumult"
    assert engine.version() == "0.21.0"


def test_answer_is_close_to_the_exact_answer_on_granted_days(case: Any, check_case: Any) -> None:
    check_case(ENGINE, case)


def test_values_are_clamped_and_each_id_contributes_at_most_k_rows(check_bounds: Any) -> None:
    check_bounds(ENGINE)


def test_boolean_group_keys_round_trip(spark: Any, make_request: Any, sales: Any) -> None:
    """Tumult has no boolean columns: keys travel as strings and come back as the declared booleans."""
    request = make_request(engine=ENGINE, grouped=True, group_column="member", keys=[True, False])
    df = read_granted_blocks(spark, request.dataset, request.blocks, columns=spec_columns(request.spec))
    result = engine_for(request.spec.engine).run(df, request)
    assert [v.key for v in result.values] == [True, False]
    granted = sales.granted_rows()
    for value in result.values:
        exact = sum(1 for r in granted if r["member"] is value.key)
        assert abs(value.value - exact) <= 2
    assert result.spent == request.granted.to_budget()


def test_a_grant_with_more_digits_than_a_float_is_spent_exactly(spark: Any, make_request: Any) -> None:
    request = make_request(engine=ENGINE, epsilon="0.123456789012345678")
    df = read_granted_blocks(spark, request.dataset, request.blocks, columns=spec_columns(request.spec))
    result = engine_for(request.spec.engine).run(df, request)
    assert result.spent == request.granted.to_budget()
    assert str(result.spent.epsilon) == "0.123456789012345678"
