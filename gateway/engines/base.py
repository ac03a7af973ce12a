"""The seam between the job runtime and a DP library (Tumult Analytics, PipelineDP).

An engine gets the already-filtered rows of the granted blocks and the job request, runs the spec's one
aggregate with exactly the granted budget, and reports what its own accountant says was spent, so the
runtime can refuse to release an answer that cost more than the ledger granted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from gateway.core.budget import Budget
from gateway.core.jobs import GroupValue, JobRequest
from gateway.core.spec import AggregateFunction, GroupKey, QuerySpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass(frozen=True)
class EngineAnswer:
    """A DP answer: one value per declared group key (key ``None`` without group-by) and its cost."""

    values: list[GroupValue]
    spent: Budget
    notes: list[str] = field(default_factory=list)


class DPEngine(Protocol):
    """A DP library adapter, called once per job by the runtime (``gateway.runtime.entrypoint``).

    ``run`` must use exactly ``request.granted`` as the library's total budget, take clamping bounds,
    group keys and the per-id cap only from ``request.spec`` (never from the data), and return one value
    per declared key in declared order. It need not be idempotent: every call spends budget again.
    """

    name: str

    def version(self) -> str:
        """The DP library's version, recorded in the job result."""
        ...

    def run(self, df: DataFrame, request: JobRequest) -> EngineAnswer:
        """Answer ``request.spec`` on ``df`` (rows of the granted blocks only)."""
        ...


def float_at_most(amount: Decimal) -> float:
    """The largest float not above ``amount``: ``float()`` rounds to nearest, which may round up.

    ``float(Decimal("0.1"))`` is 0.1000000000000000055..., more than a grant of 0.1; handing that to a
    library would let it spend a hair more than granted, so such a float steps one ulp toward zero.
    """
    value = float(amount)
    if Decimal(value) > amount:
        value = math.nextafter(value, -math.inf)
    return value


def budget_as_floats(granted: Budget) -> tuple[float, float]:
    """The grant as the floats both libraries take, rounded toward zero (never above the grant)."""
    return float_at_most(granted.epsilon), float_at_most(granted.delta)


def spent_to_decimal(spent: float, handed: float, granted: Decimal) -> Decimal:
    """Turn a library's float spend into an exact decimal without inventing an overspend.

    The library was handed ``handed == float_at_most(granted)``. Spending exactly that is spending the
    whole grant, reported as ``granted`` itself (the ledger charges the grant anyway; the float is at
    most a hair below it). Any other amount goes through its shortest ``repr``; as rounding is
    monotonic, that is above the grant only if the library really spent more than it was handed.
    """
    if not math.isfinite(spent):
        raise ValueError(f"the engine reported a non-finite spend: {spent!r}")
    if spent == handed:
        return granted
    return Decimal(repr(spent))


def group_keys(request: JobRequest) -> list[GroupKey | None]:
    """The public keys of the answer: the spec's declared keys, or the single key ``None``."""
    group = request.spec.group_by
    return [None] if group is None else list(group.keys)


def clamp_to_range(function: AggregateFunction, low: float, high: float, value: float) -> float:
    """Post-processing (free under DP): a mean lies in [low, high], a variance in [0, ((high-low)/2)²].

    NaN (an engine's undefined ratio) stays NaN; count and sum are returned unchanged.
    """
    if math.isnan(value):
        return value
    if function is AggregateFunction.MEAN:
        return min(max(value, low), high)
    if function is AggregateFunction.VARIANCE:
        return min(max(value, 0.0), ((high - low) / 2) ** 2)
    return value


def fixed_notes(spec: QuerySpec) -> list[str]:
    """Notes every result carries, from the spec alone: contribution caps and post-processing."""
    cap = spec.privacy_unit.max_rows_per_id
    if cap is None:
        notes = ["Privacy unit: one row; each row contributes once."]
    else:
        notes = [
            f"Privacy unit: one {spec.privacy_unit.id_column}; each id contributed at most {cap} rows "
            "(rows beyond the cap were dropped before aggregating). Truncation can bias the answer by more "
            "than the noise when ids have more rows than the cap."
        ]
    agg = spec.aggregate
    if agg.low is not None and agg.high is not None:
        notes.append(f"Values were clamped to [{agg.low:g}, {agg.high:g}] before aggregating.")
    if agg.function is AggregateFunction.MEAN:
        notes.append(f"Post-processing: the noisy mean is clamped into [{agg.low:g}, {agg.high:g}].")
    elif agg.function is AggregateFunction.VARIANCE:
        assert agg.low is not None and agg.high is not None
        top = ((agg.high - agg.low) / 2) ** 2
        notes.append(f"Post-processing: the noisy variance is clamped into [0, {top:g}].")
    return notes
