"""Statistical calibration of the noise charged under rdp accounting: Gaussian (PipelineDP and Tumult) and zCDP.

Under rdp accounting the ledger reserves, and the receipt charges, the RDP curve of a Gaussian with a
given noise std ``σ`` (sensitivity 1): ``σ = rdp.library_sigma(ε, δ)`` for an (ε, δ > 0) budget, and
``σ = 1/sqrt(2ρ)`` for {rho}. These cases check that the noise the engine really adds has exactly that
spread times the query's sensitivity, so the curve charged is the curve of the noise added.

Same method and acceptance band as ``test_calibration`` (600 absent keys, pure-noise answers, root mean
square against ``σ``, ``s/σ ∈ [0.66, 1.40]``): a Gaussian or discrete Gaussian has kurtosis 3, below the
6.6 the band's 1e-6 false-failure bound assumes, so the bound holds a fortiori; a mutant that hands the
library twice the budget (``σ/√2`` for zCDP, about ``σ/2`` for (ε, δ)) leaves the band low.
"""

# ruff: noqa: RUF001, RUF002  (the statistics read best in their own symbols)
from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from gateway.core import rdp
from gateway.engines import engine_for
from gateway.runtime.reader import read_granted_blocks, spec_columns
from tests.engines.test_calibration import ABSENT, LOWER, UPPER

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:In Python 3.6\\+ and Spark 3.0\\+:UserWarning"),
    pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:path is deprecated:DeprecationWarning"),
]

EPS_DELTA = {"epsilon": 1, "delta": 1e-6}
RHO = {"rho": 0.5}


def charged_sigma(budget: dict[str, Any]) -> float:
    """The σ (sensitivity 1) whose curve the ledger charges for this budget."""
    if "rho" in budget:
        return 1 / math.sqrt(2 * budget["rho"])
    return rdp.library_sigma(budget["epsilon"], budget["delta"])


@pytest.mark.parametrize(
    ("engine", "function", "budget"),
    [
        ("pipelinedp", "count", EPS_DELTA),
        ("pipelinedp", "sum", EPS_DELTA),
        ("tumult", "count", RHO),
        ("tumult", "sum", RHO),
        ("tumult", "count", EPS_DELTA),
    ],
    ids=["pipelinedp-count-gauss", "pipelinedp-sum-gauss", "tumult-count-rho", "tumult-sum-rho", "tumult-count-gauss"],
)
def test_gaussian_noise_matches_the_charged_curve(
    spark: Any, make_request: Any, sales: Any, engine: str, function: str, budget: dict[str, Any]
) -> None:
    request = make_request(engine=engine, function=function, grouped=True, keys=ABSENT, budget=budget, accounting="rdp")
    df = read_granted_blocks(spark, request.dataset, request.blocks, columns=spec_columns(request.spec))
    answer = engine_for(request.spec.engine).run(df, request)
    assert [v.key for v in answer.values] == ABSENT
    assert answer.spent.fits_in(request.granted.to_budget())  # the receipt is within the grant at every order
    assert answer.spent.curve is not None and max(answer.spent.curve) > 0
    samples = [v.value for v in answer.values]
    rms = math.sqrt(math.fsum(x * x for x in samples) / len(samples))
    sensitivity = 1.0 if function == "count" else max(abs(sales.low), abs(sales.high))
    sigma = sensitivity * charged_sigma(budget)
    assert LOWER <= rms / sigma <= UPPER, f"noise sd {rms:.4g} vs charged σ {sigma:.4g} (ratio {rms / sigma:.3f})"


def test_a_single_gaussian_is_charged_exactly_its_grant(make_request: Any) -> None:
    """One mechanism: the receipt's curve is the reserved curve itself (nothing refunded, nothing over)."""
    request = make_request(engine="tumult", budget=RHO, accounting="rdp")
    assert request.granted.curve == rdp.rho_curve(Decimal("0.5"), [Decimal(a) for a in request.granted.alphas])


@pytest.mark.parametrize("engine", ["tumult", "pipelinedp"])
def test_a_pure_dp_grant_under_rdp_is_spent_as_the_pure_dp_curve(spark: Any, make_request: Any, engine: str) -> None:
    """δ = 0 under rdp: Laplace or geometric noise, charged min(ε, α ε²/2), exactly the grant for one mechanism."""
    request = make_request(engine=engine, grouped=True, budget={"epsilon": 1}, accounting="rdp")
    df = read_granted_blocks(spark, request.dataset, request.blocks, columns=spec_columns(request.spec))
    answer = engine_for(request.spec.engine).run(df, request)
    alphas = [Decimal(a) for a in request.granted.alphas]
    assert answer.spent.curve == request.granted.curve == rdp.pure_curve(Decimal(1), alphas)
