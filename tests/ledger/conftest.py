"""Stores for the contract suite, and moto made linearizable.

moto 5.2.5 does not hold a lock while it evaluates a condition and writes (see
../shared/notes/aws-local-testing.md): racing conditional writes can both succeed, which real S3 and
DynamoDB never allow. ``serialize_moto`` puts one global lock around moto's request dispatch (in
process and in server mode), so a concurrency test checks the gateway, not moto's races. Setting
``DPGW_TEST_MOTO_UNSERIALIZED=1`` leaves moto unlocked, to see such a test fail.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator

import pytest

from gateway.ledger import FileLedgerStore, InMemoryLedgerStore

REGION = "us-east-1"
BUCKET = "dpgw-ledger"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
_MOTO_LOCK = threading.RLock()
_serialized = False


def serialize_moto() -> None:
    """Wrap moto's in-process and server dispatch in one lock (idempotent)."""
    global _serialized
    if _serialized or os.environ.get("DPGW_TEST_MOTO_UNSERIALIZED") == "1":
        return
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    process_request = BotocoreStubber.process_request
    dispatch = DomainDispatcherApplication.__call__

    def locked_process_request(self, request):
        with _MOTO_LOCK:
            return process_request(self, request)

    def locked_dispatch(self, environ, start_response):
        with _MOTO_LOCK:
            return list(dispatch(self, environ, start_response))  # the body is produced under the lock too

    BotocoreStubber.process_request = locked_process_request
    DomainDispatcherApplication.__call__ = locked_dispatch
    _serialized = True


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def moto_inprocess(aws_env: None) -> Iterator[None]:
    from moto import mock_aws

    serialize_moto()
    with mock_aws():
        import boto3

        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        yield


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server on loopback for the session; tests keep apart by bucket prefix and table name."""
    from moto.server import ThreadedMotoServer

    serialize_moto()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def server_env(moto_server: str, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 (here and in child processes) at the moto server, and make the bucket."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    import boto3

    s3 = boto3.session.Session().client("s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        s3.create_bucket(Bucket=BUCKET)
    return moto_server


STORE_KINDS = ["memory", "file", "s3", "dynamodb"]


@pytest.fixture(params=STORE_KINDS)
def make_store(request: pytest.FixtureRequest, tmp_path):
    """A factory of store instances that all open the same ledger (a second gateway, a second CLI)."""
    kind = request.param
    if kind in ("s3", "dynamodb"):
        request.getfixturevalue("moto_inprocess")
    memory = InMemoryLedgerStore()

    def make():
        if kind == "memory":
            return memory
        if kind == "file":
            return FileLedgerStore(tmp_path / "ledger")
        if kind == "s3":
            from gateway.ledger.s3 import S3LedgerStore

            return S3LedgerStore(BUCKET, "teams/a")
        from gateway.ledger.dynamodb import DynamoDBLedgerStore

        return DynamoDBLedgerStore("dpgw-ledger")

    make.kind = kind
    return make
