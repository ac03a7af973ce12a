"""Where a data set is, and whether its granted partitions exist, from names and sizes only.

The gateway never reads data rows: registration reads Parquet footers (``gateway.sources.files``) or
takes a declared schema (CSV), and a submission checks only that the granted days' partitions exist
(``<root>/<time_column>=YYYY-MM-DD``, by ``stat`` or an S3 listing), or for data that is not
partitioned by day that the path exists. Anything that parses data runs in the job.

Nothing here opens a file: a device (``/dev/zero``), a FIFO or any other non-regular file is refused
by its ``stat`` before anything could block on it, and directory walks stop after ``MAX_ENTRIES``.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.core.datasets import DataFormat, Dataset
from gateway.errors import DataNotFoundError, GatewayValidationError

MAX_ENTRIES = 100_000  # directory entries looked at while searching for a first data file


def suffix_of(fmt: DataFormat) -> str:
    return ".csv" if fmt is DataFormat.CSV else ".parquet"


def local_root(path: str) -> Path:
    return Path(path.removeprefix("file://"))


def check_local_dataset(path: str, fmt: DataFormat) -> Path:
    """The path is a regular data file of the format, or a directory holding at least one such file."""
    root = local_root(path)
    try:
        info = root.stat()
    except FileNotFoundError:
        raise DataNotFoundError(f"no data at {path}; check the path (it must exist when registering)") from None
    except OSError as exc:
        raise DataNotFoundError(f"cannot look at {path} ({exc.strerror or type(exc).__name__})") from None
    suffix = suffix_of(fmt)
    if stat.S_ISREG(info.st_mode):
        if root.suffix.lower() != suffix:
            raise GatewayValidationError(
                f"{path} is not a {fmt.value} data set: a single-file data set must be a {suffix} file"
            )
        return root
    if not stat.S_ISDIR(info.st_mode):
        raise GatewayValidationError(
            f"{path} is neither a regular file nor a directory (a device, FIFO or socket); "
            f"point --path at the {fmt.value} data set's file or directory"
        )
    if _first_file(root, suffix) is None:
        raise DataNotFoundError(
            f"{path} is not a {fmt.value} data set: no {suffix} files under it; check --path and --format"
        )
    return root


def _first_file(root: Path, suffix: str) -> Path | None:
    """The first regular ``suffix`` file found under ``root`` (symlinks to directories not followed)."""
    seen = 0
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(files):
            seen += 1
            candidate = Path(folder) / name
            if name.lower().endswith(suffix) and not name.startswith((".", "_")) and candidate.is_file():
                return candidate
        seen += len(dirs)
        if seen > MAX_ENTRIES:
            raise GatewayValidationError(
                f"{root} holds more than {MAX_ENTRIES} entries before any {suffix} file; is it the data set's root?"
            )
    return None


def partition_name(dataset: Dataset, day: dt.date) -> str:
    return f"{dataset.time_column}={day.isoformat()}"


def check_granted_partitions(dataset: Dataset, days: Sequence[dt.date]) -> None:
    """The granted days' partitions exist (or, for data not partitioned by day, the data set's path; for a
    snapshot, given with the path of one version, that version's directory)."""
    if dataset.path.startswith("s3://"):
        _check_s3_partitions(dataset, days)
        return
    root = local_root(dataset.path)
    if not root.exists() or (dataset.snapshot and not root.is_dir()):
        raise DataNotFoundError(
            f"no data at {dataset.path} for data set {dataset.name!r} (was it moved?); ask the operator"
        )
    if not root.is_dir() or dataset.time_column is None or not _is_partitioned(root, dataset.time_column):
        return
    missing = [d for d in days if not (root / partition_name(dataset, d)).is_dir()]
    _raise_missing(dataset, missing)


def _is_partitioned(root: Path, time_column: str) -> bool:
    prefix = f"{time_column}="
    with os.scandir(root) as entries:
        return any(e.name.startswith(prefix) and e.is_dir(follow_symlinks=False) for e in entries)


def _raise_missing(dataset: Dataset, missing: Sequence[dt.date]) -> None:
    if missing:
        shown = ", ".join(d.isoformat() for d in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise DataNotFoundError(
            f"data set {dataset.name!r} has no partition for granted day(s) {shown} under {dataset.path}; "
            "ask the operator to restore the data before submitting"
        )


def _s3_client() -> Any:
    import boto3  # lazily: only s3:// data sets need it

    return boto3.session.Session().client("s3")


def _check_s3_partitions(dataset: Dataset, days: Sequence[dt.date], s3: Any = None) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    client = s3 or _s3_client()
    bucket, _, prefix = dataset.path.removeprefix("s3://").partition("/")
    prefix = prefix.rstrip("/")
    base = f"{prefix}/" if prefix else ""

    def any_key(under: str) -> bool:
        response = client.list_objects_v2(Bucket=bucket, Prefix=under, MaxKeys=1)
        return int(response.get("KeyCount", 0)) > 0

    try:
        if dataset.snapshot:  # the path is one version's directory: a key under it, not a sibling (version=v10)
            if not any_key(base):
                raise DataNotFoundError(f"no data at {dataset.path} for data set {dataset.name!r}; ask the operator")
            return
        if not any_key(f"{base}{dataset.time_column}="):
            if not any_key(prefix):
                raise DataNotFoundError(f"no data at {dataset.path} for data set {dataset.name!r}; ask the operator")
            return
        missing = [d for d in days if not any_key(f"{base}{partition_name(dataset, d)}/")]
    except (ClientError, BotoCoreError) as exc:
        raise DataNotFoundError(f"cannot list {dataset.path}: {exc}") from exc
    _raise_missing(dataset, missing)
