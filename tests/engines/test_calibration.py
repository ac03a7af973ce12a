"""Statistical calibration: the noise each engine adds has the spread its DP guarantee requires.

Each case declares ``N_KEYS`` group keys that are absent from the data, so one Spark run returns
``N_KEYS`` independent pure-noise samples (the true value of every group is 0). Their root mean square
``s = sqrt(mean(x²))`` (the mean is known to be 0) is compared with the mechanism's theoretical standard
deviation ``σ``, computed here from the spec (never from what the engine handed the library) with each
library's own sensitivity rules, read from its code:

* Laplace with scale ``b = Δ/ε`` has ``σ = √2·b``. PipelineDP adds Laplace noise to count and sum
  (``dp_computations.compute_sensitivities_for_count/_sum``: ``Δ = max_contributions`` for a count and
  ``max_contributions · max(|low|, |high|)`` for a sum; at row level ``l0 · linf = 1 · 1`` and
  ``1 · max(|low|, |high|)``). A single metric gets the accountant's whole ε.
* Tumult adds two-sided geometric noise to an integer count and Laplace noise to a float sum. Its
  sensitivity is the stability of ``MaxRowsPerID(K)`` (K ids' rows; 1 for ``AddOneRow``) times 1 for a
  count and ``max(|low|, |high|)`` for a sum (``SumGrouped.stability_function``). The geometric
  distribution ``P(k) ∝ α^|k|``, ``α = exp(-1/b)``, has ``σ² = 2α/(1-α)²``.

Acceptance band: ``s/σ ∈ [LOWER, UPPER] = [0.66, 1.40]``, i.e. ``m = mean(x²)/σ² ∈ [0.4356, 1.96]``.
With ``Y = x²/σ²``, ``E[Y] = 1`` and ``E[Y²] = κ`` (the kurtosis: 6 for Laplace, at most 6.6 for the
geometric distributions used here, 6.54 at ``b = 1``). For ``n = N_KEYS = 600``:

* lower tail: ``Y ≥ 0``, so the one-sided Bernstein bound ``P(m ≤ 1 - t) ≤ exp(-n t² / (2κ))`` gives
  ``exp(-600 · 0.5644² / 13.2) = 5e-7`` for ``t = 0.5644``;
* upper tail: ``sd(m) = sqrt((κ - 1)/n) = 0.091``, so 1.96 is 10.5 standard deviations above the mean;
  the heavy (Weibull-like) tail of ``Y`` matters only through single huge samples, and one sample alone
  moves ``m`` by 0.96 only when ``|x| > 24·b`` (probability ``600·e^-24 < 3e-8``).

A correct mechanism therefore fails with probability below 1e-6. A mutant that hands the library twice
the budget halves ``σ``: its ``s/σ`` is about 0.5 ± 0.023, 7 of its own standard deviations below
0.66, so it fails for sure; a 1000× mutant (``s/σ ≈ 0.001``) even more so. Mean and variance have
no closed-form noise distribution (a ratio of noisy sums); they get a sanity check only.
"""

# ruff: noqa: RUF002, RUF003  (the statistics read best in their own symbols)
from __future__ import annotations

import math
from typing import Any

import pytest

from gateway.engines import engine_for
from gateway.runtime.reader import read_granted_blocks, spec_columns

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:In Python 3.6\\+ and Spark 3.0\\+:UserWarning"),
    pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:path is deprecated:DeprecationWarning"),
]

N_KEYS = 600
EPSILON = 1.0
LOWER, UPPER = 0.66, 1.40
KURTOSIS_MAX = 6.6
ABSENT = [f"absent-{i:03d}" for i in range(N_KEYS)]

# Figures of the last run, reported by ``test_calibration_summary`` (``pytest -s``).
MEASURED: dict[str, tuple[float, float]] = {}


def laplace_sd(sensitivity: float, epsilon: float) -> float:
    return math.sqrt(2) * sensitivity / epsilon


def geometric_sd(sensitivity: float, epsilon: float) -> float:
    alpha = math.exp(-epsilon / sensitivity)
    return math.sqrt(2 * alpha) / (1 - alpha)


def geometric_kurtosis(sensitivity: float, epsilon: float) -> float:
    """E[X⁴]/E[X²]² of the two-sided geometric distribution, summed numerically."""
    alpha = math.exp(-epsilon / sensitivity)
    norm = (1 - alpha) / (1 + alpha)
    m2 = m4 = 0.0
    for k in range(1, 10_000):
        p = 2 * norm * alpha**k
        m2 += p * k * k
        m4 += p * k**4
    return m4 / m2**2


def expected_sd(engine: str, function: str, unit: str, low: float, high: float, cap: int) -> float:
    contributions = 1 if unit == "row" else cap
    per_row = 1.0 if function == "count" else max(abs(low), abs(high))
    sensitivity = contributions * per_row
    if engine == "tumult" and function == "count":
        return geometric_sd(sensitivity, EPSILON)
    return laplace_sd(sensitivity, EPSILON)


def test_the_geometric_kurtosis_is_within_the_bound_used() -> None:
    """The band's lower-tail bound uses κ ≤ KURTOSIS_MAX (the docstring's Bernstein step)."""
    for sensitivity in (1, 3):
        assert 6.0 <= geometric_kurtosis(sensitivity, EPSILON) <= KURTOSIS_MAX


def test_the_band_separates_a_correct_mechanism_from_a_twice_too_generous_one() -> None:
    n = N_KEYS
    lower_tail = math.exp(-n * (1 - LOWER**2) ** 2 / (2 * KURTOSIS_MAX))
    assert lower_tail < 1e-6
    assert (UPPER**2 - 1) / math.sqrt(5 / n) > 10  # upper edge: > 10 sd of mean(x²)/σ²
    rel_sd = 0.5 * math.sqrt(5 / n)  # delta method: sd of s/σ
    assert (LOWER - 0.5) / (0.5 * rel_sd) > 6.5  # a 2x budget mutant sits ~7 of its sd below the band


def _noise_samples(spark: Any, make_request: Any, engine: str, function: str, unit: str) -> list[float]:
    request = make_request(engine=engine, function=function, unit=unit, grouped=True, epsilon=EPSILON, keys=ABSENT)
    df = read_granted_blocks(spark, request.dataset, request.blocks, columns=spec_columns(request.spec))
    answer = engine_for(request.spec.engine).run(df, request)
    assert [v.key for v in answer.values] == ABSENT
    assert answer.spent == request.granted.to_budget()
    return [v.value for v in answer.values]


@pytest.mark.parametrize("unit", ["row", "id"])
@pytest.mark.parametrize("function", ["count", "sum"])
@pytest.mark.parametrize("engine", ["tumult", "pipelinedp"])
def test_noise_spread_matches_the_mechanism(
    spark: Any, make_request: Any, sales: Any, engine: str, function: str, unit: str
) -> None:
    samples = _noise_samples(spark, make_request, engine, function, unit)
    rms = math.sqrt(math.fsum(x * x for x in samples) / len(samples))
    sigma = expected_sd(engine, function, unit, sales.low, sales.high, sales.cap)
    MEASURED[f"{engine}-{function}-{unit}"] = (rms, sigma)
    assert LOWER <= rms / sigma <= UPPER, (
        f"{engine} {function} ({unit} unit) at ε={EPSILON}: noise sd {rms:.4g} vs theory {sigma:.4g} "
        f"(ratio {rms / sigma:.3f}, accepted [{LOWER}, {UPPER}])"
    )


@pytest.mark.parametrize("engine", ["tumult", "pipelinedp"])
def test_mean_and_variance_of_absent_keys_stay_within_their_bounds(
    spark: Any, make_request: Any, sales: Any, engine: str
) -> None:
    """No closed form for these ratios; every answer must still be a clamped, finite value (or NaN)."""
    keys = ABSENT[:50]
    for function, top in (("mean", sales.high), ("variance", ((sales.high - sales.low) / 2) ** 2)):
        request = make_request(engine=engine, function=function, grouped=True, epsilon=EPSILON, keys=keys)
        df = read_granted_blocks(spark, request.dataset, request.blocks, columns=spec_columns(request.spec))
        answer = engine_for(engine).run(df, request)  # type: ignore[arg-type]
        bottom = sales.low if function == "mean" else 0.0
        for value in answer.values:
            assert math.isnan(value.value) or bottom <= value.value <= top, (function, value)


def test_calibration_summary() -> None:
    """Prints the measured sd beside the theory (run with ``-s``); runs after the cases above."""
    for name, (rms, sigma) in sorted(MEASURED.items()):
        print(f"calibration {name}: sample sd {rms:.4g}, theory {sigma:.4g}, ratio {rms / sigma:.3f}")
