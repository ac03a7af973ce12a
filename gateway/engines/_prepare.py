"""The one place both engines shape their input, so they answer the same question the same way.

Every row transformation here is decided by the row alone and by public spec values (never by other
rows), so it keeps each engine's privacy guarantee intact (a row-local map or filter of the protected
table is 1-stable under both libraries' neighbouring relations):

* a ``join`` with a public table adds its columns; the table must hold each key combination once (the
  job checks), so every private row meets at most one public row: a row-local map (``inner`` also
  drops the rows without a match, a row-local filter). With ``matches: many`` a row may meet up to M
  public rows (M: the table's largest key multiplicity, read from the public table). With an id privacy
  unit the engines' per-id bounds, applied after the join, cap what an id contributes. With rows as the
  unit each private row first gets a synthetic id (``pid``) that all its copies share, and the engines
  run id-level with at most M rows per id (``row_fanout``): adding or removing one private row adds or
  removes one id's rows, at most M of them, so the noise is calibrated to M rows. Each library truncates
  per id itself, so a table that changed between reads could cost accuracy, never privacy.
* ``derive`` columns are computed (a bin label from declared edges, a date part), then the ``where``
  filter is applied, compiled from its parsed tree to Spark expressions with typed literals (never SQL
  text); a comparison with a null is not true, so such rows are dropped, as in SQL.
* rows whose group-by value is not a declared key (combination) are dropped: they can never reach the
  answer, so they should not use up an id's allowance either.
* columns get fixed internal names (``pid``, ``key``, ``v0``, ``v1``... one per aggregate). Several
  group-by columns become one string ``key`` (``base.encode_key``), so per-group bounds apply to the
  combination. Numeric values are cast to double with NaN turned into null; each engine drops the rows
  whose value is null for that aggregate only (neither library can clamp a missing value).
"""

from __future__ import annotations

from functools import reduce
from typing import TYPE_CHECKING

from pyspark.sql import functions as F
from pyspark.sql import types as T

from gateway.core import predicate
from gateway.core.spec import AggregateFunction, DatePartName, Derive
from gateway.engines.base import KEY_SEPARATOR, group_keys
from gateway.runtime.reader import max_matches, read_public_lookup

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from gateway.core.jobs import JobRequest

PID = "pid"
KEY = "key"
VALUE = "value"
_ROW_ID = "__dpgw_row_id"  # a row's synthetic id before a one-to-many join (row privacy unit)

_ID_TYPES = (T.StringType, T.IntegerType, T.LongType, T.ShortType, T.ByteType, T.DateType)
_INTEGRAL = (T.IntegerType, T.LongType, T.ShortType, T.ByteType)


def column(name: str) -> Column:
    """A column by its exact name (dots and backticks in names are not struct paths)."""
    return F.col("`" + name.replace("`", "``") + "`")


def value_column(index: int) -> str:
    """The internal name of the ``index``-th aggregate's value column."""
    return f"v{index}"


def derived(entry: Derive) -> Column:
    """A derived column's expression (public edges and parts only)."""
    source = column(entry.source)
    if entry.bin is not None:
        edges, labels = entry.bin.edges, entry.bin.bin_labels
        value = source.cast(T.DoubleType())
        last = len(labels) - 1
        out: Column | None = None
        for i, label in enumerate(labels):
            upper = (value <= edges[i + 1]) if i == last else (value < edges[i + 1])
            cond = (value >= edges[i]) & upper
            out = F.when(cond, F.lit(label)) if out is None else out.when(cond, F.lit(label))
        assert out is not None
        return out
    assert entry.date_part is not None
    part = entry.date_part.part
    parts = {
        DatePartName.YEAR: F.year,
        DatePartName.QUARTER: F.quarter,
        DatePartName.MONTH: F.month,
        DatePartName.DAY: F.dayofmonth,
        DatePartName.HOUR: F.hour,
    }
    if part is DatePartName.WEEKDAY:  # Spark: 1 = Sunday; ISO: 1 = Monday ... 7 = Sunday
        return ((F.dayofweek(source) + 5) % 7 + 1).cast(T.LongType())
    return parts[part](source).cast(T.LongType())


def condition(node: predicate.Node) -> Column:
    """A checked predicate tree as a Spark expression, literals passed as typed values."""
    if isinstance(node, predicate.And):
        return reduce(lambda a, b: a & b, [condition(i) for i in node.items])
    if isinstance(node, predicate.Or):
        return reduce(lambda a, b: a | b, [condition(i) for i in node.items])
    if isinstance(node, predicate.Not):
        return ~condition(node.item)
    col = column(node.column)
    if isinstance(node, predicate.IsNull):
        return col.isNotNull() if node.negated else col.isNull()
    if isinstance(node, predicate.InList):
        cond = col.isin([F.lit(v) for v in node.values])
        return ~cond if node.negated else cond
    if isinstance(node, predicate.Between):
        cond = (col >= F.lit(node.low)) & (col <= F.lit(node.high))
        return ~cond if node.negated else cond
    lit = F.lit(node.value)
    ops = {
        "=": col == lit,
        "!=": col != lit,
        "<": col < lit,
        "<=": col <= lit,
        ">": col > lit,
        ">=": col >= lit,
    }
    return ops[node.op]


def row_fanout(spark: SparkSession, request: JobRequest) -> int | None:
    """With rows as the privacy unit and a one-to-many join: the most public rows one private row can meet
    (the cap per synthetic row id); None otherwise (rows are then protected one by one as usual)."""
    spec = request.spec
    if spec.join is None or spec.join.matches != "many" or not spec.privacy_unit.is_row:
        return None
    return max_matches(spark, request.public_tables[spec.join.table], spec.join.on)


def standardize(df: DataFrame, request: JobRequest) -> DataFrame:
    """Rows ready for aggregation: ``v0``, ``v1``... and, when used, ``pid`` and ``key``.

    ``pid`` keeps string, integer and date ids and casts any other id type to string, because Tumult's
    ``AddRowsWithID`` accepts only those types. A one-column ``key`` is cast to long for integer
    columns, matching Python int keys; several columns give one encoded string key.
    """
    spec = request.spec
    row_ids = spec.join is not None and spec.join.matches == "many" and spec.privacy_unit.is_row
    if spec.join is not None:
        table = request.public_tables[spec.join.table]
        many = spec.join.matches == "many"
        lookup = read_public_lookup(df.sparkSession, table, spec.join.on, many=many)
        if row_ids:  # one id per private row, shared by all its copies after the join
            df = df.withColumn(_ROW_ID, F.monotonically_increasing_id())
        df = df.join(F.broadcast(lookup), on=spec.join.on, how=spec.join.how)
    for entry in spec.derive or []:
        df = df.withColumn(entry.name, derived(entry))
    if spec.where is not None:
        columns = spec.schema_with_derived(request.dataset, request.public_tables)
        df = df.where(condition(predicate.check(predicate.parse(spec.where), columns)))
    fields = {f.name: f.dataType for f in df.schema.fields}
    selected: list[Column] = []
    if spec.privacy_unit.id_column is not None:
        name = spec.privacy_unit.id_column
        pid = column(name)
        if not isinstance(fields[name], _ID_TYPES):
            pid = pid.cast(T.StringType())
        selected.append(pid.alias(PID))
    elif row_ids:
        selected.append(F.col(_ROW_ID).alias(PID))
    if spec.group_by is not None:
        names = spec.group_by.names
        if len(names) == 1 and not spec.group_by.multi:
            key = column(names[0])
            if isinstance(fields[names[0]], _INTEGRAL):
                key = key.cast(T.LongType())
        else:
            parts = [column(n).cast(T.StringType()) for n in names]
            # a value holding the separator could make two combinations one key: such a row has no group
            # (declared keys never hold it; with keys: private the row is dropped, a row-local filter)
            any_null = reduce(lambda a, b: a | b, [p.isNull() | p.contains(KEY_SEPARATOR) for p in parts])
            key = F.when(any_null, F.lit(None).cast(T.StringType())).otherwise(F.concat_ws(KEY_SEPARATOR, *parts))
        selected.append(key.alias(KEY))
    for i, agg in enumerate(spec.all_aggregates):
        name = value_column(i)
        if agg.column is None:
            selected.append(F.lit(0.0).alias(name))
        elif agg.function is AggregateFunction.COUNT_DISTINCT:
            selected.append(column(agg.column).cast(T.StringType()).alias(name))
        else:
            value = column(agg.column).cast(T.DoubleType())
            selected.append(F.when(F.isnan(value), F.lit(None)).otherwise(value).alias(name))
    out = df.select(*selected)
    if spec.group_by is not None and spec.group_by.private:
        out = out.where(F.col(KEY).isNotNull())  # a group of nulls is no group (as with declared keys)
    elif spec.group_by is not None:
        out = out.where(F.col(KEY).isin(group_keys(request)))
    return out
