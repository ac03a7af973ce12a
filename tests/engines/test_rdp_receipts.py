"""PipelineDP under rdp: a mean or variance splits (ε, δ) between Gaussians; their summed curve stays within the grant.

Runs PipelineDP's own accountant and engine on its local backend (no Spark): the receipt is computed by
the engine's ``_receipt`` from the accountant's mechanism specs, exactly as in a job.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import pipeline_dp
import pytest

from gateway.engines import pipelinedp as engine
from gateway.engines.base import budget_as_floats


@pytest.mark.parametrize("function", ["count", "sum", "mean", "variance"])
@pytest.mark.parametrize(("epsilon", "delta"), [(0.5, 1e-9), (1, 1e-6), (8, 1e-5)])
def test_the_receipt_of_every_aggregate_is_within_the_reserved_curve(
    make_request: Any, function: str, epsilon: float, delta: float
) -> None:
    request = make_request(function=function, budget={"epsilon": epsilon, "delta": delta}, accounting="rdp")
    handed = engine._handed(request)
    eps, dlt = budget_as_floats(handed)
    accountant = pipeline_dp.NaiveBudgetAccountant(total_epsilon=eps, total_delta=dlt)
    dp = pipeline_dp.DPEngine(accountant, pipeline_dp.LocalBackend())
    extractors = pipeline_dp.DataExtractors(
        privacy_id_extractor=itemgetter(0), partition_extractor=itemgetter(1), value_extractor=itemgetter(2)
    )
    rows = [(i, None, float(i % 7)) for i in range(20)]
    result = dp.aggregate(rows, engine._params(request.spec, 0, handed, 1), extractors, public_partitions=[None])
    accountant.compute_budgets()
    list(result)
    spent = engine._receipt(request, accountant, eps, dlt, handed)
    granted = request.granted.to_budget()
    assert spent.curve is not None and spent.fits_in(granted)
    if function in ("count", "sum"):
        assert spent == granted  # one Gaussian: exactly the curve reserved
