"""The one place both engines shape their input, so they answer the same question the same way.

Every row transformation here is decided by the row alone and by public spec values (never by other
rows), so it keeps each engine's privacy guarantee intact:

* rows with a null (or NaN) in the aggregated column are dropped: neither library can clamp a missing
  value, and Tumult drops them itself anyway. A count has no aggregated column and drops nothing.
* rows whose group-by value is not a declared key are dropped: they can never reach the answer, so
  they should not use up an id's ``max_rows_per_id`` allowance either.
* columns get fixed internal names (``pid``, ``key``, ``value``); the value is cast to double.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F
from pyspark.sql import types as T

from gateway.core.spec import AggregateFunction, QuerySpec

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

PID = "pid"
KEY = "key"
VALUE = "value"

_ID_TYPES = (T.StringType, T.IntegerType, T.LongType, T.ShortType, T.ByteType, T.DateType)
_INTEGRAL = (T.IntegerType, T.LongType, T.ShortType, T.ByteType)


def column(name: str) -> Column:
    """A column by its exact name (dots and backticks in names are not struct paths)."""
    return F.col("`" + name.replace("`", "``") + "`")


def standardize(df: DataFrame, spec: QuerySpec) -> DataFrame:
    """Rows ready for aggregation, with columns ``value`` and, when used, ``pid`` and ``key``.

    ``value`` is a double (a constant 0.0 for a count, which only counts rows). ``pid`` keeps string,
    integer and date ids and casts any other id type to string, because Tumult's ``AddRowsWithID``
    accepts only those types. ``key`` is cast to long for integer columns, matching Python int keys.
    """
    fields = {f.name: f.dataType for f in df.schema.fields}
    selected: list[Column] = []
    if spec.privacy_unit.id_column is not None:
        name = spec.privacy_unit.id_column
        pid = column(name)
        if not isinstance(fields[name], _ID_TYPES):
            pid = pid.cast(T.StringType())
        selected.append(pid.alias(PID))
    if spec.group_by is not None:
        name = spec.group_by.column
        key = column(name)
        if isinstance(fields[name], _INTEGRAL):
            key = key.cast(T.LongType())
        selected.append(key.alias(KEY))
    aggregate = spec.aggregate
    if aggregate.function is AggregateFunction.COUNT or aggregate.column is None:
        selected.append(F.lit(0.0).alias(VALUE))
    else:
        selected.append(column(aggregate.column).cast(T.DoubleType()).alias(VALUE))
    out = df.select(*selected)
    if aggregate.function is not AggregateFunction.COUNT:
        out = out.where(F.col(VALUE).isNotNull() & ~F.isnan(F.col(VALUE)))
    if spec.group_by is not None:
        out = out.where(F.col(KEY).isin(list(spec.group_by.keys)))
    return out
