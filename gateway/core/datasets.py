"""Registered data sets: where the data lives and its public schema.

The schema is recorded once at registration (metadata, like a catalog entry) so that specs can be
checked for unknown columns without ever reading private rows at submission time.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.errors import GatewayValidationError, UnknownColumnError

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


class DataFormat(StrEnum):
    PARQUET = "parquet"
    CSV = "csv"


class BlockPeriod(StrEnum):
    DAY = "day"


class ColumnType(StrEnum):
    """The logical column types the engines understand."""

    STRING = "string"
    INTEGER = "integer"
    DOUBLE = "double"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"

    @property
    def is_numeric(self) -> bool:
        return self in (ColumnType.INTEGER, ColumnType.DOUBLE)

    @property
    def is_temporal(self) -> bool:
        return self in (ColumnType.DATE, ColumnType.TIMESTAMP)


def check_name(kind: str, name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise GatewayValidationError(
            f"{kind} name {name!r} is invalid: use a letter followed by letters, digits, '_', '.' or '-'"
        )
    return name


class Dataset(BaseModel):
    """A data set the gateway may run queries on, with one privacy block per period of its time column.

    A ``public`` table (no time column, no blocks, no budget) is never queried itself: specs take group-by
    keys from it (``group_by: {columns: [...], keys: {from: NAME}}``), read by the job.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    path: str
    format: DataFormat
    time_column: str | None = None
    public: bool = False
    block_period: BlockPeriod = BlockPeriod.DAY
    columns: dict[str, ColumnType] = Field(min_length=1)
    # Where its queries run unless a submission says otherwise (``local``, ``glue``, ``emr``); None: local.
    launcher: str | None = None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return check_name("Data set", value)

    @model_validator(mode="after")
    def _time_column_is_temporal(self) -> Dataset:
        if self.time_column is None:
            if not self.public:
                raise GatewayValidationError("a data set with privacy blocks needs a time column (--time-column)")
            return self
        kind = self.columns.get(self.time_column)
        if kind is None:
            raise UnknownColumnError(
                f"time column {self.time_column!r} is not in the data set; columns: {', '.join(self.columns)}"
            )
        if not kind.is_temporal:
            raise GatewayValidationError(
                f"time column {self.time_column!r} has type {kind.value}; it must be a date or timestamp"
            )
        return self

    def column_type(self, column: str, role: str) -> ColumnType:
        """The type of a column the spec uses, or a clear error naming the known columns."""
        try:
            return self.columns[column]
        except KeyError:
            raise UnknownColumnError(
                f"{role} column {column!r} is not in data set {self.name!r}; its columns are: {', '.join(self.columns)}"
            ) from None
