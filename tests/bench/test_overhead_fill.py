"""The history bench's fast fill lands in the store's own history layout, exactly as its commits would.

The fill spreads the store's writes over threads (and on DynamoDB sends its transaction items as
BatchWriteItem), so these tests read the filled ledger back through the store's public reads.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from gateway.core.claims import ClaimState
from gateway.core.scheduling import PolicySettings
from gateway.service import Gateway

BENCH = Path(__file__).resolve().parents[2] / "bench" / "overhead.py"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def overhead():
    spec = importlib.util.spec_from_file_location("bench_overhead", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_overhead"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    from moto import mock_aws

    with mock_aws():
        import boto3

        boto3.client("s3", region_name=REGION).create_bucket(Bucket="dpgw-bench")
        yield


@pytest.mark.parametrize("kind", ["file", "s3", "dynamodb"])
def test_filled_claims_are_in_history_and_not_live(overhead, moto, kind, tmp_path) -> None:
    store, client = overhead.make_store(kind, str(tmp_path))
    gw = Gateway(
        store, {"noop": overhead.NoopLauncher()}, inspect=lambda p, f: dict(overhead.COLUMNS), default_launcher="noop"
    )
    gw.init(PolicySettings(policy="dpf-n", n=50))
    gw.add_dataset("purchases", "/bench", overhead.DataFormat.PARQUET, "day")
    gw.add_blocks("purchases", overhead.FIRST, overhead.FIRST, overhead.Budget.capacity(1))
    overhead.populate(store, client, gw, 120, 1)  # DynamoDB: three commits of at most 49 claims

    finished = store.history_claims()
    assert sorted(c.id for c in finished) == [f"h-{i:07d}" for i in range(120)]
    assert all(c.state is ClaimState.FAILED for c in finished)
    assert store.history_claim("h-0000119").detail == "x" * 600
    assert not any(key.startswith("h-") for key in store.load().claims)
    if client is not None:
        assert not client.filling and not client._pending


def test_fill_answers_absent_only_for_keys_it_never_wrote(overhead, moto) -> None:
    from botocore.exceptions import ClientError

    from gateway.ledger.aws import make_client

    client = overhead.FillClient(make_client("s3"))
    client.put_object(Bucket="dpgw-bench", Key="p/claims/a.json", Body=b"{}", IfNoneMatch="*")
    client.filling = True
    client.put_object(Bucket="dpgw-bench", Key="p/claims/b.json", Body=b"[]", IfNoneMatch="*")  # deferred
    assert client.get_object(Bucket="dpgw-bench", Key="p/claims/b.json")["Body"].read() == b"[]"  # waits for it
    with pytest.raises(ClientError, match="NoSuchKey"):
        client.get_object(Bucket="dpgw-bench", Key="p/claims/c.json")
    client.filling = False
    with pytest.raises(ClientError, match="NoSuchKey"):  # now asked of moto itself
        client.get_object(Bucket="dpgw-bench", Key="p/claims/c.json")
    assert client.get_object(Bucket="dpgw-bench", Key="p/claims/a.json")["Body"].read() == b"{}"
