"""Statistical calibration of the noise charged under rdp accounting: Gaussian (PipelineDP and Tumult) and zCDP.

Under rdp accounting the ledger reserves, and the receipt charges, the RDP curve of a Gaussian with a
given noise std ``σ`` (sensitivity 1): ``σ = rdp.library_sigma(ε, δ)`` for an (ε, δ > 0) budget, and
``σ = 1/sqrt(2ρ)`` for {rho}. These cases check that the noise the engine really adds has exactly that
spread times the query's sensitivity, so the curve charged is the curve of the noise added.

Same method as ``test_calibration`` (600 absent keys, pure-noise answers, root mean square ``s`` against
``σ``), with a band narrowed for Gaussian noise: a Gaussian or discrete Gaussian has kurtosis ``κ ≈ 3``
(not 6.6), so the same one-sided Bernstein bound ``exp(-n t² / (2κ))`` is below 1e-6 for ``t = 0.376``,
i.e. ``s/σ ≥ sqrt(1 - t) = 0.79``; the upper edge stays 1.40 (``sd(mean(x²)/σ²) = sqrt(2/n) = 0.058``, so
``1.96`` is 16 of them away). A mutant that hands the library twice the budget has ``s/σ ≈ 0.707`` for
zCDP (``σ/√2``; its own sd about 0.02, so 0.79 is 4 of them above it) and about 0.5 for (ε, δ).
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
from tests.engines.test_calibration import ABSENT, UPPER

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:In Python 3.6\\+ and Spark 3.0\\+:UserWarning"),
    pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:path is deprecated:DeprecationWarning"),
]

LOWER = 0.79  # Gaussian noise (kurtosis 3): see the module docstring
KURTOSIS = 3.0
EPS_DELTA = {"epsilon": 1, "delta": 1e-6}


def test_the_gaussian_band_keeps_false_failures_below_one_in_a_million() -> None:
    n = len(ABSENT)
    assert math.exp(-n * (1 - LOWER**2) ** 2 / (2 * KURTOSIS)) < 1e-6
    assert (UPPER**2 - 1) / math.sqrt(2 / n) > 10
    assert (LOWER - 2**-0.5) / (2**-0.5 * 0.5 * math.sqrt(2 / n)) > 3.5  # a 2x-rho mutant sits below the band


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
    label = f"{engine}-{function}-{'+'.join(sorted(budget))}"
    print(f"calibration rdp {label}: sample sd {rms:.4g}, σ {sigma:.4g}, ratio {rms / sigma:.3f}")
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
