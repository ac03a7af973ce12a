"""Declared schemas (``col:type,col:type``): how CSV data sets get their types, and Parquet overrides."""

from __future__ import annotations

from gateway.core.datasets import ColumnType
from gateway.errors import GatewayValidationError

TYPES = ", ".join(t.value for t in ColumnType)


def parse_schema(text: str) -> dict[str, ColumnType]:
    """``"day:date,user:string"`` as an ordered mapping; every column once, every type a ``ColumnType``."""
    columns: dict[str, ColumnType] = {}
    for item in text.split(","):
        name, sep, kind = item.strip().rpartition(":")
        name = name.strip()
        if not sep or not name:
            raise GatewayValidationError(f"--schema expects col:type,... (types: {TYPES}); got an item {item!r}")
        if name in columns:
            raise GatewayValidationError(f"--schema names column {name!r} twice")
        try:
            columns[name] = ColumnType(kind.strip().lower())
        except ValueError:
            raise GatewayValidationError(
                f"--schema: unknown type {kind.strip()!r} for column {name!r}; use one of {TYPES}"
            ) from None
    return columns
