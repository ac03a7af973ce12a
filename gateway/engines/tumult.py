"""Tumult Analytics engine: one ``Session`` per job, holding exactly the granted budget.

Row-level privacy uses ``AddOneRow``; id-level privacy uses ``AddRowsWithID`` plus the truncation
``MaxRowsPerID(K)`` that Tumult requires before any aggregate. Group-by keys form a public ``KeySet``.
The spent budget is what the session's accountant says: starting budget minus remaining budget.

The session always holds a ``PureDPBudget(ε)``, also when the grant has δ > 0: with public keys and the
default mechanism, Tumult answers count, sum, mean and variance with Laplace or geometric noise, which
use no δ. Given an ``ApproxDPBudget(ε, δ)`` its accountant still reports all of δ spent (Tumult only
zeroes δ inside the measurement), so the receipt would charge δ that bought nothing. The receipt says
δ = 0 and the gateway returns the unspent δ to the blocks.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import tmlt.analytics as tmlt
from pyspark.sql import functions as F
from pyspark.sql import types as T
from tmlt.analytics import (
    AddOneRow,
    AddRowsWithID,
    ApproxDPBudget,
    GroupedQueryBuilder,
    KeySet,
    MaxGroupsPerID,
    MaxRowsPerGroupPerID,
    MaxRowsPerID,
    PrivacyBudget,
    PureDPBudget,
    QueryBuilder,
    RhoZCDPBudget,
    Session,
)

from gateway.core import rdp
from gateway.core.budget import ZERO, Budget
from gateway.core.jobs import AggregateAnswer, GrantedBudget, GroupValue, JobRequest
from gateway.core.spec import Aggregate, AggregateFunction, GroupKey, QuerySpec
from gateway.engines import _prepare
from gateway.engines.base import (
    EngineAnswer,
    budget_as_floats,
    caps_text,
    clamp_to_range,
    encode_key,
    fixed_notes,
    float_at_most,
    group_keys,
    public_key,
    spent_to_decimal,
)
from gateway.errors import GatewayInternalError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, Row
    from tmlt.analytics import Query
    from tmlt.core.utils.exact_number import ExactNumber

SOURCE_ID = "granted_blocks"
VARIANCE_NOTE = (
    "Tumult's variance is the sample variance (it divides by the noisy count minus 1), kept within "
    "[0, ((high - low) / 2)^2]; it is NaN where the noisy count is 1 or less."
)


class TumultEngine:
    """Runs the spec's aggregate with Tumult Analytics."""

    name = "tumult"

    def version(self) -> str:
        return str(tmlt.__version__)

    def run(self, df: DataFrame, request: JobRequest) -> EngineAnswer:
        spec = request.spec
        granted = request.granted.to_budget()
        budget = _session_budget(request)
        fanout = _prepare.row_fanout(df.sparkSession, request)
        data = _prepare.standardize(df, request)
        # Tumult has no boolean columns; "true"/"false" strings carry the same keys.
        is_bool_key = spec.group_by is not None and isinstance(data.schema[_prepare.KEY].dataType, T.BooleanType)
        if is_bool_key:
            data = data.withColumn(_prepare.KEY, F.col(_prepare.KEY).cast(T.StringType()))
        row_level = spec.privacy_unit.is_row and fanout is None  # a fanout protects each row's copies as one id
        protected = AddOneRow() if row_level else AddRowsWithID(_prepare.PID)
        session = Session.from_dataframe(
            privacy_budget=budget, source_id=SOURCE_ID, dataframe=data, protected_change=protected
        )
        answers: list[AggregateAnswer] = []
        notes: list[str] = fixed_notes(spec, fanout)
        aggs = spec.all_aggregates
        for index, agg in enumerate(aggs):
            share = _share_budget(session, budget, spec, agg, last=index == len(aggs) - 1)
            query = _query(spec, index, is_bool_key, fanout)
            noise_sd = _noise_sd(session, query, share)
            before = session.remaining_privacy_budget
            rows = session.evaluate(query, share).collect()
            used = _used(request, before, session.remaining_privacy_budget)
            values = _values(request, agg, rows, is_bool_key, notes)
            answers.append(
                AggregateAnswer(
                    name=agg.label,
                    budget_share=spec.share(agg),
                    spent=used,
                    caps=caps_text(spec, fanout),
                    noise_sd=noise_sd,
                    values=values,
                )
            )
        spent = _receipt(request, budget, session.remaining_privacy_budget)
        if any(a.function is AggregateFunction.VARIANCE for a in aggs):
            notes.append(VARIANCE_NOTE)
        answer = EngineAnswer(values=answers[0].values, spent=spent, notes=notes, answers=answers)
        if isinstance(budget, RhoZCDPBudget):
            answer.notes.append(f"Tumult answered under rho-zCDP (Gaussian noise) with rho = {budget.value}.")
        elif granted.delta > 0:
            answer.notes.append(
                f"Tumult answered with pure-DP (Laplace or geometric) noise: the granted delta {granted.delta} "
                "was not used and is not charged."
            )
        return answer


def _share_budget(
    session: Session, budget: PrivacyBudget, spec: QuerySpec, agg: Aggregate, last: bool
) -> PrivacyBudget:
    """An aggregate's part of the session's budget, in the session's kind (ε·share for pure DP, rho·share
    for zCDP); the last one takes exactly what remains, so the session's whole budget is spent and nothing
    beyond it."""
    if last:
        return session.remaining_privacy_budget
    if isinstance(budget, RhoZCDPBudget):
        return RhoZCDPBudget(float_at_most(Decimal(repr(budget.rho)) * spec.share(agg)))
    assert isinstance(budget, PureDPBudget)
    return PureDPBudget(float_at_most(Decimal(repr(budget.epsilon)) * spec.share(agg)))


def _used(request: JobRequest, before: PrivacyBudget, after: PrivacyBudget) -> GrantedBudget:
    """What one evaluation cost, per the session's accountant (rounded up to a float, as a decimal), in
    the ledger's kind: ε, or under rdp accounting the curve of the rho (or pure ε) it used."""
    if isinstance(before, RhoZCDPBudget) and isinstance(after, RhoZCDPBudget):
        rho = Decimal(repr((before.value - after.value).to_float(round_up=True)))
        assert request.granted.alphas is not None  # zCDP sessions exist only for rdp grants
        return GrantedBudget.of(Budget(curve=rdp.rho_curve(rho, request.granted.alphas)), request.granted.alphas)
    assert isinstance(before, PureDPBudget) and isinstance(after, PureDPBudget)
    eps = Decimal(repr((before.value - after.value).to_float(round_up=True)))
    if request.granted.alphas is not None:
        alphas = request.granted.alphas
        return GrantedBudget.of(Budget(curve=rdp.pure_curve(eps, alphas)), alphas)
    return GrantedBudget(epsilon=eps)


def _noise_sd(session: Session, query: Query, budget: PrivacyBudget) -> float | None:
    """The noise's standard deviation for a single Laplace or geometric mechanism, as Tumult plans it."""
    info = session._noise_info(query, budget)  # Tumult's documented way to see its noise
    if len(info) != 1:
        return None
    mechanism, scale = info[0]["noise_mechanism"].name, float(info[0]["noise_parameter"])
    if mechanism == "LAPLACE":
        return math.sqrt(2) * scale
    if mechanism == "GEOMETRIC" and scale > 0:
        alpha = math.exp(-1 / scale)
        return math.sqrt(2 * alpha) / (1 - alpha)
    return None


def _tumult_key(key: GroupKey | None, is_bool_key: bool) -> GroupKey | None:
    return str(key).lower() if is_bool_key and key is not None else key


def _query(spec: QuerySpec, index: int, is_bool_key: bool, fanout: int | None = None) -> Query:
    """The ``index``-th aggregate as a Tumult query on the standardized table."""
    agg = spec.all_aggregates[index]
    value = _prepare.value_column(index)
    builder = QueryBuilder(SOURCE_ID)
    if agg.column is not None:  # drop rows missing this aggregate's value before any truncation
        builder = builder.filter(f"{value} IS NOT NULL")
    if spec.contribution is not None:
        builder = builder.enforce(MaxGroupsPerID(_prepare.KEY, spec.contribution.max_groups_per_id))
        builder = builder.enforce(MaxRowsPerGroupPerID(_prepare.KEY, spec.contribution.max_rows_per_group_per_id))
    elif spec.privacy_unit.max_rows_per_id is not None:
        builder = builder.enforce(MaxRowsPerID(spec.privacy_unit.max_rows_per_id))
    elif fanout is not None:  # rows as the unit, one-to-many join: each row's copies share one id
        builder = builder.enforce(MaxRowsPerID(fanout))
    grouped: QueryBuilder | GroupedQueryBuilder = builder
    if spec.group_by is not None:
        request_keys = (
            [encode_key(c) for c in spec.group_by.combinations]
            if spec.group_by.multi
            else [c[0] for c in spec.group_by.combinations]
        )
        keys: list[Any] = [_tumult_key(k, is_bool_key) for k in request_keys]
        grouped = builder.groupby(KeySet.from_dict({_prepare.KEY: keys}))
    fn = agg.function
    if fn is AggregateFunction.COUNT:
        return grouped.count(name=_prepare.VALUE)
    if fn is AggregateFunction.COUNT_DISTINCT:
        return grouped.count_distinct([value], name=_prepare.VALUE)
    if fn is AggregateFunction.PRIVACY_ID_COUNT:
        return grouped.count_distinct([_prepare.PID], name=_prepare.VALUE)
    assert agg.low is not None and agg.high is not None  # the spec validator guarantees it
    if fn is AggregateFunction.QUANTILE:
        assert agg.q is not None
        return grouped.quantile(value, agg.q, agg.low, agg.high, name=_prepare.VALUE)
    method = {
        AggregateFunction.SUM: grouped.sum,
        AggregateFunction.MEAN: grouped.average,
        AggregateFunction.VARIANCE: grouped.variance,
        AggregateFunction.STDEV: grouped.stdev,
        AggregateFunction.MEDIAN: grouped.median,
        AggregateFunction.MIN: grouped.min,
        AggregateFunction.MAX: grouped.max,
    }[fn]
    return method(value, agg.low, agg.high, name=_prepare.VALUE)


def _session_budget(request: JobRequest) -> PrivacyBudget:
    """The session's budget: exactly the grant, in the kind of budget whose noise the grant was charged for.

    (ε, δ) grants and rdp grants of {epsilon} (δ = 0): ``PureDPBudget(ε)`` (pure-DP mechanisms only: δ is
    never used, see above). RDP grants of {rho}: ``RhoZCDPBudget(rho)``; of {epsilon, delta > 0}:
    ``RhoZCDPBudget`` with the rho of the Gaussian the library calibrates for (ε, δ), whose curve the
    ledger reserved (``rdp.gaussian_rho``). Floats are rounded toward zero, never above the grant.
    """
    budget = request.spec.budget
    if request.granted.curve is not None:
        if budget.rho is not None:
            return RhoZCDPBudget(float_at_most(budget.rho))
        assert budget.epsilon is not None
        if budget.delta > 0:
            return RhoZCDPBudget(float_at_most(rdp.gaussian_rho(budget.epsilon, budget.delta)))
    eps, _ = budget_as_floats(request.granted.to_budget() if request.granted.curve is None else _pure(request))
    return PureDPBudget(eps)


def _pure(request: JobRequest) -> Budget:
    assert request.spec.budget.epsilon is not None
    return Budget(request.spec.budget.epsilon)


def _receipt(request: JobRequest, start: PrivacyBudget, remaining: PrivacyBudget) -> Budget:
    """What the session spent, as the ledger keeps it: (ε, δ), or its RDP curve on the grant's orders."""
    alphas = request.granted.alphas
    if alphas is None:
        return _spent(start, remaining, request.granted.to_budget())
    if isinstance(start, RhoZCDPBudget) and isinstance(remaining, RhoZCDPBudget):
        rho_granted = request.spec.budget.rho
        if rho_granted is None:
            assert request.spec.budget.epsilon is not None
            rho_granted = rdp.gaussian_rho(request.spec.budget.epsilon, request.spec.budget.delta)
        rho = _component(start.value, remaining.value, start.value.to_float(round_up=False), rho_granted)
        return Budget(curve=rdp.rho_curve(rho, alphas))
    pure = _spent(start, remaining, _pure(request))
    return Budget(curve=rdp.pure_curve(pure.epsilon, alphas))


def _spent(start: PrivacyBudget, remaining: PrivacyBudget, granted: Budget) -> Budget:
    """Starting minus remaining budget, per component, as decimals.

    Tumult keeps budgets as exact rationals; the difference is rounded up to a float (never below what
    was spent) and compared with the float the session was given (see ``spent_to_decimal``).
    """
    if isinstance(start, PureDPBudget) and isinstance(remaining, PureDPBudget):
        eps = _component(start.value, remaining.value, start.epsilon, granted.epsilon)
        return Budget(eps, ZERO)
    if isinstance(start, ApproxDPBudget) and isinstance(remaining, ApproxDPBudget):
        (eps0, dlt0), (eps1, dlt1) = start.value, remaining.value
        eps = _component(eps0, eps1, start.epsilon, granted.epsilon)
        dlt = _component(dlt0, dlt1, start.delta, granted.delta)
        return Budget(eps, dlt)
    raise GatewayInternalError(f"Tumult returned a {type(remaining).__name__} for a {type(start).__name__}")


def _component(start: ExactNumber, remaining: ExactNumber, handed: float, granted: Decimal) -> Decimal:
    spent = (start - remaining).to_float(round_up=True)
    return spent_to_decimal(spent, float(handed), granted)


def _values(
    request: JobRequest, agg: Aggregate, rows: list[Row], is_bool_key: bool, notes: list[str]
) -> list[GroupValue]:
    by_key: dict[GroupKey | None, float] = {}
    for row in rows:
        values = row.asDict()
        by_key[values.get(_prepare.KEY)] = float(values[_prepare.VALUE])
    out: list[GroupValue] = []
    for index, key in enumerate(group_keys(request)):
        lookup = _tumult_key(key, is_bool_key)
        shown = public_key(request, index)
        if lookup not in by_key:
            raise GatewayInternalError(f"Tumult returned no value for declared key {shown!r}")
        value = by_key[lookup]
        if math.isnan(value):
            where = "" if key is None else f" for key {shown!r}"
            notes.append(
                f"Tumult returned NaN{where}: its noisy row count was too small to define a "
                f"{agg.function.value}; NaN is reported as returned."
            )
        if agg.low is not None and agg.high is not None:
            value = clamp_to_range(agg.function, agg.low, agg.high, value)
        out.append(GroupValue(key=shown, value=value))
    return out
