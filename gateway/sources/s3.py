"""Schema inspection of data sets in S3 (``s3://bucket/prefix``), for jobs that run on Glue or EMR.

Same rules as the local inspector (``gateway.sources.files``): Parquet footers only, never rows; a CSV
data set is only located (its schema is declared); hive partition values that are all ISO dates are
typed as dates. pyarrow's S3 filesystem uses the usual AWS credential chain and honours
``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import pyarrow.dataset as pads
import pyarrow.fs as pafs

from gateway.core.datasets import ColumnType, DataFormat
from gateway.errors import DataNotFoundError
from gateway.sources.files import columns_of, partition_values
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
            return {}
        schema = pads.dataset(
            files, filesystem=fs, format="parquet", partitioning="hive", partition_base_dir=root.rstrip("/")
        ).schema
        partitions = partition_values(file[len(root.rstrip("/")) + 1 :] for file in files)
    except OSError as exc:
        raise DataNotFoundError(f"cannot read the schema of {path}: {exc}") from exc
    return columns_of(schema, partitions, path)


def inspect_any_columns(path: str, fmt: DataFormat) -> dict[str, ColumnType]:
    """Local paths and ``file://`` through the local inspector, ``s3://`` through S3."""
    if path.startswith("s3://"):
        return inspect_s3_columns(path, fmt)
    return inspect_local_columns(path, fmt)
