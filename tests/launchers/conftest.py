"""moto-backed AWS for launcher tests: fake credentials, one bucket, injected clients, no real sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gateway.launchers.settings import AwsSettings, EmrSettings, GlueSettings

REGION = "eu-west-1"
BUCKET = "dpgw-test-bucket"
ROLE = "arn:aws:iam::123456789012:role/dpgw-glue"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws(aws_env: None) -> Iterator[dict[str, Any]]:
    with mock_aws():
        clients = {name: boto3.client(name, region_name=REGION) for name in ("s3", "glue", "emr")}
        clients["s3"].create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield clients


@pytest.fixture
def settings() -> AwsSettings:
    return AwsSettings(
        region=REGION,
        bucket=BUCKET,
        prefix="team/dpgw",
        glue=GlueSettings(role_arn=ROLE, number_of_workers=3),
        emr=EmrSettings(cluster_id=None),
    )


class Sleeps:
    """Records the delays a retry loop asked for, instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
