"""moto-backed AWS for launcher tests: fake credentials, one bucket, injected clients, no real sleeping."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto as a server on a free local port, reached by every process through ``AWS_ENDPOINT_URL``
    (child Python processes, and pyarrow's own S3 client)."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    try:
        yield endpoint
    finally:
        server.stop()
