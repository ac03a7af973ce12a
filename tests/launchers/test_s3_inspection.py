"""Data sets in S3 are registered from their metadata, with the same schema the local inspector reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from gateway.core.datasets import DataFormat
from gateway.errors import DataNotFoundError
from gateway.sources.files import inspect_columns
from gateway.sources.s3 import inspect_any_columns

BUCKET = "dpgw-inspect"


def upload(client: Any, root: Path, prefix: str) -> None:
    for file in root.rglob("*"):
        if file.is_file():
            client.upload_file(str(file), BUCKET, f"{prefix}/{file.relative_to(root).as_posix()}")


def test_s3_schemas_match_the_local_ones(moto_server: str, sales: Any) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    upload(s3, Path(sales.parquet.path), "data/sales-parquet")
    upload(s3, Path(sales.csv.path), "data/sales-csv")
    for local, uri, fmt in (
        (sales.parquet.path, f"s3://{BUCKET}/data/sales-parquet", DataFormat.PARQUET),
        (sales.csv.path, f"s3://{BUCKET}/data/sales-csv/", DataFormat.CSV),
    ):
        assert inspect_any_columns(uri, fmt) == inspect_columns(local, fmt)
    assert inspect_any_columns(f"s3://{BUCKET}/data/sales-parquet", DataFormat.PARQUET)["day"] == "date"
    with pytest.raises(DataNotFoundError, match=r"no \.parquet files"):
        inspect_any_columns(f"s3://{BUCKET}/data/nothing-here", DataFormat.PARQUET)
