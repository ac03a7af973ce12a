"""Several aggregates under rdp accounting: the per-aggregate loop splits the session's budget in its own
kind (ρ × share for a Tumult zCDP session; PipelineDP's weights split (ε, δ) before each Gaussian is
calibrated), each aggregate's spend is an RDP curve, the curves compose to at most the receipt, and the receipt
stays within the reserved curve at every order (so the gateway never withholds it nor under-charges)."""

# ruff: noqa: RUF002  (the budgets read best in their own symbols)
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.core import rdp
from gateway.core.budget import Budget
from gateway.core.jobs import GrantedBudget, JobRequest
from gateway.core.ledger import demand_of
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec
from gateway.engines import engine_for
from gateway.runtime.reader import read_granted_blocks, spec_columns

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:In Python 3.6\\+ and Spark 3.0\\+:UserWarning"),
    pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:path is deprecated:DeprecationWarning"),
]

SETTINGS = PolicySettings(accounting="rdp")
TWO = [
    {"function": "count", "budget_share": 0.25},
    {"function": "sum", "column": "amount", "low": 0, "high": 100, "budget_share": 0.75},
]


def rdp_request(sales: Any, tmp_path: Path, engine: str, budget: dict[str, Any]) -> JobRequest:
    spec = parse_spec(
        {
            "engine": engine,
            "dataset": "sales",
            "analyst": "ana",
            "blocks": {"last": 3},
            "budget": budget,
            "privacy_unit": "row",
            "aggregates": TWO,
            "group_by": {"column": "region", "keys": ["north", "south"]},
        }
    )
    spec.check_against(sales.parquet)
    return JobRequest(
        submission_id="depth-rdp-1",
        spec=spec,
        dataset=sales.parquet,
        blocks=sales.granted,
        granted=GrantedBudget.of(demand_of(spec, SETTINGS), SETTINGS.orders()),
        output=str(tmp_path / "outcome.json"),
    )


def run(spark: Any, request: JobRequest) -> Any:
    df = read_granted_blocks(spark, request.dataset, request.blocks, columns=spec_columns(request.spec))
    answer = engine_for(request.spec.engine).run(df, request)
    granted = request.granted.to_budget()
    assert answer.spent.curve is not None and answer.spent.fits_in(granted)
    assert len(answer.answers) == 2
    total = Budget()
    for a in answer.answers:
        assert a.spent.curve is not None and a.spent.alphas == request.granted.alphas
        total = total + a.spent.to_budget()
    # the aggregates' curves compose (add) to at most the receipt: equal for zCDP (rho adds), below it at
    # low orders for pure ε (the receipt charges the curve of the summed ε, which bounds the sum of curves)
    for part, whole in zip(total.components(), answer.spent.components(), strict=True):
        assert float(part) <= float(whole) * (1 + 1e-9)
    return answer


def test_tumult_splits_a_rho_grant_by_share(spark: Any, sales: Any, tmp_path: Path) -> None:
    request = rdp_request(sales, tmp_path, "tumult", {"rho": 2})
    answer = run(spark, request)
    alphas = request.granted.alphas
    assert alphas is not None
    count, total = answer.answers
    # each aggregate's curve is that of rho x share: 0.5 and 1.5 (rho's curve is rho * alpha)
    assert float(count.spent.curve[0]) == pytest.approx(float(rdp.rho_curve(Decimal("0.5"), alphas)[0]), rel=1e-9)
    assert float(total.spent.curve[0]) == pytest.approx(float(rdp.rho_curve(Decimal("1.5"), alphas)[0]), rel=1e-9)
    assert answer.spent == request.granted.to_budget()  # the whole rho is spent, no more
    summed = count.spent.to_budget() + total.spent.to_budget()
    assert summed.curve is not None and answer.spent.curve is not None
    for a, b in zip(summed.curve, answer.spent.curve, strict=True):
        assert float(a) == pytest.approx(float(b), rel=1e-9)
    assert any("rho-zCDP" in n for n in answer.notes)


def test_tumult_splits_a_pure_epsilon_grant_under_rdp(spark: Any, sales: Any, tmp_path: Path) -> None:
    request = rdp_request(sales, tmp_path, "tumult", {"epsilon": 4})
    run(spark, request)


@pytest.mark.parametrize("budget", [{"epsilon": 4, "delta": 1e-6}, {"epsilon": 4}])
def test_pipelinedp_splits_epsilon_and_delta_by_weight(
    spark: Any, sales: Any, tmp_path: Path, budget: dict[str, Any]
) -> None:
    run(spark, rdp_request(sales, tmp_path, "pipelinedp", budget))
