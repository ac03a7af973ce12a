"""The query spec an analyst submits, validated strictly.

Everything a DP job needs that could otherwise leak through data-dependent choices is declared here:
clamping bounds, group-by keys, the per-id contribution cap and the budget. Unknown fields are
rejected so that a typo (``epsilom``) never silently falls back to a default.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal
from enum import StrEnum
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gateway.core.budget import Budget
from gateway.core.datasets import ColumnType, Dataset, check_name
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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class BlockSelection(_Strict):
    """Which time blocks the query reads: the ``last`` K blocks, or every block ``from``..``to``."""

    last: int | None = Field(default=None, ge=1)
    from_: dt.date | None = Field(default=None, alias="from")
    to: dt.date | None = None

    @model_validator(mode="after")
    def _one_form(self) -> BlockSelection:
        if self.last is not None:
            if self.from_ is not None or self.to is not None:
                raise ValueError("give either 'last' or 'from'/'to', not both")
            return self
        if self.from_ is None or self.to is None:
            raise ValueError("give 'last: K' or both 'from' and 'to' dates")
        if self.from_ > self.to:
            raise ValueError(f"empty block range: from {self.from_} is after to {self.to}")
        return self


class BudgetSpec(_Strict):
    epsilon: Decimal
    delta: Decimal = Decimal(0)

    @model_validator(mode="before")
    @classmethod
    def _exact(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        try:
            budget = Budget.demand(data.get("epsilon"), data.get("delta", 0))
        except GatewayValidationError as exc:
            raise ValueError(str(exc)) from None
        return {**data, "epsilon": budget.epsilon, "delta": budget.delta}

    def to_budget(self) -> Budget:
        return Budget(self.epsilon, self.delta)


class PrivacyUnit(_Strict):
    """Whom the guarantee protects: each row (no id column) or each id, capped at ``max_rows_per_id``."""

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
        if (self.id_column is None) != (self.max_rows_per_id is None):
            raise ValueError("an id privacy unit needs both id_column and max_rows_per_id")
        return self

    @property
    def is_row(self) -> bool:
        return self.id_column is None


class Aggregate(_Strict):
    function: AggregateFunction
    column: str | None = None
    low: float | None = None
    high: float | None = None

    @field_validator("low", "high")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("bounds must be finite numbers")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> Aggregate:
        if self.function is AggregateFunction.COUNT:
            if self.column is not None or self.low is not None or self.high is not None:
                raise ValueError("count takes no column or bounds; it counts rows")
            return self
        if self.column is None:
            raise ValueError(f"{self.function.value} needs a column")
        if self.low is None or self.high is None:
            raise ValueError(
                f"{self.function.value} needs declared clamping bounds 'low' and 'high' "
                "(they are never derived from the data)"
            )
        if self.low >= self.high:
            raise ValueError(f"bounds must satisfy low < high, got low={self.low}, high={self.high}")
        return self


GroupKey = str | int | bool


class GroupBy(_Strict):
    """Group-by on a column with keys declared up front, so the key set reveals nothing about the data."""

    column: str
    keys: list[GroupKey] = Field(min_length=1)

    @field_validator("keys")
    @classmethod
    def _unique(cls, keys: list[GroupKey]) -> list[GroupKey]:
        if len({(type(k), k) for k in keys}) != len(keys):
            raise ValueError("group-by keys must be unique")
        return keys


class QuerySpec(_Strict):
    """One DP aggregate over a range of time blocks of one data set."""

    engine: Engine
    dataset: str
    # Who submits: set by the gateway from the caller's credential in team mode (a spec naming someone
    # else is refused); in embedded mode the spec's value, else the OS user name.
    analyst: str | None = None
    blocks: BlockSelection
    budget: BudgetSpec
    privacy_unit: PrivacyUnit
    aggregate: Aggregate
    group_by: GroupBy | None = None
    client_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _group_by_needs_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("group_by"), dict | str):
            group = data["group_by"]
            if isinstance(group, str) or not group.get("keys"):
                raise ValueError(
                    "group_by needs declared public 'keys' (the gateway never reads keys from the data)"
                )
        return data

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
        if value is not None and not CLIENT_ID_PATTERN.match(value):
            raise ValueError("client_id must be 1-128 letters, digits, '_', '.', ':' or '-'")
        return value

    @property
    def demand(self) -> Budget:
        return self.budget.to_budget()

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def check_against(self, dataset: Dataset) -> None:
        """Check every column the spec uses exists in the data set with a usable type."""
        if self.aggregate.column is not None:
            kind = dataset.column_type(self.aggregate.column, "aggregate")
            if not kind.is_numeric:
                raise GatewayValidationError(
                    f"cannot {self.aggregate.function.value} column {self.aggregate.column!r} "
                    f"of type {kind.value}; pick a numeric column"
                )
        if self.privacy_unit.id_column is not None:
            dataset.column_type(self.privacy_unit.id_column, "privacy-unit id")
        if self.group_by is not None:
            kind = dataset.column_type(self.group_by.column, "group-by")
            _check_keys(self.group_by, kind)


def _check_keys(group: GroupBy, kind: ColumnType) -> None:
    expected: tuple[type, ...] = {
        ColumnType.STRING: (str,),
        ColumnType.INTEGER: (int,),
        ColumnType.BOOLEAN: (bool,),
    }.get(kind, ())
    if not expected:
        raise GatewayValidationError(
            f"cannot group by column {group.column!r} of type {kind.value}; "
            "group by a string, integer or boolean column"
        )
    for key in group.keys:
        ok = isinstance(key, expected) and not (kind is ColumnType.INTEGER and isinstance(key, bool))
        if not ok:
            raise GatewayValidationError(
                f"group-by key {key!r} does not match column {group.column!r} of type {kind.value}"
            )


def parse_spec(data: object) -> QuerySpec:
    """Validate a decoded spec document, turning every problem into one readable SpecError."""
    if not isinstance(data, dict):
        raise SpecError("a query spec must be a mapping of fields (engine, dataset, budget, ...)")
    try:
        return QuerySpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "spec"
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown field (check the spelling; see the README for the spec fields)"
            problems.append(f"{where}: {message}")
        raise SpecError("invalid query spec:\n  " + "\n  ".join(problems)) from None


def load_spec_text(text: str) -> QuerySpec:
    """Parse a YAML (or JSON, which is YAML) spec document."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"the spec is not valid YAML or JSON: {exc}") from None
    return parse_spec(data)
