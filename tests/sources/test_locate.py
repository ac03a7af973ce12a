"""Registration and submission never read data rows; hostile paths get a clear error, never a hang."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gateway.cli.main import main
from gateway.core.datasets import BlockPeriod, ColumnType, DataFormat, Dataset
from gateway.errors import DataNotFoundError, GatewayValidationError
from gateway.sources import locate
from gateway.sources.declared import parse_schema
from gateway.sources.files import inspect_columns

SECRET = "SECRET-ROW-4242"
DAYS = [dt.date(2026, 10, 2), dt.date(2026, 10, 3)]


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DPGW_LEDGER", str(tmp_path / "ledger"))
    assert main(["init"]) == 0
    return tmp_path / "ledger"


def add(capsys: pytest.CaptureFixture[str], path: str, *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["datasets", "add", "d", "--path", path, "--time-column", "day", *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize(
    ("path", "fmt", "message"),
    [
        ("/etc/passwd", "csv", "not a csv data set"),
        ("/etc/passwd", "parquet", "not a parquet data set"),
        ("/dev/zero", "csv", "neither a regular file nor a directory"),
        ("/dev/zero", "parquet", "neither a regular file nor a directory"),
    ],
)
def test_hostile_paths_are_refused_with_exit_2(
    ledger: Path, capsys: pytest.CaptureFixture[str], path: str, fmt: str, message: str
) -> None:
    code, out = add(capsys, path, "--format", fmt, "--schema", "day:date")
    assert code == 2, out
    assert message in out and "Traceback" not in out
    assert "root:" not in out  # nothing of /etc/passwd's content


def test_a_fifo_is_refused_without_opening_it(ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # opening it for reading would block forever
    code, out = add(capsys, str(fifo), "--format", "csv", "--schema", "day:date")
    assert code == 2 and "neither a regular file nor a directory" in out


def test_a_directory_that_is_not_a_data_set_is_refused(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("hello")
    for fmt in ("csv", "parquet"):
        code, out = add(capsys, str(folder), "--format", fmt, "--schema", "day:date")
        assert code == 2 and "is not a" in out and "no ." in out, out


def test_csv_needs_a_declared_schema_and_its_rows_are_never_read(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "events.csv"
    data.write_text(f'day,v\n"{SECRET},unterminated\n2026-10-02,1\n')
    import pyarrow.csv

    def no_rows(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the gateway opened CSV rows")

    monkeypatch.setattr(pyarrow.csv, "open_csv", no_rows)
    monkeypatch.setattr(pyarrow.csv, "read_csv", no_rows)
    code, out = add(capsys, str(data), "--format", "csv")
    assert code == 2 and "declared schema" in out and SECRET not in out
    code, out = add(capsys, str(data), "--format", "csv", "--schema", "day:date,v:double", "--json")
    assert code == 0, out
    assert json.loads(out)["columns"] == {"day": "date", "v": "double"}
    assert SECRET not in out


def test_a_declared_schema_overrides_parquet_types_by_existing_names(
    ledger: Path, sales: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = add(capsys, sales.parquet.path, "--schema", "visits:double", "--json")
    assert code == 0, out
    columns = json.loads(out)["columns"]
    assert columns["visits"] == "double" and columns["amount"] == "double" and columns["day"] == "date"
    code, out = add(capsys, sales.parquet.path, "--schema", "price:double")
    assert code == 2 and "price" in out


@pytest.mark.parametrize(
    ("text", "message"),
    [("day", "col:type"), ("day:datetime", "unknown type"), ("a:string,a:integer", "twice"), (":string", "col:type")],
)
def test_bad_schemas_are_refused(text: str, message: str) -> None:
    with pytest.raises(GatewayValidationError, match=message):
        parse_schema(text)


def test_schemas_parse_in_order() -> None:
    assert list(parse_schema("b:string, a:INTEGER")) == ["b", "a"]
    assert parse_schema("b:string")["b"] is ColumnType.STRING


def test_csv_inspection_only_locates(sales: Any) -> None:
    assert inspect_columns(sales.csv.path, DataFormat.CSV) == {}


def _dataset(path: str) -> Dataset:
    return Dataset(
        name="d",
        path=path,
        format=DataFormat.PARQUET,
        time_column="day",
        columns={"day": ColumnType.DATE, "v": ColumnType.DOUBLE},
    )


def test_submission_checks_the_granted_partitions_by_name(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "day=2026-10-02").mkdir(parents=True)
    (root / "day=2026-10-02" / "part-0.parquet").write_bytes(b"not read")
    locate.check_granted_partitions(_dataset(str(root)), DAYS[:1])
    with pytest.raises(DataNotFoundError, match="2026-10-03"):
        locate.check_granted_partitions(_dataset(str(root)), DAYS)
    with pytest.raises(DataNotFoundError, match="no data at"):
        locate.check_granted_partitions(_dataset(str(tmp_path / "gone")), DAYS)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "part-0.parquet").write_bytes(b"x")
    locate.check_granted_partitions(_dataset(str(flat)), DAYS)  # not partitioned by day: the path exists


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="data")
        yield client


def test_s3_partitions_are_checked_by_listing(s3: Any) -> None:
    s3.put_object(Bucket="data", Key="events/day=2026-10-02/part-0.parquet", Body=b"x")
    locate.check_granted_partitions(_dataset("s3://data/events"), DAYS[:1])
    with pytest.raises(DataNotFoundError, match="2026-10-03"):
        locate.check_granted_partitions(_dataset("s3://data/events/"), DAYS)
    with pytest.raises(DataNotFoundError, match="no data at"):
        locate.check_granted_partitions(_dataset("s3://data/nothing"), DAYS)
    s3.put_object(Bucket="data", Key="flat/part-0.parquet", Body=b"x")
    locate.check_granted_partitions(_dataset("s3://data/flat"), DAYS)


def _version(path: str, label: str) -> Dataset:
    snapshot = Dataset(
        name="people",
        path=path,
        format=DataFormat.PARQUET,
        block_period=BlockPeriod.VERSION,
        columns={"user": ColumnType.STRING},
    )
    return snapshot.model_copy(update={"path": snapshot.version_path(label)})


def test_a_snapshot_version_is_its_own_directory_not_a_prefix_of_another(tmp_path: Path, s3: Any) -> None:
    (tmp_path / "version=v10").mkdir()
    (tmp_path / "version=v1").write_bytes(b"a file, not a version directory")
    with pytest.raises(DataNotFoundError, match="no data at"):
        locate.check_granted_partitions(_version(str(tmp_path), "v1"), [])
    locate.check_granted_partitions(_version(str(tmp_path), "v10"), [])
    s3.put_object(Bucket="data", Key="people/version=v10/part-0.parquet", Body=b"x")
    locate.check_granted_partitions(_version("s3://data/people", "v10"), [])
    with pytest.raises(DataNotFoundError, match="no data at"):
        locate.check_granted_partitions(_version("s3://data/people/", "v1"), [])  # version=v10 is not version=v1
