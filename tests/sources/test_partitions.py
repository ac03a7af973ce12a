"""Partition days come from directory names only, locally and on S3 (moto server)."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from gateway.errors import DataNotFoundError
from gateway.sources.partitions import days_in, partition_days, runs

D = dt.date


def test_days_in_reads_only_the_time_column_and_iso_days():
    dirs = [
        "/day=2026-10-02",
        "/day=2026-10-01/",
        "/region=north/day=2026-10-05",
        "/dayx=2026-10-03",
        "/day=not-a-day",
        "/hour=2026-10-04",
        "/other",
    ]
    assert days_in(dirs, "day") == [D(2026, 10, 1), D(2026, 10, 2), D(2026, 10, 5)]


def test_runs_groups_consecutive_days():
    days = [D(2026, 10, 5), D(2026, 10, 1), D(2026, 10, 2), D(2026, 10, 3)]
    assert runs(days) == [(D(2026, 10, 1), D(2026, 10, 3)), (D(2026, 10, 5), D(2026, 10, 5))]
    assert runs([]) == []


def test_local_partition_days_never_open_a_file(tmp_path: Path):
    for day in ("2026-10-01", "2026-10-02", "2026-10-04"):
        (tmp_path / f"day={day}").mkdir()
        (tmp_path / f"day={day}" / "part-0.parquet").write_bytes(b"not parquet: never read")
    assert partition_days(str(tmp_path), "day") == [D(2026, 10, 1), D(2026, 10, 2), D(2026, 10, 4)]
    assert partition_days(str(tmp_path), "ts") == []
    with pytest.raises(DataNotFoundError, match="no data at"):
        partition_days(str(tmp_path / "missing"), "day")


def test_s3_partition_days(monkeypatch: pytest.MonkeyPatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        for name, value in {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(name, value)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="parts")
        for key in ("data/p/day=2026-10-01/a.parquet", "data/p/day=2026-10-03/b.parquet", "data/q/day=2026-10-09/c"):
            s3.put_object(Bucket="parts", Key=key, Body=b"x")
        assert partition_days("s3://parts/data/p", "day") == [D(2026, 10, 1), D(2026, 10, 3)]
        with pytest.raises(DataNotFoundError):
            partition_days("s3://parts/data/none", "day")
    finally:
        server.stop()
