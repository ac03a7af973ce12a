"""Cases shared by the two engine test modules, and a memo so each case runs once per engine."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from gateway.core.budget import Budget
from gateway.core.jobs import JobRequest
from gateway.engines import EngineAnswer, engine_for
from gateway.runtime.reader import read_granted_blocks, spec_columns


@dataclass(frozen=True)
class Case:
    function: str
    unit: str  # "row" or "id"
    grouped: bool
    delta: float

    def __str__(self) -> str:
        return f"{self.function}-{self.unit}-{'grouped' if self.grouped else 'total'}-delta{self.delta:g}"


# Every aggregate runs grouped once and ungrouped once, at row level once and at id level once, and
# each (unit, grouping) pair runs with δ = 0 and δ > 0 across aggregates (PipelineDP: Laplace / Gaussian).
CASES = [
    Case("count", "row", False, 0),
    Case("count", "id", True, 1e-6),
    Case("sum", "row", True, 0),
    Case("sum", "id", False, 1e-6),
    Case("mean", "row", True, 1e-6),
    Case("mean", "id", False, 0),
    Case("variance", "row", False, 1e-6),
    Case("variance", "id", True, 0),
]
NAMED = {
    "count_row_total": CASES[0],
    "sum_row_grouped": CASES[2],
    "sum_id_total": CASES[3],
    "variance_id_grouped": CASES[7],
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", CASES, ids=str)


def tolerance(function: str, exact: float) -> float:
    """Generous for ε = 200 (Laplace scales < 2, Gaussian sigma ~ 19 for an id-level sum), yet far below
    the effects tested (clamping, the cap, leaked days)."""
    if function == "count":
        return 2.0
    if function == "sum":
        return 0.01 * abs(exact) + 20.0
    if function == "mean":
        return 1.0
    return 0.08 * abs(exact) + 10.0


def assert_close(function: str, got: float, exact: float | None, where: Any) -> None:
    if exact is None:  # mean or variance of an empty group: any DP value (or NaN) is acceptable
        return
    assert math.isfinite(got), f"{function} for {where!r}: got {got}, expected about {exact}"
    assert abs(got - exact) <= tolerance(function, exact), f"{function} for {where!r}: {got} vs exact {exact}"


Answer = Callable[[str, Case], tuple[JobRequest, EngineAnswer]]


@pytest.fixture(scope="session")
def _memo() -> dict[tuple[str, Case], tuple[JobRequest, EngineAnswer]]:
    return {}


@pytest.fixture
def answer(spark: Any, make_request: Any, _memo: dict[tuple[str, Case], tuple[JobRequest, EngineAnswer]]) -> Answer:
    """Run (or recall) one case with one engine on the granted days of the Parquet data set."""

    def run(engine: str, case: Case) -> tuple[JobRequest, EngineAnswer]:
        if (engine, case) not in _memo:
            request = make_request(
                engine=engine, function=case.function, unit=case.unit, grouped=case.grouped, delta=case.delta
            )
            df = read_granted_blocks(spark, request.dataset, request.blocks, columns=spec_columns(request.spec))
            _memo[(engine, case)] = (request, engine_for(request.spec.engine).run(df, request))
        return _memo[(engine, case)]

    return run


@pytest.fixture
def cases() -> dict[str, Case]:
    """Cases by name, for tests that look at one memoized answer more closely."""
    return NAMED


@pytest.fixture
def check_case(answer: Answer, sales: Any) -> Callable[[str, Case], EngineAnswer]:
    """Run one case and check it against the exact answer on the granted days and the grant."""

    def check(engine: str, case: Case) -> EngineAnswer:
        request, result = answer(engine, case)
        declared = sales.keys if case.grouped else [None]
        assert [v.key for v in result.values] == declared
        exact = sales.exact(case.function, case.unit, case.grouped, sample=engine == "tumult")
        for value in result.values:
            assert_close(case.function, value.value, exact[value.key], value.key)
        granted = request.granted.to_budget()
        if engine == "tumult":  # pure-DP mechanisms: ε spent, δ returned (see gateway.engines.tumult)
            granted = Budget(granted.epsilon, Decimal(0))
        assert result.spent == granted
        return result

    return check


@pytest.fixture
def check_bounds(answer: Answer, cases: dict[str, Case], sales: Any) -> Callable[[str], None]:
    """The declared clamping bounds and the per-id cap hold, whatever the engine."""

    def check(engine: str) -> None:
        _, grouped = answer(engine, cases["sum_row_grouped"])  # values above high count as high
        clamped = sales.exact("sum", "row", True)
        unclamped = sales.exact("sum", "row", True, clamp=False)
        for value in grouped.values:
            if value.key != "west":
                assert abs(value.value - clamped[value.key]) < 20
                assert abs(value.value - unclamped[value.key]) > 200
        _, total = answer(engine, cases["sum_id_total"])  # the whale's 40 rows of 50.0 add cap x 50, not 40 x 50
        uncapped = sales.exact("sum", "row", False)[None]
        capped = sales.exact("sum", "id", False)[None]
        assert uncapped - capped == (sales.whale_rows - sales.cap) * 50.0
        assert abs(total.values[0].value - capped) < 120  # Gaussian noise here: sigma ~ 19

    return check
