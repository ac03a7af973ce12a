"""The AWS stores' error paths: which failures are retried here, which go back to the caller."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError

from gateway.core import ledger as core
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.errors import LedgerConflictError, LedgerError, LedgerUnavailableError
from gateway.ledger.aws import Backoff
from gateway.ledger.dynamodb import DynamoDBLedgerStore
from gateway.ledger.s3 import S3LedgerStore
from tests.ledger.conftest import BUCKET
from tests.ledger.support import FileRunLauncher, gateway_for, setup_ledger, spec

NO_SLEEP = Backoff(attempts=4, sleep=lambda seconds: None)


class Flaky:
    """A real (moto) client whose named call first raises the given errors, then behaves."""

    def __init__(self, client, method, errors):
        self._client, self._method, self._errors = client, method, list(errors)
        self.calls = 0

    def __getattr__(self, name):
        real = getattr(self._client, name)
        if name != self._method:
            return real

        def call(**kwargs):
            self.calls += 1
            if self._errors:
                raise self._errors.pop(0)
            return real(**kwargs)

        return call


def cancelled(*codes):
    response = {
        "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
        "CancellationReasons": [{"Code": c} for c in codes],
    }
    return ClientError(response, "TransactWriteItems")


def arrival(store):
    state = store.load()
    claim = core.prepare_claim(state, spec("0.2", "x"), core.dt.datetime.now(core.dt.UTC), launcher="files")
    new, events = core.arrive(state, claim, claim.submitted_at)
    return core.diff(state, new, events)


def test_dynamodb_retries_a_transient_transaction_conflict(moto_inprocess):
    import boto3

    setup_ledger(DynamoDBLedgerStore("t"))
    flaky = Flaky(boto3.client("dynamodb"), "transact_write_items", [cancelled("None", "TransactionConflict")])
    store = DynamoDBLedgerStore("t", client=flaky, backoff=NO_SLEEP)
    store.commit(arrival(store))
    assert flaky.calls == 2 and len(store.load().claims) == 1


def test_dynamodb_reports_a_failed_condition_as_a_conflict_at_once(moto_inprocess):
    import boto3

    setup_ledger(DynamoDBLedgerStore("t"))
    flaky = Flaky(boto3.client("dynamodb"), "transact_write_items", [cancelled("ConditionalCheckFailed", "None")])
    store = DynamoDBLedgerStore("t", client=flaky, backoff=NO_SLEEP)
    with pytest.raises(LedgerConflictError):
        store.commit(arrival(store))
    assert flaky.calls == 1


def test_dynamodb_refuses_a_query_over_more_blocks_than_one_transaction_holds(moto_inprocess, tmp_path):
    setup_ledger(DynamoDBLedgerStore("t"))
    gw = gateway_for(DynamoDBLedgerStore("t"), FileRunLauncher(tmp_path))
    gw.add_blocks("events", dt.date(2026, 10, 3), dt.date(2027, 1, 31), Budget.capacity(1))  # 123 blocks
    before = DynamoDBLedgerStore("t").load()
    assert gw.submit(spec(0.1, last=98)).state is ClaimState.RUNNING  # claim + 98 blocks + audit = 100
    with pytest.raises(LedgerError, match="query fewer blocks"):
        gw.submit(spec(0.1, last=99))
    after = DynamoDBLedgerStore("t").load()
    assert len(after.claims) == 1 and len(after.blocks) == len(before.blocks)


def test_dynamodb_gives_up_on_persistent_throttling(moto_inprocess):
    import boto3

    setup_ledger(DynamoDBLedgerStore("t"))
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "TransactWriteItems")
    flaky = Flaky(boto3.client("dynamodb"), "transact_write_items", [throttled] * 10)
    store = DynamoDBLedgerStore("t", client=flaky, backoff=NO_SLEEP)
    with pytest.raises(LedgerConflictError, match="busy"):
        store.commit(arrival(store))
    assert flaky.calls == NO_SLEEP.attempts


def test_dynamodb_access_denied_is_unavailable_not_a_conflict(moto_inprocess):
    import boto3

    setup_ledger(DynamoDBLedgerStore("t"))
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "TransactWriteItems")
    store = DynamoDBLedgerStore("t", client=Flaky(boto3.client("dynamodb"), "transact_write_items", [denied]))
    with pytest.raises(LedgerUnavailableError, match="credentials"):
        store.commit(arrival(store))


class RacedOnce:
    """An S3 client that lets another writer replace the document just before our first conditional put."""

    def __init__(self, client, race):
        self._client, self._race = client, race
        self.puts = 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def put_object(self, **kwargs):
        if "IfMatch" in kwargs:
            self.puts += 1
            if self.puts == 1:
                self._race()
        return self._client.put_object(**kwargs)


def test_s3_replays_a_change_on_a_moved_etag_when_its_records_did_not_move(moto_inprocess):
    import boto3

    setup_ledger(S3LedgerStore(BUCKET, "p"))
    note = core.AuditEvent(core.dt.datetime.now(core.dt.UTC), "note")
    client = RacedOnce(boto3.client("s3"), lambda: S3LedgerStore(BUCKET, "p").commit(core.Change(events=(note,))))
    mine = S3LedgerStore(BUCKET, "p", client=client, backoff=NO_SLEEP)
    mine.commit(arrival(mine))  # 412 on the stale ETag, re-read, its records did not move: applied
    assert client.puts == 2
    assert len(S3LedgerStore(BUCKET, "p").load().claims) == 1
    assert [e.kind for e in S3LedgerStore(BUCKET, "p").audit()][-2:] == ["note", "submitted"]


def test_s3_returns_a_conflict_when_a_record_of_the_change_moved(moto_inprocess):
    import boto3

    setup_ledger(S3LedgerStore(BUCKET, "p"))
    racer = S3LedgerStore(BUCKET, "p")
    client = RacedOnce(boto3.client("s3"), lambda: racer.commit(arrival(racer)))
    mine = S3LedgerStore(BUCKET, "p", client=client, backoff=NO_SLEEP)
    with pytest.raises(LedgerConflictError):
        mine.commit(arrival(mine))  # the same claim was created meanwhile: the caller must recompute
    assert len(S3LedgerStore(BUCKET, "p").load().claims) == 1
