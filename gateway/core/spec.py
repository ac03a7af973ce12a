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
from decimal import Decimal
from enum import StrEnum
from typing import Any

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


# What each field accepts, in the spec's own words (the README's spec section), by field path; list
# positions are written ``[]``. Validation messages name the field, what was given and this.
ACCEPTED: dict[str, str] = {
    "engine": "tumult or pipelinedp",
    "dataset": "the name of a registered data set",
    "analyst": "a non-empty name",
    "client_id": "1-128 letters, digits, '_', '.', ':' or '-'",
    "blocks": "{last: K} or {from: YYYY-MM-DD, to: YYYY-MM-DD}",
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
    "aggregate": "{function: count}, or {function: sum | mean | variance, column: C, low: L, high: H}",
    "aggregate.function": "count, sum, mean or variance",
    "aggregate.column": "one column name",
    "aggregate.low": "a finite number",
    "aggregate.high": "a finite number",
    "group_by": "{column: C, keys: [k1, k2, ...]} on one column, with its keys declared",
    "group_by.column": "one column name (grouping by several columns is not supported)",
    "group_by.keys": "a non-empty list of distinct keys (strings, integers or booleans)",
    "group_by.keys[]": "a string, integer or boolean",
}
_SECTIONS: dict[str, type[BaseModel]] = {
    "": QuerySpec,
    "blocks": BlockSelection,
    "budget": BudgetSpec,
    "privacy_unit": PrivacyUnit,
    "aggregate": Aggregate,
    "group_by": GroupBy,
}
_UNION_TAGS = frozenset({"str", "int", "bool"})  # pydantic tags each member of the GroupKey union


def _path(loc: tuple[int | str, ...]) -> tuple[str, str]:
    """The field as written in the spec (``group_by.keys[2]``) and its ``ACCEPTED`` key (``group_by.keys[]``)."""
    parts = list(loc)
    if len(parts) >= 2 and isinstance(parts[-2], int) and parts[-1] in _UNION_TAGS:
        parts.pop()
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
        model = _SECTIONS.get(parent)
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
        raise SpecError(
            f"a query spec must be a mapping of fields ({_fields(QuerySpec)}), got {_given(data)}"
        )
    try:
        return QuerySpec.model_validate(data)
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for err in exc.errors():
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
