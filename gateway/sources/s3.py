"""Schema inspection of data sets in S3 (``s3://bucket/prefix``), for jobs that run on Glue or EMR.

Same rules as the local inspector (``gateway.sources.files``): Parquet footers or the CSV header only,
never rows; hive partition values that are all ISO dates are typed as dates. pyarrow's S3 filesystem
uses the usual AWS credential chain and honours ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from gateway.core.datasets import ColumnType, DataFormat
from gateway.errors import DataNotFoundError, GatewayValidationError
from gateway.sources.files import _column_type, _is_iso_date
from gateway.sources.files import inspect_columns as inspect_local_columns


def inspect_s3_columns(path: str, fmt: DataFormat) -> dict[str, ColumnType]:
    try:
        fs, root = pafs.FileSystem.from_uri(path)
        infos = fs.get_file_info(pafs.FileSelector(root.rstrip("/"), recursive=True, allow_not_found=True))
    except OSError as exc:
        raise DataNotFoundError(f"cannot list {path}: {exc}") from exc
    suffix = ".csv" if fmt is DataFormat.CSV else ".parquet"
    files = sorted(i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(suffix))
    if not files:
        raise DataNotFoundError(f"no {suffix} files under {path}; check the path (it must exist when registering)")
    partitions: dict[str, set[str]] = {}
    try:
        if fmt is DataFormat.CSV:
            with fs.open_input_stream(files[0]) as stream, pacsv.open_csv(stream) as reader:
                schema = reader.schema
        else:
            schema = pads.dataset(
                files, filesystem=fs, format="parquet", partitioning="hive", partition_base_dir=root.rstrip("/")
            ).schema
            for file in files:
                for part in file[len(root.rstrip("/")) + 1 :].split("/")[:-1]:
                    if "=" in part:
                        key, value = part.split("=", 1)
                        partitions.setdefault(key, set()).add(value)
    except OSError as exc:
        raise DataNotFoundError(f"cannot read the schema of {path}: {exc}") from exc
    columns: dict[str, ColumnType] = {}
    for field in schema:
        kind = _column_type(field.type)
        if field.name in partitions and all(_is_iso_date(v) for v in partitions[field.name]):
            kind = ColumnType.DATE
        if kind is not None:
            columns[field.name] = kind
    if not columns:
        raise GatewayValidationError(f"found no usable columns in {path}")
    return columns


def inspect_any_columns(path: str, fmt: DataFormat) -> dict[str, ColumnType]:
    """Local paths and ``file://`` through the local inspector, ``s3://`` through S3."""
    if path.startswith("s3://"):
        return inspect_s3_columns(path, fmt)
    return inspect_local_columns(path, fmt)
