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


def test_noisy_variances_are_clamped_as_post_processing(spark: Any, make_request: Any, sales: Any) -> None:
    """At a tiny ε raw DP variances go negative or huge; the released ones lie in [0, ((high-low)/2)^2]."""
    request = make_request(engine=ENGINE, function="variance", grouped=True, epsilon="0.01")
    df = read_granted_blocks(spark, request.dataset, request.blocks, columns=spec_columns(request.spec))
    result = engine_for(request.spec.engine).run(df, request)
    top = ((sales.high - sales.low) / 2) ** 2
    assert all(0.0 <= v.value <= top for v in result.values)
    assert any(v.value in (0.0, top) for v in result.values)  # at ε = 0.01 some value hits a bound
    assert any("clamped into [0, 2500]" in n for n in result.notes)
    assert any("at most 3 rows" not in n and "Privacy unit: one row" in n for n in result.notes)
    assert result.spent == request.granted.to_budget()
