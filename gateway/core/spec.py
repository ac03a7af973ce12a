"""The query spec an analyst submits, validated strictly.

Everything a DP job needs that could otherwise leak through data-dependent choices is declared here:
clamping bounds, group-by keys, the per-id contribution cap and the budget. Unknown fields are
rejected so that a typo (``epsilom``) never silently falls back to a default.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from gateway.core import predicate
from gateway.core.budget import Budget
from gateway.core.datasets import ColumnType, Dataset, check_name, check_version_label
from gateway.errors import GatewayValidationError, SpecError

CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


class Engine(StrEnum):
    TUMULT = "tumult"
    PIPELINEDP = "pipelinedp"


class AggregateFunction(StrEnum):
    COUNT = "count"
    SUM = "sum"
    MEAN = "mean"
    VARIANCE = "variance"
    STDEV = "stdev"
    COUNT_DISTINCT = "count_distinct"
    PRIVACY_ID_COUNT = "privacy_id_count"
    QUANTILE = "quantile"
    MEDIAN = "median"
    MIN = "min"
    MAX = "max"

    @property
    def needs_bounds(self) -> bool:
        """Functions of a numeric column's clamped values (the others count rows, ids or values)."""
        return self not in (
            AggregateFunction.COUNT,
            AggregateFunction.COUNT_DISTINCT,
            AggregateFunction.PRIVACY_ID_COUNT,
        )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class BlockSelection(_Strict):
    """Which blocks the query reads: of a dated data set the ``last`` K days, or every day ``from``..``to``;
    of a snapshot one ``version`` (``{version: V}``) or the ``latest`` one (``blocks: latest``)."""

    last: int | None = Field(default=None, ge=1)
    from_: dt.date | None = Field(default=None, alias="from")
    to: dt.date | None = None
    version: str | None = None
    latest: bool = False

    @model_validator(mode="before")
    @classmethod
    def _latest_shorthand(cls, data: Any) -> Any:
        if data == "latest":
            return {"latest": True}
        version = data.get("version") if isinstance(data, dict) else None
        if isinstance(version, int | dt.date) and not isinstance(version, bool):
            # YAML reads `version: 2026` as a number and `version: 2026-10-01` as a date: take them as labels
            data = {**data, "version": version.isoformat() if isinstance(version, dt.date) else str(version)}
        if isinstance(data, dict) and data.get("latest") is False:
            return {k: v for k, v in data.items() if k != "latest"}  # a stored spec (model_dump) carries it
        return data

    @field_validator("version")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                check_version_label(value)
            except GatewayValidationError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _one_form(self) -> BlockSelection:
        if self.by_version:
            if self.last is not None or self.from_ is not None or self.to is not None:
                raise ValueError("a version (or latest) selects a snapshot's block: give no days with it")
            if self.version is not None and self.latest:
                raise ValueError("give either {version: V} or latest, not both")
            return self
        if self.last is not None:
            if self.from_ is not None or self.to is not None:
                raise ValueError("give either 'last' or 'from'/'to', not both")
            return self
        if self.from_ is None or self.to is None:
            raise ValueError("give 'last: K' or both 'from' and 'to' dates")
        if self.from_ > self.to:
            raise ValueError(f"empty block range: from {self.from_} is after to {self.to}")
        return self

    @property
    def by_version(self) -> bool:
        """Selects a snapshot's version block rather than days."""
        return self.version is not None or self.latest

    @model_serializer(mode="wrap")
    def _only_given(self, handler: Any) -> Any:
        data = handler(self)
        return {k: v for k, v in data.items() if not (k == "latest" and v is False)}


class BudgetSpec(_Strict):
    """``{epsilon, delta}`` (pure or approximate DP) or ``{rho}`` (zCDP; ledgers under rdp accounting only)."""

    epsilon: Decimal | None = None
    delta: Decimal = Decimal(0)
    rho: Decimal | None = None

    @model_validator(mode="before")
    @classmethod
    def _exact(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if data.get("rho") is not None and data.get("epsilon") is None and Decimal(str(data.get("delta", 0))) == 0:
            data = {"rho": data["rho"]}  # a stored spec (model_dump) carries epsilon None and delta 0
        elif data.get("rho", 0) is None:
            data = {k: v for k, v in data.items() if k != "rho"}
        if "rho" in data:
            if "epsilon" in data or "delta" in data:
                raise ValueError("give either {epsilon, delta} or {rho}, not both")
            try:
                rho = Budget.demand(data.get("rho")).epsilon  # same checks: finite, > 0, rounded up
            except GatewayValidationError as exc:
                raise ValueError(str(exc).replace("epsilon", "rho")) from None
            return {**data, "rho": rho}
        if "epsilon" not in data:
            return data  # pydantic then names what is missing or unknown
        try:
            budget = Budget.demand(data.get("epsilon"), data.get("delta", 0))
        except GatewayValidationError as exc:
            raise ValueError(str(exc)) from None
        return {**data, "epsilon": budget.epsilon, "delta": budget.delta}

    @model_validator(mode="after")
    def _one_kind(self) -> BudgetSpec:
        if self.epsilon is None and self.rho is None:
            raise ValueError("give {epsilon: E} (optionally with delta: D) or {rho: R}")
        return self

    @model_serializer(mode="wrap")
    def _only_given(self, handler: Any) -> Any:
        data = handler(self)
        if self.rho is not None:
            return {"rho": data["rho"]}
        return {k: v for k, v in data.items() if k != "rho"}

    def to_budget(self) -> Budget:
        """The (ε, δ) amount basic accounting charges; a zCDP budget has none."""
        if self.epsilon is None:
            raise GatewayValidationError(
                "this ledger uses basic (ε, δ) accounting, which cannot charge a zCDP budget {rho}; give "
                "{epsilon, delta} instead, or use a ledger made with: dpgw init --accounting rdp"
            )
        return Budget(self.epsilon, self.delta)


class PrivacyUnit(_Strict):
    """Whom the guarantee protects: each row (no id column) or each id.

    An id is capped at ``max_rows_per_id`` rows in total, or, with the spec's ``contribution``, per group.
    """

    id_column: str | None = None
    max_rows_per_id: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _row_shorthand(cls, data: Any) -> Any:
        if data == "row":
            return {}
        if isinstance(data, str):
            raise ValueError("privacy_unit must be 'row' or {id_column: C, max_rows_per_id: K}")
        return data

    @model_validator(mode="after")
    def _cap_with_id(self) -> PrivacyUnit:
        if self.id_column is None and self.max_rows_per_id is not None:
            raise ValueError("an id privacy unit needs both id_column and max_rows_per_id")
        return self

    @property
    def is_row(self) -> bool:
        return self.id_column is None


class Aggregate(_Strict):
    """One aggregate; several in one spec each take a ``budget_share`` of the grant (shares sum to 1)."""

    function: AggregateFunction
    column: str | None = None
    low: float | None = None
    high: float | None = None
    q: float | None = Field(default=None, ge=0, le=1)
    budget_share: Decimal | None = Field(default=None, gt=0, le=1)

    @field_validator("low", "high")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("bounds must be finite numbers")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> Aggregate:
        fn = self.function.value
        if self.q is not None and self.function is not AggregateFunction.QUANTILE:
            raise ValueError(f"{fn} takes no 'q' (only quantile does)")
        if self.function in (AggregateFunction.COUNT, AggregateFunction.PRIVACY_ID_COUNT):
            if self.column is not None or self.low is not None or self.high is not None:
                raise ValueError(f"{fn} takes no column or bounds; it counts {'rows' if fn == 'count' else 'ids'}")
            return self
        if self.column is None:
            raise ValueError(f"{fn} needs a column")
        if self.function is AggregateFunction.COUNT_DISTINCT:
            if self.low is not None or self.high is not None:
                raise ValueError("count_distinct takes no bounds; it counts distinct values of its column")
            return self
        if self.low is None or self.high is None:
            raise ValueError(
                f"{fn} needs declared clamping bounds 'low' and 'high' (they are never derived from the data)"
            )
        if self.low >= self.high:
            raise ValueError(f"bounds must satisfy low < high, got low={self.low}, high={self.high}")
        if self.function is AggregateFunction.QUANTILE and self.q is None:
            raise ValueError("quantile needs 'q', the quantile in [0, 1] (0.5 is the median)")
        return self

    @property
    def label(self) -> str:
        """How results name this aggregate: ``count``, ``sum(amount)``, ``quantile(amount, 0.9)``."""
        if self.column is None:
            return self.function.value
        q = f", {self.q:g}" if self.q is not None else ""
        return f"{self.function.value}({self.column}{q})"


GroupKey = str | int | bool
# Joins the values of several group-by columns into one internal key; a declared key holding it is refused
# (the encoding would no longer be injective: ("a\x1fb", "c") and ("a", "b\x1fc") would be one group).
KEY_SEPARATOR = "\x1f"

MAX_GROUPS = 100_000
MAX_EDGES = 100


class Bin(_Strict):
    """Bins a numeric column by declared edges: ``[e0, e1)``, ..., ``[e(n-1), en]``; values outside are null."""

    column: str
    edges: list[float] = Field(min_length=2, max_length=MAX_EDGES)
    labels: list[str] | None = None
    as_: str = Field(alias="as")

    @model_validator(mode="after")
    def _edges(self) -> Bin:
        if not all(math.isfinite(e) for e in self.edges):
            raise ValueError("bin edges must be finite numbers")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("bin edges must be strictly increasing")
        if self.labels is not None:
            if len(self.labels) != len(self.edges) - 1:
                raise ValueError(f"give one label per bin: {len(self.edges) - 1} labels for {len(self.edges)} edges")
            if len(set(self.labels)) != len(self.labels):
                raise ValueError("bin labels must be distinct")
        return self

    @property
    def bin_labels(self) -> list[str]:
        """The labels, by default ``lo-hi`` (``0-18``, ``18-30``)."""
        if self.labels is not None:
            return list(self.labels)
        return [f"{a:g}-{b:g}" for a, b in zip(self.edges, self.edges[1:], strict=False)]


class DatePartName(StrEnum):
    YEAR = "year"
    QUARTER = "quarter"
    MONTH = "month"
    DAY = "day"
    WEEKDAY = "weekday"  # 1 = Monday ... 7 = Sunday (ISO)
    HOUR = "hour"


class DatePart(_Strict):
    """A part of a date or timestamp column, as an integer column."""

    column: str
    part: DatePartName
    as_: str = Field(alias="as")


class Derive(_Strict):
    """One derived column, computed row by row before aggregating: ``{bin: ...}`` or ``{date_part: ...}``."""

    bin: Bin | None = None
    date_part: DatePart | None = None

    @model_validator(mode="after")
    def _one(self) -> Derive:
        if (self.bin is None) == (self.date_part is None):
            raise ValueError("each derive entry is one of {bin: {...}} or {date_part: {...}}")
        return self

    @property
    def source(self) -> str:
        return self.bin.column if self.bin is not None else self.date_part.column  # type: ignore[union-attr]

    @property
    def name(self) -> str:
        return self.bin.as_ if self.bin is not None else self.date_part.as_  # type: ignore[union-attr]

    @property
    def kind(self) -> ColumnType:
        return ColumnType.STRING if self.bin is not None else ColumnType.INTEGER


class PublicKeys(_Strict):
    """Group-by keys read by the job from a registered public table: every combination of the group-by
    columns present in it (the public table holds columns of the same names)."""

    from_: str = Field(alias="from")


class GroupBy(_Strict):
    """Group-by on one or several columns with keys declared up front (the key set reveals nothing).

    One column: ``{column: C, keys: [k1, k2]}``. Several: ``{columns: [A, B], keys: {A: [...], B: [...]}}``
    (every combination) or ``keys: [[a1, b1], [a2, b2]]`` (these combinations only). ``keys: private``
    lets the engine select the groups from the data with DP (private partition selection; needs δ > 0).
    """

    column: str | None = None
    columns: list[str] | None = Field(default=None, min_length=1, max_length=8)
    keys: list[GroupKey] | dict[str, list[GroupKey]] | list[list[GroupKey]] | PublicKeys | Literal["private"]

    @model_validator(mode="after")
    def _shape(self) -> GroupBy:
        if (self.column is None) == (self.columns is None):
            raise ValueError("give 'column: C' (one column) or 'columns: [A, B, ...]' (several), not both")
        names = self.names
        if len(set(names)) != len(names):
            raise ValueError("group-by columns must be distinct")
        if self.private or isinstance(self.keys, PublicKeys):
            return self
        if _holds_separator(self.keys):
            raise ValueError(
                "a group-by key contains the control character U+001F (unit separator), which the gateway uses "
                "to join the keys of several columns; remove it from the key"
            )
        if not self.keys:
            raise ValueError("group_by needs declared public 'keys' (the gateway never reads keys from the data)")
        if isinstance(self.keys, dict):
            if sorted(self.keys) != sorted(names):
                raise ValueError(f"keys as a mapping needs one key list per column: {', '.join(names)}")
            for name, values in self.keys.items():
                if not values:
                    raise ValueError(f"the key list of column {name!r} is empty")
                _distinct(values, f"keys of column {name!r}")
        elif self.keys and isinstance(self.keys[0], list):
            for combo in self.keys:
                if not isinstance(combo, list) or len(combo) != len(names):
                    raise ValueError(f"each key combination lists one value per column ({', '.join(names)})")
            _distinct([tuple(c) for c in self.keys if isinstance(c, list)], "key combinations")
        else:
            if any(isinstance(k, list) for k in self.keys):
                raise ValueError("mix of single keys and key combinations")
            if len(names) != 1:
                raise ValueError("several group-by columns take keys as {column: [...]} or a list of combinations")
            _distinct(list(self.keys), "group-by keys")
        if len(self.combinations) > MAX_GROUPS:
            raise ValueError(f"at most {MAX_GROUPS} key combinations; declare fewer keys")
        return self

    @property
    def names(self) -> list[str]:
        return [self.column] if self.column is not None else list(self.columns or [])

    @property
    def from_table(self) -> str | None:
        """The public table the keys come from, if any."""
        return self.keys.from_ if isinstance(self.keys, PublicKeys) else None

    def with_keys(self, combos: list[tuple[GroupKey, ...]]) -> GroupBy:
        """This group-by with keys declared (the combinations read from a public table by the job)."""
        keys: list[Any] = [list(c) for c in combos] if self.multi else [c[0] for c in combos]
        return GroupBy.model_validate({"column": self.column, "columns": self.columns, "keys": keys})

    @property
    def private(self) -> bool:
        """Keys selected from the data with DP, not declared."""
        return self.keys == "private"

    @property
    def multi(self) -> bool:
        return self.columns is not None

    @property
    def combinations(self) -> list[tuple[GroupKey, ...]]:
        """Every declared key combination, one value per column, in declared order (none if private)."""
        if isinstance(self.keys, str | PublicKeys):
            return []
        if isinstance(self.keys, dict):
            combos: list[tuple[GroupKey, ...]] = [()]
            for name in self.names:
                combos = [(*c, v) for c in combos for v in self.keys[name]]
            return combos
        return [tuple(k) if isinstance(k, list) else (k,) for k in self.keys]

    def values_of(self, name: str) -> list[GroupKey]:
        i = self.names.index(name)
        return list(dict.fromkeys(c[i] for c in self.combinations))


def _holds_separator(keys: Any) -> bool:
    """Whether any declared key (in a list, a mapping of lists or a list of combinations) holds KEY_SEPARATOR."""
    if isinstance(keys, str):
        return KEY_SEPARATOR in keys
    if isinstance(keys, dict):
        return any(_holds_separator(v) for v in keys.values())
    if isinstance(keys, list):
        return any(_holds_separator(k) for k in keys)
    return False


def _distinct(values: list[Any], what: str) -> None:
    if len({(type(v), v) if not isinstance(v, tuple) else tuple((type(x), x) for x in v) for v in values}) != len(
        values
    ):
        raise ValueError(f"{what} must be unique")


class Join(_Strict):
    """A join with a registered public table on key columns. ``matches: one`` (the default) is a lookup:
    the table holds each key combination once (checked by the job), so each private row gains the
    table's other columns and meets at most one row, a row-local map. ``matches: many`` lets a key match
    several public rows (one-to-many): with an id privacy unit the per-id bounds, applied after the join,
    cap what an id contributes; with rows as the unit each private row's copies are capped together at
    the table's largest key multiplicity (computed from the public table), which scales the noise.
    ``inner`` drops rows with no match; ``left`` keeps them with nulls."""

    table: str
    on: list[str] = Field(min_length=1, max_length=4)
    how: Literal["inner", "left"] = "inner"
    matches: Literal["one", "many"] = "one"


class Contribution(_Strict):
    """Per-group contribution bounds of an id: at most ``max_groups_per_id`` groups, each with at most
    ``max_rows_per_group_per_id`` rows (PipelineDP's max_partitions_contributed and
    max_contributions_per_partition; Tumult's MaxGroupsPerID and MaxRowsPerGroupPerID)."""

    max_groups_per_id: int = Field(ge=1)
    max_rows_per_group_per_id: int = Field(ge=1)


class QuerySpec(_Strict):
    """DP aggregates over a range of time blocks of one data set."""

    engine: Engine
    dataset: str
    # Who submits: set by the gateway from the caller's credential in team mode (a spec naming someone
    # else is refused); in embedded mode the spec's value, else the OS user name.
    analyst: str | None = None
    blocks: BlockSelection
    budget: BudgetSpec
    privacy_unit: PrivacyUnit
    join: Join | None = None
    where: str | None = None
    derive: list[Derive] | None = Field(default=None, max_length=16)
    aggregate: Aggregate | None = None
    aggregates: list[Aggregate] | None = Field(default=None, min_length=1, max_length=16)
    group_by: GroupBy | None = None
    contribution: Contribution | None = None
    client_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _group_by_needs_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("group_by"), dict | str):
            group = data["group_by"]
            if isinstance(group, str) or not group.get("keys"):
                raise ValueError("group_by needs declared public 'keys' (the gateway never reads keys from the data)")
        return data

    @field_validator("where")
    @classmethod
    def _where_parses(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                predicate.parse(value)
            except GatewayValidationError as exc:
                raise ValueError(str(exc).removeprefix("where: ")) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> QuerySpec:
        if (self.aggregate is None) == (self.aggregates is None):
            raise ValueError("give 'aggregate: {...}' (one) or 'aggregates: [...]' (several), not both")
        aggs = self.all_aggregates
        shares = [a.budget_share for a in aggs]
        if len(aggs) > 1 or shares[0] is not None:
            if any(s is None for s in shares):
                raise ValueError("with several aggregates each needs a budget_share (the shares sum to 1)")
            if sum(s for s in shares if s is not None) != 1:
                raise ValueError(
                    f"the aggregates' budget_share values must sum to 1, got {sum(s for s in shares if s is not None)}"
                )
        labels = [a.label for a in aggs]
        if len(set(labels)) != len(labels):
            raise ValueError("each aggregate appears once (two identical aggregates would pay twice for one answer)")
        if self.contribution is not None:
            if self.privacy_unit.is_row:
                raise ValueError("contribution bounds need an id privacy unit: privacy_unit: {id_column: C}")
            if self.group_by is None:
                raise ValueError("contribution bounds are per group: add a group_by, or use max_rows_per_id")
            if self.privacy_unit.max_rows_per_id is not None:
                raise ValueError(
                    "give either privacy_unit.max_rows_per_id (rows in total) or contribution (per group), not both"
                )
        elif not self.privacy_unit.is_row and self.privacy_unit.max_rows_per_id is None:
            raise ValueError(
                "an id privacy unit needs both id_column and max_rows_per_id (or per-group contribution bounds)"
            )
        if self.privacy_unit.is_row and any(a.function is AggregateFunction.PRIVACY_ID_COUNT for a in aggs):
            raise ValueError("privacy_id_count needs an id privacy unit (with rows as the unit, use count)")
        if self.group_by is not None and self.group_by.private:
            if self.budget.delta == 0:
                raise ValueError(
                    "group_by keys: private selects groups from the data with DP, which needs delta > 0 in the "
                    "budget (e.g. budget: {epsilon: 1, delta: 1e-6}); or declare the keys"
                )
            if len(aggs) > 1:
                raise ValueError("group_by keys: private takes one aggregate (each would select its own groups)")
        names = [d.name for d in self.derive or []]
        if len(set(names)) != len(names):
            raise ValueError("derived column names ('as') must be distinct")
        return self

    @property
    def all_aggregates(self) -> list[Aggregate]:
        """The spec's aggregates (``aggregate`` as a list of one)."""
        if self.aggregates is not None:
            return list(self.aggregates)
        assert self.aggregate is not None  # the validator guarantees one of the two
        return [self.aggregate]

    @property
    def first(self) -> Aggregate:
        return self.all_aggregates[0]

    def share(self, aggregate: Aggregate) -> Decimal:
        return aggregate.budget_share if aggregate.budget_share is not None else Decimal(1)

    @property
    def summary(self) -> str:
        """One line naming the query: ``count, sum(amount) by region, age_group``."""
        text = ", ".join(a.label if a.column else f"{a.label}(*)" for a in self.all_aggregates)
        if self.group_by is not None:
            text += " by " + ", ".join(self.group_by.names)
        if self.where:
            text += " where " + self.where
        return text

    @field_validator("dataset")
    @classmethod
    def _dataset_name(cls, value: str) -> str:
        try:
            return check_name("Data set", value)
        except GatewayValidationError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("analyst")
    @classmethod
    def _analyst(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("analyst must not be empty")
        return value

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str | None) -> str | None:
        if value is not None and not CLIENT_ID_PATTERN.fullmatch(value):
            raise ValueError("client_id must be 1-128 letters, digits, '_', '.', ':' or '-'")
        return value

    @property
    def demand(self) -> Budget:
        return self.budget.to_budget()

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def schema_with_derived(
        self, dataset: Dataset, public: Mapping[str, Dataset] | None = None
    ) -> dict[str, ColumnType]:
        """The data set's columns plus the joined and derived ones, checking each on the way."""
        columns = dict(dataset.columns)
        if self.join is not None:
            columns.update(_joined_columns(self.join, dataset, public or {}))
        for entry in self.derive or []:
            if entry.name in columns:
                raise GatewayValidationError(
                    f"derive: column {entry.name!r} already exists; name the derived column differently ('as')"
                )
            kind = columns.get(entry.source) or Dataset.model_construct(name=dataset.name, columns=columns).column_type(
                entry.source, "derive"
            )
            if entry.bin is not None and not kind.is_numeric:
                raise GatewayValidationError(
                    f"derive: cannot bin column {entry.source!r} of type {kind.value}; bin a numeric column"
                )
            if entry.date_part is not None:
                if not kind.is_temporal:
                    raise GatewayValidationError(
                        f"derive: date_part needs a date or timestamp column; {entry.source!r} is {kind.value}"
                    )
                if entry.date_part.part is DatePartName.HOUR and kind is not ColumnType.TIMESTAMP:
                    raise GatewayValidationError(f"derive: a date column {entry.source!r} has no hour; use a timestamp")
            columns[entry.name] = entry.kind
        return columns

    def check_against(self, dataset: Dataset, public: Mapping[str, Dataset] | None = None) -> None:
        """Check every column the spec uses exists (in the data set or derived) with a usable type,
        and that the spec's engine can answer it. ``public``: the registered public tables."""
        from gateway.core.capabilities import check_engine  # capabilities reads this module's types

        columns = self.schema_with_derived(dataset, public)
        lookup = Dataset.model_construct(name=dataset.name, columns=columns)

        for agg in self.all_aggregates:
            if agg.column is None:
                continue
            kind = lookup.column_type(agg.column, "aggregate")
            if agg.function.needs_bounds and not kind.is_numeric:
                raise GatewayValidationError(
                    f"cannot {agg.function.value} column {agg.column!r} of type {kind.value}; pick a numeric column"
                )
        if self.privacy_unit.id_column is not None:
            dataset.column_type(self.privacy_unit.id_column, "privacy-unit id")
        if self.group_by is not None:
            for name in self.group_by.names:
                kind = lookup.column_type(name, "group-by")
                _check_keys(name, self.group_by.values_of(name), kind)
            if self.group_by.from_table is not None:
                _check_public_keys(self.group_by, columns, public or {})
        if self.where is not None:
            predicate.check(predicate.parse(self.where), columns)
        check_engine(self)


def _public_table(name: str, public: Mapping[str, Dataset], field: str) -> Dataset:
    table = public.get(name)
    if table is None or not table.public:
        raise GatewayValidationError(
            f"{field}: {name!r} is not a registered public table; register it with "
            f"dpgw datasets add {name} --path ... --public"
        )
    return table


def _joined_columns(join: Join, dataset: Dataset, public: Mapping[str, Dataset]) -> dict[str, ColumnType]:
    """The columns a join adds (the public table's, but its key columns), checked against the data set."""
    table = _public_table(join.table, public, "join.table")
    for column in join.on:
        mine, theirs = dataset.columns.get(column), table.columns.get(column)
        if mine is None or theirs is None or mine is not theirs:
            raise GatewayValidationError(
                f"join.on: column {column!r} must be in data set {dataset.name!r} and public table {table.name!r} "
                "with the same type"
            )
    added = {c: k for c, k in table.columns.items() if c not in join.on}
    clash = [c for c in added if c in dataset.columns]
    if clash:
        raise GatewayValidationError(
            f"join: public table {table.name!r} and data set {dataset.name!r} both have column(s) "
            f"{', '.join(clash)}; join on them (join.on) or use a table without them"
        )
    return added


def _check_public_keys(group: GroupBy, columns: Mapping[str, ColumnType], public: Mapping[str, Dataset]) -> None:
    name = group.from_table or ""
    table = _public_table(name, public, "group_by.keys.from")
    for column in group.names:
        if table.columns.get(column) is not columns[column]:
            raise GatewayValidationError(
                f"group_by.keys.from: public table {name!r} needs column {column!r} of type {columns[column].value}; "
                f"its columns are: {', '.join(f'{c}:{k.value}' for c, k in table.columns.items())}"
            )


def _check_keys(column: str, keys: list[GroupKey], kind: ColumnType) -> None:
    expected: tuple[type, ...] = {
        ColumnType.STRING: (str,),
        ColumnType.INTEGER: (int,),
        ColumnType.BOOLEAN: (bool,),
    }.get(kind, ())
    if not expected:
        raise GatewayValidationError(
            f"cannot group by column {column!r} of type {kind.value}; group by a string, integer or boolean column"
        )
    for key in keys:
        ok = isinstance(key, expected) and not (kind is ColumnType.INTEGER and isinstance(key, bool))
        if not ok:
            raise GatewayValidationError(f"group-by key {key!r} does not match column {column!r} of type {kind.value}")


_FUNCTIONS = "count, count_distinct, privacy_id_count, sum, mean, variance, stdev, quantile, median, min or max"
# What each field accepts, in the spec's own words (the README's spec section), by field path; list
# positions are written ``[]``. Validation messages name the field, what was given and this.
ACCEPTED: dict[str, str] = {
    "engine": "tumult or pipelinedp",
    "dataset": "the name of a registered data set",
    "analyst": "a non-empty name",
    "client_id": "1-128 letters, digits, '_', '.', ':' or '-'",
    "blocks": "{last: K} or {from: YYYY-MM-DD, to: YYYY-MM-DD} (days); {version: V} or latest (a snapshot)",
    "blocks.version": "a snapshot version label: 1-64 letters, digits, '_', '.' or '-'",
    "blocks.latest": "true (the snapshot's most recently added version); or write blocks: latest",
    "blocks.last": "a whole number >= 1 (the K most recent blocks)",
    "blocks.from": "a date, YYYY-MM-DD",
    "blocks.to": "a date, YYYY-MM-DD",
    "budget": (
        "{epsilon: E}, {epsilon: E, delta: D} (pure or approximate DP) "
        "or {rho: R} (zCDP, on ledgers made with dpgw init --accounting rdp)"
    ),
    "budget.epsilon": "a finite number > 0",
    "budget.delta": "a number in [0, 1) (default 0)",
    "budget.rho": "a finite number > 0 (zCDP; needs a ledger made with dpgw init --accounting rdp)",
    "privacy_unit": "row, or {id_column: C, max_rows_per_id: K}",
    "privacy_unit.id_column": "one column name",
    "privacy_unit.max_rows_per_id": "a whole number >= 1",
    "where": "a condition: comparisons (= != < <= > >=), IN (...), IS [NOT] NULL, BETWEEN, AND, OR, NOT, "
    "parentheses; strings in 'single quotes', dates as 'YYYY-MM-DD'",
    "derive": "a list of {bin: {column: C, edges: [e0, e1, ...], as: NAME}} or "
    "{date_part: {column: C, part: year | quarter | month | day | weekday | hour, as: NAME}}",
    "derive[]": "{bin: {column: C, edges: [...], as: NAME}} or {date_part: {column: C, part: P, as: NAME}}",
    "derive[].bin": "{column: C, edges: [e0, e1, ...], labels: [...] (optional), as: NAME}",
    "derive[].date_part": "{column: C, part: P, as: NAME}",
    "derive[].bin.column": "one numeric column name",
    "derive[].bin.as": "the derived column's name",
    "derive[].date_part.column": "one date or timestamp column name",
    "derive[].date_part.as": "the derived column's name",
    "derive[].bin.edges": "at least two strictly increasing finite numbers",
    "derive[].bin.labels": "one distinct label per bin (default lo-hi)",
    "derive[].date_part.part": "year, quarter, month, day, weekday (1 = Monday) or hour",
    "aggregate": "{function: count}, or {function: sum | mean | variance | ..., column: C, low: L, high: H}",
    "aggregates": "a list of aggregates, each with a budget_share (the shares sum to 1)",
    "aggregate.function": _FUNCTIONS,
    "aggregates[].function": _FUNCTIONS,
    "aggregate.column": "one column name",
    "aggregates[].column": "one column name",
    "aggregate.low": "a finite number",
    "aggregate.high": "a finite number",
    "aggregates[].low": "a finite number",
    "aggregates[].high": "a finite number",
    "aggregate.q": "a number in [0, 1] (quantile only)",
    "aggregates[].q": "a number in [0, 1] (quantile only)",
    "aggregate.budget_share": "a number in (0, 1]; 1 (the default) for a single aggregate",
    "aggregates[].budget_share": "a number in (0, 1]; the shares of all aggregates sum to 1",
    "group_by": "{column: C, keys: [k1, k2, ...]}, or {columns: [A, B], keys: {A: [...], B: [...]}} "
    "(every combination) or keys: [[a1, b1], ...] (these combinations), keys declared",
    "group_by.column": "one column name (for several, use columns: [A, B])",
    "group_by.columns": "a list of 1-8 distinct column names",
    "group_by.keys": "a non-empty list of distinct keys, a {column: [keys]} mapping, a list of combinations, "
    "{from: PUBLIC_TABLE}, or private (groups selected from the data with DP; needs delta > 0)",
    "group_by.keys.from": "the name of a registered public table holding the group-by columns",
    "group_by.keys[]": "a string, integer or boolean (or a list of them, one per column)",
    "join": "{table: PUBLIC_TABLE, on: [C, ...], how: inner | left, matches: one | many} (a registered public table)",
    "join.matches": "one (a lookup: each key once in the table, the default) or many (one-to-many)",
    "join.table": "the name of a registered public table",
    "join.on": "1-4 key columns present in both, with the same types",
    "join.how": "inner (drop rows without a match, the default) or left (keep them, with nulls)",
    "contribution": "{max_groups_per_id: G, max_rows_per_group_per_id: R} (with an id privacy unit and a group_by)",
    "contribution.max_groups_per_id": "a whole number >= 1",
    "contribution.max_rows_per_group_per_id": "a whole number >= 1",
}
_SECTIONS: dict[str, type[BaseModel]] = {
    "": QuerySpec,
    "blocks": BlockSelection,
    "budget": BudgetSpec,
    "privacy_unit": PrivacyUnit,
    "aggregate": Aggregate,
    "aggregates[]": Aggregate,
    "group_by": GroupBy,
    "group_by.keys": PublicKeys,
    "contribution": Contribution,
    "join": Join,
    "derive[]": Derive,
    "derive[].bin": Bin,
    "derive[].date_part": DatePart,
}
_SHAPE_ERRORS = frozenset({"dict_type", "list_type", "literal_error", "model_type"})
_UNION_TAGS = frozenset({"str", "int", "bool", "PublicKeys"})  # pydantic tags each member of the GroupKey union


def _is_tag(part: int | str) -> bool:
    """A union member's tag (``str``, ``list[union[str,int,bool]]``), not a field of the spec."""
    return isinstance(part, str) and (part in _UNION_TAGS or "[" in part)


def _path(loc: tuple[int | str, ...]) -> tuple[str, str]:
    """The field as written in the spec (``group_by.keys[2]``) and its ``ACCEPTED`` key (``group_by.keys[]``)."""
    parts = [p for p in loc if not _is_tag(p)]
    shown, key = "", ""
    for part in parts:
        if isinstance(part, int):
            shown, key = f"{shown}[{part}]", f"{key}[]"
        else:
            shown, key = (f"{shown}.{part}" if shown else part), (f"{key}.{part}" if key else part)
    return shown, key


def _given(value: object) -> str:
    """What the spec gave, short (the analyst's own input; never data)."""
    if isinstance(value, dt.date):
        value = value.isoformat()
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields(model: type[BaseModel]) -> str:
    return ", ".join(f.alias or name for name, f in model.model_fields.items())


def _problem(err: Any) -> tuple[str, str]:
    shown, key = _path(tuple(err["loc"]))
    accepted = ACCEPTED.get(key)
    kind = err["type"]
    if kind == "extra_forbidden":
        parent, _, _ = shown.rpartition(".")
        model = _SECTIONS.get(key.rpartition(".")[0])
        known = f"; {parent or 'the spec'} takes {_fields(model)}" if model else ""
        if parent == "budget":
            known += " (an (ε, δ) budget, or {rho} for zCDP on ledgers made with dpgw init --accounting rdp)"
        return shown, f"unknown field{known}; check the spelling (the README's query spec lists every field)"
    if kind == "missing":
        return shown, f"missing; give {accepted}" if accepted else "missing"
    if kind == "value_error":  # our own validators: their message says what is wrong and what is accepted
        message = str(err["ctx"]["error"]) if "ctx" in err else err["msg"].removeprefix("Value error, ")
        given = err.get("input")
        if given is None or isinstance(given, dict | list) or _given(given) in message or repr(given) in message:
            return shown, message
        return shown, f"{message}; got {_given(given)}"
    if accepted is None:
        return shown, f"got {_given(err.get('input'))}: {err['msg'].removeprefix('Value error, ')}"
    return shown, f"got {_given(err.get('input'))}; expected {accepted}"


def parse_spec(data: object) -> QuerySpec:
    """Validate a decoded spec document, turning every problem into one readable SpecError.

    Each problem names the field, what the spec gave and what the field accepts (``ACCEPTED``), in the
    spec's own words rather than the validation library's.
    """
    if not isinstance(data, dict):
        raise SpecError(f"a query spec must be a mapping of fields ({_fields(QuerySpec)}), got {_given(data)}")
    try:
        return QuerySpec.model_validate(data)
    except ValidationError as exc:
        problems: dict[str, str] = {}
        errors = exc.errors()
        # A value of the wrong shape for one union member ("not a dict") is noise when another member
        # says what is wrong inside it; keep such errors only when nothing else is reported.
        shaped = [e for e in errors if not (e["type"] in _SHAPE_ERRORS and any(_is_tag(p) for p in e["loc"]))]
        for err in shaped or errors:
            where, message = _problem(err)
            problems.setdefault(where, message)  # a union reports once per member: keep the first
        lines = [f"{where}: {message}" if where else message for where, message in problems.items()]
        raise SpecError("invalid query spec:\n  " + "\n  ".join(lines)) from None


MAX_SPEC_BYTES = 1 << 20  # 1 MiB: a spec is a few hundred bytes; anything near this is not a spec
MAX_SPEC_DEPTH = 32  # nesting levels; a real spec uses three


class _SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader, made strict for untrusted documents.

    Refuses duplicate keys (PyYAML lets the last one win silently: ``budget`` twice would charge the
    second), aliases (a spec needs none, and they can make a small document expand), and
    nesting deeper than ``MAX_SPEC_DEPTH`` (the composer recurses per level). A timestamp that is no
    real date (``2026-02-30``) stays a string, so the field it is in reports it.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise SpecError("the spec uses a YAML alias (*name); write the value out instead")
        if self.check_event(yaml.MappingStartEvent, yaml.SequenceStartEvent):
            self._depth += 1
            if self._depth > MAX_SPEC_DEPTH:
                raise SpecError(f"the spec nests deeper than {MAX_SPEC_DEPTH} levels; a query spec needs three")
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                raise SpecError("the spec has a mapping key that is not a plain value") from None
            if duplicate:
                raise SpecError(
                    f"the spec gives {str(key)[:80]!r} twice (line {key_node.start_mark.line + 1}); keep one"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return self.construct_scalar(node)


_SpecLoader.add_constructor("tag:yaml.org,2002:timestamp", _SpecLoader.construct_yaml_timestamp)


def decode_spec_bytes(data: bytes) -> str:
    """A spec file's bytes as text: at most ``MAX_SPEC_BYTES``, strictly UTF-8, else a ``SpecError``."""
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"the spec is larger than {MAX_SPEC_BYTES // 1024} KiB; a query spec is a few lines")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"the spec is not UTF-8 text (byte {exc.start} cannot be decoded); save it as UTF-8") from None


def load_spec_text(text: str | bytes) -> QuerySpec:
    """Parse a YAML (or JSON, which is YAML) spec document: the one door user specs come in by.

    Bytes must be UTF-8 and at most ``MAX_SPEC_BYTES``; every problem is a ``SpecError`` (exit 2).
    """
    if isinstance(text, bytes):
        text = decode_spec_bytes(text)
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(f"the spec is larger than {MAX_SPEC_BYTES // 1024} KiB; a query spec is a few lines")
    try:
        data = yaml.load(text, Loader=_SpecLoader)  # _SpecLoader is a SafeLoader
    except yaml.YAMLError as exc:
        raise SpecError(f"the spec is not valid YAML or JSON: {exc}") from None
    except (ValueError, OverflowError, RecursionError) as exc:  # a scalar PyYAML cannot build (a 5000-digit int)
        raise SpecError(f"the spec holds a value that cannot be read: {str(exc)[:200]}") from None
    return parse_spec(data)
