"""PipelineDP engine on local Spark: near-exact answers at a large ε, clamping, the per-id cap, spend."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.engines import engine_for
from gateway.engines.pipelinedp import PipelineDPEngine
from gateway.runtime.reader import read_granted_blocks, spec_columns

pytestmark = pytest.mark.spark
ENGINE = "pipelinedp"


def test_engine_for_returns_the_pipelinedp_engine() -> None:
    engine = engine_for(ENGINE)  # type: ignore[arg-type]
    assert isinstance(engine, PipelineDPEngine)
    assert engine.name == "pipelinedp"
    assert engine.version() == "0.3.1"


def test_answer_is_close_to_the_exact_answer_on_granted_days(case: Any, check_case: Any) -> None:
    check_case(ENGINE, case)


def test_values_are_clamped_and_each_id_contributes_at_most_k_rows(check_bounds: Any) -> None:
    check_bounds(ENGINE)


def test_variance_cap_truncates_ids_before_pipelinedp(answer: Any, cases: Any, sales: Any) -> None:
    _, result = answer(ENGINE, cases["variance_id_grouped"])
    north = result.values[0]
    assert north.key == "north"
    capped = sales.exact("variance", "id", True)["north"]
    uncapped = sales.exact("variance", "row", True)["north"]
    assert abs(north.value - capped) < abs(north.value - uncapped)
    assert any("truncated to 3 rows" in note for note in result.notes)


def test_negative_variances_are_reported_as_returned_with_a_note(spark: Any, make_request: Any) -> None:
    """At a tiny ε some DP variances usually come out negative: each one has a note, none is clipped."""
    request = make_request(engine=ENGINE, function="variance", grouped=True, epsilon="0.01")
    df = read_granted_blocks(spark, request.dataset, request.blocks, columns=spec_columns(request.spec))
    result = engine_for(request.spec.engine).run(df, request)
    negative = [v.key for v in result.values if v.value < 0]
    noted = [
        key
        for key in request.spec.group_by.keys
        if any(f"for key {key!r} is negative" in n for n in result.notes)
    ]
    assert negative == noted
    assert result.spent == request.granted.to_budget()
