"""Checks on public tables made at submission: public data, so the gateway may read it (never a private
data set's rows). A lookup join's table must hold each key combination once; finding out here refuses the
query before any budget is taken, where the job would otherwise fail with the grant charged."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.core.datasets import DataFormat, Dataset
from gateway.errors import DataNotFoundError, GatewayValidationError
from gateway.sources.partitions import filesystem_of


def check_lookup_keys(table: Dataset, on: Sequence[str]) -> None:
    """Refuse a lookup on ``table`` if some non-null ``on`` combination occurs in more than one row.

    Reads only the key columns, as text (so ``007`` and ``7`` stay different keys, as the job reads a
    declared string column). The job checks again, in case the table changed since.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.dataset as pads

    if not table.public:
        raise GatewayValidationError(f"data set {table.name!r} is not a public table")
    try:
        fs, root = filesystem_of(table.path)
        if table.format is DataFormat.CSV:
            convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in on})
            fmt: pads.FileFormat = pads.CsvFileFormat(convert_options=convert)
        else:
            fmt = pads.ParquetFileFormat()
        keys = pads.dataset(root, filesystem=fs, format=fmt, partitioning="hive").to_table(columns=list(on))
    except (OSError, pa.ArrowException) as exc:
        raise DataNotFoundError(
            f"cannot read public table {table.name!r} at {table.path}: {exc}; ask the operator to check it"
        ) from None
    keys = keys.drop_null()
    distinct = keys.group_by(list(on)).aggregate([]).num_rows
    if distinct != keys.num_rows:
        raise GatewayValidationError(
            f"public table {table.name!r} holds some {', '.join(on)} combination more than once, so a lookup "
            "join (one match per row) does not fit it; join with matches: many to count every match (the "
            "noise then grows with the largest number of matches), or ask the operator to deduplicate it"
        )
