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
# A snapshot version's label: it names a block key and a directory (``version=LABEL``), so no slashes,
# markup or control characters, and short.
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
VERSION_PARTITION = "version"  # a snapshot's version V lives in the directory <path>/version=V


class DataFormat(StrEnum):
    PARQUET = "parquet"
    CSV = "csv"


class BlockPeriod(StrEnum):
    """What one privacy block of a data set is: a day of its time column, or a version of a snapshot."""

    DAY = "day"
    VERSION = "version"  # a snapshot data set (no time column): one block per version of the whole table


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


def check_version_label(label: str) -> str:
    """A snapshot version label, refused unless it is 1-64 letters, digits, '_', '.' or '-' (no slashes)."""
    if not VERSION_PATTERN.fullmatch(label):
        shown = label if len(label) <= 40 else label[:37] + "..."
        raise GatewayValidationError(
            f"version label {shown!r} is invalid: use 1-64 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit (it names the directory version=LABEL)"
        )
    return label


def check_name(kind: str, name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):  # fullmatch: "$" alone lets a final newline in
        raise GatewayValidationError(
            f"{kind} name {name!r} is invalid: use a letter followed by letters, digits, '_', '.' or '-'"
        )
    return name


class Dataset(BaseModel):
    """A data set the gateway may run queries on, with one privacy block per period of its time column.

    A ``public`` table (no time column, no blocks, no budget) is never queried itself: specs take group-by
    keys from it (``group_by: {columns: [...], keys: {from: NAME}}``), read by the job.

    A *snapshot* (``block_period: version``, no time column) has one block per version of the whole
    table; version V's rows are the files under ``<path>/version=V`` and nothing else.
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
        if self.block_period is BlockPeriod.VERSION:
            if self.public or self.time_column is not None:
                raise GatewayValidationError(
                    "a snapshot data set (--no-time-column) has no time column and is not public; drop "
                    "--time-column/--public"
                )
            return self
        if self.time_column is None:
            if not self.public:
                raise GatewayValidationError(
                    "a data set with privacy blocks needs a time column (--time-column), or --no-time-column "
                    "for a snapshot (one block per version)"
                )
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

    @property
    def snapshot(self) -> bool:
        """One block per version of the whole table (no time column)."""
        return self.block_period is BlockPeriod.VERSION

    def version_path(self, label: str) -> str:
        """Where version ``label`` of a snapshot lives: ``<path>/version=<label>``."""
        return f"{self.path.rstrip('/')}/{VERSION_PARTITION}={check_version_label(label)}"

    def column_type(self, column: str, role: str) -> ColumnType:
        """The type of a column the spec uses, or a clear error naming the known columns."""
        try:
            return self.columns[column]
        except KeyError:
            raise UnknownColumnError(
                f"{role} column {column!r} is not in data set {self.name!r}; its columns are: {', '.join(self.columns)}"
            ) from None
