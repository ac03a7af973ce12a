"""The days a hive-partitioned data set holds, read from its directory names (metadata, never rows).

``dpgw datasets add --add-blocks`` uses it to add one privacy block per day found: a directory
``<time_column>=YYYY-MM-DD`` anywhere under the data set's root is a day. Works on local paths,
``file://`` and ``s3://`` (pyarrow's filesystems; S3 honours ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from gateway.errors import DataNotFoundError

if TYPE_CHECKING:
    import pyarrow.fs as pafs


def filesystem_of(path: str) -> tuple[pafs.FileSystem, str]:
    """pyarrow's filesystem for a local path, ``file://`` or ``s3://`` URI, and the path within it.

    pyarrow is imported on first use: importing it costs every dpgw call a quarter of a second.
    """
    import pyarrow.fs as pafs

    if "://" in path:
        return pafs.FileSystem.from_uri(path)
    return pafs.LocalFileSystem(), path


def partition_days(path: str, time_column: str) -> list[dt.date]:
    """Sorted distinct days of the ``time_column=YYYY-MM-DD`` partition directories under ``path``."""
    import pyarrow.fs as pafs

    try:
        fs, root = filesystem_of(path)
        root = root.rstrip("/") or "/"
        if fs.get_file_info(root).type == pafs.FileType.NotFound:
            raise DataNotFoundError(f"no data at {path}; check the path (it must exist when registering)")
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    except OSError as exc:
        raise DataNotFoundError(f"cannot list {path}: {exc}") from exc
    return days_in((info.path[len(root) :] for info in infos if info.type == pafs.FileType.Directory), time_column)


def days_in(relative_dirs: Iterable[str], time_column: str) -> list[dt.date]:
    """The days named by ``time_column=YYYY-MM-DD`` components of the given directory paths."""
    prefix = f"{time_column}="
    days: set[dt.date] = set()
    for directory in relative_dirs:
        name = directory.rstrip("/").rsplit("/", 1)[-1]
        if name.startswith(prefix):
            try:
                days.add(dt.date.fromisoformat(name[len(prefix) :]))
            except ValueError:
                continue  # not a day partition (e.g. a timestamp value); such data sets add blocks by range
    return sorted(days)


def runs(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days grouped into inclusive (first, last) ranges: 1,2,3,5 -> (1,3), (5,5)."""
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days):
        if ranges and day == ranges[-1][1] + dt.timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges
