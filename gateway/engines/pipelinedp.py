"""PipelineDP engine on Spark RDDs: one ``NaiveBudgetAccountant`` per job holding exactly the grant.

Laplace noise when the grant's δ is 0, Gaussian noise when δ > 0. Partitions are always public: the
spec's declared keys, or the single constant partition ``None`` without group-by, so no budget goes to
private partition selection and no key is ever read from the data.

Privacy units:

* **row**: every row gets a unique privacy id (``monotonically_increasing_id``) and contributes once.
* **row, one-to-many join** (``join.matches: many``): every private row gets a synthetic id before the
  join, shared by its copies, and is then an id with at most M rows (M: the public table's largest key
  multiplicity; see ``_prepare``), bounded as below with K = M.
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
from gateway.core.jobs import AggregateAnswer, GrantedBudget, GroupValue, JobRequest
from gateway.core.spec import Aggregate, AggregateFunction, QuerySpec
from gateway.engines import _prepare
from gateway.engines.base import (
    EngineAnswer,
    budget_as_floats,
    caps_text,
    clamp_to_range,
    decode_key,
    fixed_notes,
    group_keys,
    public_key,
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
    AggregateFunction.PRIVACY_ID_COUNT: pipeline_dp.Metrics.PRIVACY_ID_COUNT,
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
        # With private keys the number of groups is unknown: an id's rows can reach as many groups as it has rows.
        fanout = _prepare.row_fanout(df.sparkSession, request)
        n_keys = len(keys) if keys else (_cap(spec, fanout) or 1)
        data = _prepare.standardize(df, request)

        accountant = pipeline_dp.NaiveBudgetAccountant(total_epsilon=eps, total_delta=delta)
        engine = pipeline_dp.DPEngine(accountant, pipeline_dp.SparkRDDBackend(df.sparkSession.sparkContext))
        extractors = pipeline_dp.DataExtractors(
            privacy_id_extractor=itemgetter(0),
            partition_extractor=itemgetter(1),
            value_extractor=itemgetter(2),
        )
        # One accountant for every aggregate: each call takes ``budget_weight`` = its share, and
        # ``compute_budgets`` splits the grant by those weights before any result is collected.
        pending = []
        for index, agg in enumerate(spec.all_aggregates):
            first = len(accountant.mechanism_specs)
            params = _params(spec, index, granted, n_keys, fanout)
            rows = _rows(data, spec, index, fanout)
            private = spec.group_by is not None and spec.group_by.private
            result = engine.aggregate(
                rows.rdd.map(tuple), params, extractors, public_partitions=None if private else keys
            )
            pending.append((agg, result, first, len(accountant.mechanism_specs)))
        accountant.compute_budgets()

        spent = _receipt(request, accountant, eps, delta, granted)
        notes = _fixed_notes(spec, n_keys, fanout)
        answers: list[AggregateAnswer] = []
        for agg, result, first, last in pending:
            rows_by_key = dict(result.collect())
            values: list[GroupValue] = []
            metric = _metric_name(agg)
            if spec.group_by is not None and spec.group_by.private:  # the DP-selected groups, in key order
                for key in sorted(rows_by_key, key=str):
                    value = float(getattr(rows_by_key[key], metric))
                    if agg.low is not None and agg.high is not None:
                        value = clamp_to_range(agg.function, agg.low, agg.high, value)
                    values.append(GroupValue(key=decode_key(request, key), value=value))
                keys_seen = len(values)
                notes.append(f"Groups were selected from the data with DP: {keys_seen} group(s) released.")
            for index, key in enumerate(keys):  # declared keys (none when private)
                if key not in rows_by_key:
                    raise GatewayInternalError(
                        f"PipelineDP returned no value for declared key {public_key(request, index)!r}"
                    )
                value = float(getattr(rows_by_key[key], metric))
                if agg.low is not None and agg.high is not None:
                    value = clamp_to_range(agg.function, agg.low, agg.high, value)
                values.append(GroupValue(key=public_key(request, index), value=value))
            mechanisms = accountant.mechanism_specs[first:last]
            answers.append(
                AggregateAnswer(
                    name=agg.label,
                    budget_share=spec.share(agg),
                    spent=_aggregate_spent(request, mechanisms),
                    caps=caps_text(spec, fanout),
                    noise_sd=_noise_sd(agg, rows_by_key),
                    values=values,
                )
            )
        return EngineAnswer(values=answers[0].values, spent=spent, notes=notes, answers=answers)


_SINGLE_MECHANISM = frozenset({AggregateFunction.COUNT, AggregateFunction.SUM, AggregateFunction.PRIVACY_ID_COUNT})


def _noise_sd(agg: Aggregate, rows: dict[Any, Any]) -> float | None:
    """The noise sd PipelineDP reports (``output_noise_stddev``), for one-mechanism aggregates."""
    if agg.function not in _SINGLE_MECHANISM or not rows:
        return None
    return float(getattr(next(iter(rows.values())), f"{agg.function.value}_noise_stddev"))


def _metric(agg: Aggregate) -> Any:
    if agg.function is AggregateFunction.MEDIAN:
        return pipeline_dp.Metrics.PERCENTILE(50)
    if agg.function is AggregateFunction.QUANTILE:
        assert agg.q is not None
        return pipeline_dp.Metrics.PERCENTILE(agg.q * 100)
    return _METRICS[agg.function]


def _metric_name(agg: Aggregate) -> str:
    """The result attribute PipelineDP names the metric by (``percentile_50``, ``percentile_99_5``)."""
    if agg.function in (AggregateFunction.MEDIAN, AggregateFunction.QUANTILE):
        p = 50.0 if agg.q is None else agg.q * 100
        return f"percentile_{round(p)}" if round(p) == p else f"percentile_{str(p).replace('.', '_')}"
    return agg.function.value


def _total_cap_supported(agg: Aggregate, spec: QuerySpec) -> bool:
    """PipelineDP 0.3.1 takes ``max_contributions`` (a total cap) only for these metrics, and partition
    selection needs ``max_partitions_contributed``, so private keys truncate in Spark instead."""
    if spec.group_by is not None and spec.group_by.private:
        return False
    return agg.function in (
        AggregateFunction.COUNT,
        AggregateFunction.SUM,
        AggregateFunction.MEAN,
        AggregateFunction.PRIVACY_ID_COUNT,
    )


def _cap(spec: QuerySpec, fanout: int | None) -> int | None:
    """Rows per id in total: ``max_rows_per_id``, or a one-to-many join's fanout for rows as the unit."""
    return spec.privacy_unit.max_rows_per_id if fanout is None else fanout


def _rows(data: DataFrame, spec: QuerySpec, index: int, fanout: int | None = None) -> DataFrame:
    """``(privacy_id, partition_key, value)`` rows of one aggregate, truncated per id where PipelineDP
    cannot do it, without the rows missing this aggregate's value."""
    agg = spec.all_aggregates[index]
    value = _prepare.value_column(index)
    if agg.column is not None:
        data = data.where(F.col(value).isNotNull())
    if spec.privacy_unit.is_row and fanout is None:
        pid = F.monotonically_increasing_id()
    else:
        pid = F.col(_prepare.PID)
        cap = _cap(spec, fanout)
        if cap is not None and not _total_cap_supported(agg, spec):
            by_id = Window.partitionBy(_prepare.PID).orderBy(F.rand())
            data = data.withColumn(_RANK, F.row_number().over(by_id)).where(F.col(_RANK) <= cap)
    key = F.col(_prepare.KEY) if spec.group_by is not None else F.lit(None)
    return data.select(pid.alias("pid"), key.alias("key"), F.col(value).alias("value"))


def _params(
    spec: QuerySpec, index: int, granted: Budget, n_keys: int, fanout: int | None = None
) -> pipeline_dp.AggregateParams:
    agg = spec.all_aggregates[index]
    noise = pipeline_dp.NoiseKind.LAPLACE if granted.delta == 0 else pipeline_dp.NoiseKind.GAUSSIAN
    bounds: dict[str, Any] = {}
    if agg.low is not None and agg.high is not None:
        bounds = {"min_value": agg.low, "max_value": agg.high}
    cap = _cap(spec, fanout)
    if spec.contribution is not None:
        contributions: dict[str, int] = {
            "max_partitions_contributed": spec.contribution.max_groups_per_id,
            "max_contributions_per_partition": spec.contribution.max_rows_per_group_per_id,
        }
    elif cap is None:
        contributions = {"max_partitions_contributed": 1, "max_contributions_per_partition": 1}
    elif not _total_cap_supported(agg, spec):
        contributions = {
            "max_partitions_contributed": min(cap, n_keys),
            "max_contributions_per_partition": cap,
        }
    else:
        contributions = {"max_contributions": cap}
    return pipeline_dp.AggregateParams(
        metrics=[_metric(agg)],
        noise_kind=noise,
        budget_weight=float(spec.share(agg)),
        output_noise_stddev=agg.function in _SINGLE_MECHANISM,
        **bounds,
        **contributions,
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
    rho, laplace = _rho_and_pure(accountant.mechanism_specs)
    pure = spent_to_decimal(laplace, eps, granted.epsilon) if laplace else Decimal(0)
    return Budget(curve=rdp.rho_curve(rho, alphas)) + Budget(curve=rdp.pure_curve(pure, alphas))


def _rho_and_pure(mechanisms: list[Any]) -> tuple[Decimal, float]:
    """The summed rho of the Gaussian mechanisms and the summed ε of the pure-DP (Laplace) ones.

    A non-Gaussian mechanism with δ > 0 (private partition selection) has no pure-DP curve; the ledger
    refuses such specs under rdp accounting, and this refuses to under-report if one gets here anyway.
    """
    rho = Decimal(0)
    laplace = []
    for s in mechanisms:
        if s.mechanism_type == pipeline_dp.aggregate_params.MechanismType.GAUSSIAN:
            rho += rdp.sigma_rho(rdp.library_sigma(s.eps, s.delta)) * s.count
        elif s.delta:
            raise GatewayInternalError(f"a {s.mechanism_type} mechanism with delta > 0 has no RDP receipt")
        else:
            laplace.append(s.eps * s.count)
    return rho, math.fsum(laplace)


def _aggregate_spent(request: JobRequest, mechanisms: list[Any]) -> GrantedBudget:
    """One aggregate's spend from its mechanism specs, in the ledger's kind: (ε, δ), or its RDP curve."""
    alphas = request.granted.alphas
    if alphas is None:
        return GrantedBudget(
            epsilon=Decimal(repr(math.fsum(m.eps * m.count for m in mechanisms))),
            delta=Decimal(repr(math.fsum((m.delta or 0.0) * m.count for m in mechanisms))),
        )
    rho, laplace = _rho_and_pure(mechanisms)
    curve = Budget(curve=rdp.rho_curve(rho, alphas)) + Budget(curve=rdp.pure_curve(Decimal(repr(laplace)), alphas))
    return GrantedBudget.of(curve, alphas)


def _spent(accountant: pipeline_dp.NaiveBudgetAccountant, eps: float, delta: float, granted: Budget) -> Budget:
    """The accountant's total over its mechanisms (Laplace mechanisms use no δ)."""
    specs = accountant.mechanism_specs
    spent_eps = math.fsum(s.eps * s.count for s in specs)
    spent_delta = math.fsum((s.delta or 0.0) * s.count for s in specs)
    return Budget(
        spent_to_decimal(spent_eps, eps, granted.epsilon), spent_to_decimal(spent_delta, delta, granted.delta)
    )


def _fixed_notes(spec: QuerySpec, n_keys: int, fanout: int | None = None) -> list[str]:
    """Notes that depend only on the spec and public tables (never on the private data)."""
    notes = fixed_notes(spec, fanout)
    aggs = spec.all_aggregates
    if any(a.function is AggregateFunction.VARIANCE for a in aggs):
        notes.append(VARIANCE_NOTE)
    cap = _cap(spec, fanout)
    for agg in aggs:
        truncated = spec.contribution is None and cap is not None and not _total_cap_supported(agg, spec)
        if truncated and cap is not None and min(cap, n_keys) > 1:
            notes.append(
                f"PipelineDP 0.3.1 cannot cap {agg.function.value} at {cap} rows per id in total, so each id was "
                f"truncated to {cap} rows first and noise is calibrated to "
                f"{min(cap, n_keys)} keys x {cap} rows per key."
            )
    return notes
