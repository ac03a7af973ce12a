"""PipelineDP engine on Spark RDDs: one ``NaiveBudgetAccountant`` per job holding exactly the grant.

Laplace noise when the grant's δ is 0, Gaussian noise when δ > 0. Partitions are always public: the
spec's declared keys, or the single constant partition ``None`` without group-by, so no budget goes to
private partition selection and no key is ever read from the data.

Privacy units:

* **row**: every row gets a unique privacy id (``monotonically_increasing_id``) and contributes once.
* **id** (``max_rows_per_id = K``): each id keeps at most K rows in total. For count, sum and mean this is
  PipelineDP's own ``max_contributions=K`` (random sampling per id; noise calibrated to K rows, the
  tight bound). PipelineDP 0.3.1 refuses ``max_contributions`` for variance (``NotImplementedError``),
  so variance truncates each id to K random rows in Spark first and then declares the bounds that
  truncation implies: ``max_partitions_contributed = min(K, #keys)`` and
  ``max_contributions_per_partition = K``. Every id already satisfies both, so PipelineDP's own
  bounding drops nothing more. The noise is exact for an ungrouped variance and up to ``min(K, #keys)``
  times larger than a total-K bound would need when grouped (PipelineDP cannot express "K rows in
  total across partitions" for variance); that is the tightest correct choice available.

``compute_budgets()`` runs before results are collected; the spend is read back from the accountant's
mechanism specs.
"""

from __future__ import annotations

import importlib.metadata
import math
from decimal import Decimal
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import pipeline_dp
from pyspark.sql import Window
from pyspark.sql import functions as F

from gateway.core import rdp
from gateway.core.budget import Budget
from gateway.core.jobs import GroupValue, JobRequest
from gateway.core.spec import AggregateFunction, QuerySpec
from gateway.engines import _prepare
from gateway.engines.base import (
    EngineAnswer,
    budget_as_floats,
    clamp_to_range,
    fixed_notes,
    group_keys,
    spent_to_decimal,
)
from gateway.errors import GatewayInternalError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

_METRICS = {
    AggregateFunction.COUNT: pipeline_dp.Metrics.COUNT,
    AggregateFunction.SUM: pipeline_dp.Metrics.SUM,
    AggregateFunction.MEAN: pipeline_dp.Metrics.MEAN,
    AggregateFunction.VARIANCE: pipeline_dp.Metrics.VARIANCE,
}
_RANK = "__rank"
VARIANCE_NOTE = "PipelineDP's variance is the population variance (it divides by the noisy count, not count - 1)."


class PipelineDPEngine:
    """Runs the spec's aggregate with PipelineDP's ``DPEngine`` on ``SparkRDDBackend``."""

    name = "pipelinedp"

    def version(self) -> str:
        return importlib.metadata.version("pipeline-dp")

    def run(self, df: DataFrame, request: JobRequest) -> EngineAnswer:
        spec = request.spec
        granted = _handed(request)
        eps, delta = budget_as_floats(granted)
        keys = group_keys(request)
        data = _rows(_prepare.standardize(df, spec), spec)

        accountant = pipeline_dp.NaiveBudgetAccountant(total_epsilon=eps, total_delta=delta)
        engine = pipeline_dp.DPEngine(accountant, pipeline_dp.SparkRDDBackend(df.sparkSession.sparkContext))
        extractors = pipeline_dp.DataExtractors(
            privacy_id_extractor=itemgetter(0),
            partition_extractor=itemgetter(1),
            value_extractor=itemgetter(2),
        )
        params = _params(spec, granted, len(keys))
        result = engine.aggregate(data.rdd.map(tuple), params, extractors, public_partitions=keys)
        accountant.compute_budgets()
        rows = dict(result.collect())

        spent = _receipt(request, accountant, eps, delta, granted)
        metric = spec.aggregate.function.value
        values: list[GroupValue] = []
        notes = _fixed_notes(spec, len(keys))
        for key in keys:
            if key not in rows:
                raise GatewayInternalError(f"PipelineDP returned no value for declared key {key!r}")
            value = float(getattr(rows[key], metric))
            agg = spec.aggregate
            if agg.low is not None and agg.high is not None:
                value = clamp_to_range(agg.function, agg.low, agg.high, value)
            values.append(GroupValue(key=key, value=value))
        return EngineAnswer(values=values, spent=spent, notes=notes)


def _rows(data: DataFrame, spec: QuerySpec) -> DataFrame:
    """``(privacy_id, partition_key, value)`` rows, truncated per id where PipelineDP cannot do it."""
    if spec.privacy_unit.is_row:
        pid = F.monotonically_increasing_id()
    else:
        pid = F.col(_prepare.PID)
        cap = spec.privacy_unit.max_rows_per_id
        if spec.aggregate.function is AggregateFunction.VARIANCE and cap is not None:
            by_id = Window.partitionBy(_prepare.PID).orderBy(F.rand())
            data = data.withColumn(_RANK, F.row_number().over(by_id)).where(F.col(_RANK) <= cap)
    key = F.col(_prepare.KEY) if spec.group_by is not None else F.lit(None)
    return data.select(pid.alias("pid"), key.alias("key"), F.col(_prepare.VALUE).alias("value"))


def _params(spec: QuerySpec, granted: Budget, n_keys: int) -> pipeline_dp.AggregateParams:
    agg = spec.aggregate
    noise = pipeline_dp.NoiseKind.LAPLACE if granted.delta == 0 else pipeline_dp.NoiseKind.GAUSSIAN
    bounds: dict[str, Any] = {}
    if agg.function is not AggregateFunction.COUNT:
        bounds = {"min_value": agg.low, "max_value": agg.high}
    cap = spec.privacy_unit.max_rows_per_id
    if cap is None:
        contributions: dict[str, int] = {
            "max_partitions_contributed": 1,
            "max_contributions_per_partition": 1,
        }
    elif agg.function is AggregateFunction.VARIANCE:
        contributions = {
            "max_partitions_contributed": min(cap, n_keys),
            "max_contributions_per_partition": cap,
        }
    else:
        contributions = {"max_contributions": cap}
    return pipeline_dp.AggregateParams(
        metrics=[_METRICS[agg.function]], noise_kind=noise, **bounds, **contributions
    )


def _handed(request: JobRequest) -> Budget:
    """The (ε, δ) the accountant holds: the grant, or under rdp accounting the spec's (ε, δ) whose curve was granted."""
    if request.granted.curve is None:
        return request.granted.to_budget()
    budget = request.spec.budget
    if budget.epsilon is None:  # the ledger refuses {rho} for this engine at submission
        raise GatewayInternalError("PipelineDP takes an (ε, δ) budget, not {rho}")
    return Budget(budget.epsilon, budget.delta)


def _receipt(
    request: JobRequest, accountant: pipeline_dp.NaiveBudgetAccountant, eps: float, delta: float, granted: Budget
) -> Budget:
    """(ε, δ) from the accountant's mechanism specs; under rdp their RDP curve on the grant's orders.

    A Gaussian mechanism's curve is rho*alpha with rho = 1/(2 sigma^2) for the sigma PipelineDP computes
    from that mechanism's own (ε, δ) at sensitivity 1 (noise scales with the sensitivity, so the ratio is
    the same); Laplace mechanisms are pure ε-DP and their spent ε gets the pure-DP curve.
    """
    alphas = request.granted.alphas
    if alphas is None:
        return _spent(accountant, eps, delta, granted)
    rho = Decimal(0)
    laplace = []
    for s in accountant.mechanism_specs:
        if s.mechanism_type == pipeline_dp.aggregate_params.MechanismType.GAUSSIAN:
            rho += rdp.sigma_rho(rdp.library_sigma(s.eps, s.delta)) * s.count
        else:
            laplace.append(s.eps * s.count)
    pure = spent_to_decimal(math.fsum(laplace), eps, granted.epsilon) if laplace else Decimal(0)
    return Budget(curve=rdp.rho_curve(rho, alphas)) + Budget(curve=rdp.pure_curve(pure, alphas))


def _spent(
    accountant: pipeline_dp.NaiveBudgetAccountant, eps: float, delta: float, granted: Budget
) -> Budget:
    """The accountant's total over its mechanisms (Laplace mechanisms use no δ)."""
    specs = accountant.mechanism_specs
    spent_eps = math.fsum(s.eps * s.count for s in specs)
    spent_delta = math.fsum((s.delta or 0.0) * s.count for s in specs)
    return Budget(
        spent_to_decimal(spent_eps, eps, granted.epsilon), spent_to_decimal(spent_delta, delta, granted.delta)
    )


def _fixed_notes(spec: QuerySpec, n_keys: int) -> list[str]:
    """Notes that depend only on the spec (never on the data)."""
    notes = fixed_notes(spec)
    if spec.aggregate.function is not AggregateFunction.VARIANCE:
        return notes
    notes.append(VARIANCE_NOTE)
    cap = spec.privacy_unit.max_rows_per_id
    if cap is not None and min(cap, n_keys) > 1:
        notes.append(
            f"PipelineDP 0.3.1 cannot cap variance at {cap} rows per id in total, so each id was truncated "
            f"to {cap} rows first and noise is calibrated to {min(cap, n_keys)} keys x {cap} rows per key."
        )
    return notes
