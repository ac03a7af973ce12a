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
from gateway.core.jobs import AggregateAnswer, GroupValue, JobRequest
from gateway.core.spec import KEY_SEPARATOR, Aggregate, AggregateFunction, GroupKey, QuerySpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass(frozen=True)
class EngineAnswer:
    """A DP answer: one value per declared group key (key ``None`` without group-by) and its cost."""

    values: list[GroupValue]
    spent: Budget
    notes: list[str] = field(default_factory=list)
    answers: list[AggregateAnswer] = field(default_factory=list)


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


def encode_key(combo: tuple[GroupKey, ...]) -> str:
    """One string for a combination of keys, as Spark's cast to string writes each part."""
    return KEY_SEPARATOR.join(str(v).lower() if isinstance(v, bool) else str(v) for v in combo)


def group_keys(request: JobRequest) -> list[GroupKey | None]:
    """The internal keys of the answer: the declared keys (one column), the encoded combinations
    (several columns, see ``encode_key``), or the single key ``None`` without group-by."""
    group = request.spec.group_by
    if group is None:
        return [None]
    if group.multi:
        return [encode_key(c) for c in group.combinations]
    return [c[0] for c in group.combinations]


def public_key(request: JobRequest, index: int) -> GroupKey | list[GroupKey] | None:
    """The key as the result shows it: the declared key, or the list of keys of a combination."""
    group = request.spec.group_by
    if group is None:
        return None
    combo = group.combinations[index]
    return list(combo) if group.multi else combo[0]


def decode_key(request: JobRequest, key: object) -> GroupKey | list[GroupKey]:
    """A key the engine selected from the data (``keys: private``), typed like its column(s)."""
    group = request.spec.group_by
    assert group is not None
    if not group.multi:
        assert isinstance(key, str | int | bool)
        return key
    columns = request.spec.schema_with_derived(request.dataset, request.public_tables)
    parts = str(key).split(KEY_SEPARATOR)
    out: list[GroupKey] = []
    for name, part in zip(group.names, parts, strict=True):
        kind = columns[name].value
        out.append(int(part) if kind == "integer" else part == "true" if kind == "boolean" else part)
    return out


def caps_text(spec: QuerySpec, fanout: int | None = None) -> str:
    """The contribution caps an aggregate ran under, in words (``fanout``: see ``_prepare.row_fanout``)."""
    if fanout is not None:
        return f"each row with its join matches at most {fanout} rows"
    if spec.contribution is not None:
        c = spec.contribution
        return (
            f"each {spec.privacy_unit.id_column} in at most {c.max_groups_per_id} groups, "
            f"at most {c.max_rows_per_group_per_id} rows per group"
        )
    if spec.privacy_unit.max_rows_per_id is not None:
        return f"each {spec.privacy_unit.id_column} at most {spec.privacy_unit.max_rows_per_id} rows in total"
    return "each row once"


def aggregate_share(granted: Budget, spec: QuerySpec, agg: Aggregate) -> Budget:
    """An aggregate's part of the grant (exact decimals; the shares sum to 1)."""
    share = spec.share(agg)
    return Budget(granted.epsilon * share, granted.delta * share)


def clamp_to_range(function: AggregateFunction, low: float, high: float, value: float) -> float:
    """Post-processing (free under DP): a mean, quantile, min or max lies in [low, high], a variance in
    [0, ((high-low)/2)²], a standard deviation in [0, (high-low)/2].

    NaN (an engine's undefined ratio) stays NaN; count and sum are returned unchanged.
    """
    if math.isnan(value):
        return value
    if function in _WITHIN_BOUNDS:
        return min(max(value, low), high)
    if function is AggregateFunction.VARIANCE:
        return min(max(value, 0.0), ((high - low) / 2) ** 2)
    if function is AggregateFunction.STDEV:
        return min(max(value, 0.0), (high - low) / 2)
    return value


_WITHIN_BOUNDS = frozenset(
    {
        AggregateFunction.MEAN,
        AggregateFunction.QUANTILE,
        AggregateFunction.MEDIAN,
        AggregateFunction.MIN,
        AggregateFunction.MAX,
    }
)


def fixed_notes(spec: QuerySpec, fanout: int | None = None) -> list[str]:
    """Notes every result carries, from the spec (and a one-to-many join's fanout): caps and post-processing."""
    cap = spec.privacy_unit.max_rows_per_id
    if fanout is not None and spec.join is not None:
        notes = [
            f"Privacy unit: one row. The one-to-many join with {spec.join.table} matches a row with at most "
            f"{fanout} of its rows, so each row contributes at most {fanout} rows and the noise is scaled for "
            f"{fanout}."
        ]
    elif spec.privacy_unit.is_row:
        notes = ["Privacy unit: one row; each row contributes once."]
    elif cap is None:
        notes = [
            f"Privacy unit: one {spec.privacy_unit.id_column}. Truncation can bias the answer by more than the "
            "noise when ids have more rows or groups than the caps."
        ]
    else:
        notes = [
            f"Privacy unit: one {spec.privacy_unit.id_column}; each id contributed at most {cap} rows "
            "(rows beyond the cap were dropped before aggregating). Truncation can bias the answer by more "
            "than the noise when ids have more rows than the cap."
        ]
    if spec.contribution is not None:
        notes.append(f"Per-group bounds: {caps_text(spec)} (rows and groups beyond the caps were dropped at random).")
    for agg in spec.all_aggregates:
        name = f"{agg.label}: " if len(spec.all_aggregates) > 1 else ""
        if agg.low is not None and agg.high is not None:
            notes.append(f"{name}Values were clamped to [{agg.low:g}, {agg.high:g}] before aggregating.")
        if agg.function is AggregateFunction.MEAN:
            notes.append(f"{name}Post-processing: the noisy mean is clamped into [{agg.low:g}, {agg.high:g}].")
        elif agg.function is AggregateFunction.VARIANCE:
            assert agg.low is not None and agg.high is not None
            top = ((agg.high - agg.low) / 2) ** 2
            notes.append(f"{name}Post-processing: the noisy variance is clamped into [0, {top:g}].")
    return notes
