"""Live state and history: finished claims leave the live state in the commit that finishes them, read
back identically from history; retries find them; a crash between history append and live commit
neither loses nor doubles a record; a format-1 ledger upgrades on its first write."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gateway.core import ledger as core
from gateway.core.claims import ClaimState
from gateway.errors import DuplicateSubmissionError, LedgerConflictError
from gateway.ledger import FileLedgerStore
from gateway.ledger.base import full_view
from tests.ledger.support import FileRunLauncher, check_books, gateway_for, setup_ledger, spec

FIXTURE = Path(__file__).parent / "fixtures" / "format1-ledger"


def finished_one(make_store, tmp_path):
    launcher = FileRunLauncher(tmp_path / "runs")
    gw = gateway_for(setup_ledger(make_store()).store, launcher)
    claim = gw.submit(spec("0.3", "retry-me"))
    launcher.finish_all()
    gw.schedule()
    return gw, claim.id


def test_a_finished_claim_moves_to_history_and_reads_back_identically(make_store, tmp_path):
    gw, claim_id = finished_one(make_store, tmp_path)
    store = make_store()
    done = gw.status(claim_id)
    assert done.state is ClaimState.SUCCEEDED and done.result
    if True:
        assert claim_id not in store.load().claims  # the live state holds only unfinished claims
        assert store.history_claim(claim_id) == done
    fresh = gateway_for(make_store(), FileRunLauncher(tmp_path / "runs"))
    assert fresh.status(claim_id) == done and fresh.result(claim_id) == done
    assert [c.id for c in fresh.submissions()] == [claim_id]
    assert [e.kind for e in fresh.audit() if e.submission_id == claim_id] == [
        "submitted",
        "granted",
        "launched",
        "charged",
    ]
    check_books(full_view(store), store.audit())


def test_a_retry_after_the_claim_finished_returns_the_same_submission(make_store, tmp_path):
    gw, claim_id = finished_one(make_store, tmp_path)
    events = len(make_store().audit())
    again = gateway_for(make_store(), FileRunLauncher(tmp_path / "runs")).submit(spec("0.3", "retry-me"))
    assert again.id == claim_id and again.state is ClaimState.SUCCEEDED
    assert len(make_store().audit()) == events  # nothing charged, nothing recorded again
    with pytest.raises(DuplicateSubmissionError):
        gw.submit(spec("0.4", "retry-me"))


def test_a_store_refuses_a_new_claim_under_a_finished_claims_id(make_store, tmp_path):
    gw, claim_id = finished_one(make_store, tmp_path)
    if False:
        pytest.skip("this store keeps finished claims live: the live version check covers it")
    store = make_store()
    state = store.load()
    claim = core.prepare_claim(state, spec("0.3", "retry-me"), gw.clock(), claim_id)
    new, events = core.arrive(state, claim, gw.clock())
    with pytest.raises(LedgerConflictError):
        store.commit(core.diff(state, new, events))


def test_a_crash_between_history_append_and_live_commit_loses_and_doubles_nothing(tmp_path, monkeypatch):
    store = FileLedgerStore(tmp_path / "ledger")
    launcher = FileRunLauncher(tmp_path / "runs")
    gw = gateway_for(setup_ledger(store).store, launcher)
    first = gw.submit(spec("0.3", "a"))
    launcher.finish_all()
    before_live = (tmp_path / "ledger" / "ledger.json").read_bytes()
    audit_before = store.audit()

    def crash(document):
        raise KeyboardInterrupt  # the process dies after the history lines are fsynced

    monkeypatch.setattr(FileLedgerStore, "_write", lambda self, document: crash(document))
    with pytest.raises(KeyboardInterrupt):
        gw.schedule()  # finishes `first`: appends its history lines, dies before the live commit
    monkeypatch.undo()
    assert (tmp_path / "ledger" / "ledger.json").read_bytes() == before_live
    (segment,) = (tmp_path / "ledger").glob("history-*.jsonl")
    assert b'"state":"succeeded"' in segment.read_bytes()  # the orphaned lines are on disk...
    reader = FileLedgerStore(tmp_path / "ledger")
    assert reader.audit() == audit_before and reader.history_claim(first.id) is None  # ...and never read
    assert reader.load().claims[first.id].state is ClaimState.RUNNING

    restarted = gateway_for(FileLedgerStore(tmp_path / "ledger"), launcher)
    assert restarted.schedule().finished == [first.id]
    reader = FileLedgerStore(tmp_path / "ledger")
    assert segment.read_bytes().count(f'"id":"{first.id}"'.encode()) == 1  # cut off, then written once
    assert [e.kind for e in reader.audit()].count("charged") == 1
    assert reader.history_claim(first.id).state is ClaimState.SUCCEEDED
    check_books(full_view(reader), reader.audit())


def test_a_format_1_ledger_upgrades_on_its_first_write(tmp_path):
    root = tmp_path / "ledger"
    shutil.copytree(FIXTURE, root)
    store = FileLedgerStore(root)
    old = store.load()
    finished = {k for k, c in old.claims.items() if c.state.is_terminal}
    assert len(finished) == 3 and len(old.claims) == 4
    audit = store.audit()
    gw = gateway_for(store, FileRunLauncher(tmp_path / "runs"))
    retried = gw.submit(old.claims[sorted(finished)[0]].spec)  # an idempotent retry: reads, writes nothing
    assert retried == old.claims[sorted(finished)[0]]
    gw.cancel(next(k for k in old.claims if k not in finished))  # the first write upgrades
    document = json.loads((root / "ledger.json").read_text())
    assert document["format"] == 2 and document["claims"] == {}
    upgraded = FileLedgerStore(root)
    for key in finished:
        assert upgraded.history_claim(key) == old.claims[key]
    assert upgraded.audit()[: len(audit)] == audit and upgraded.audit()[-1].kind == "cancelled"
    assert len(gw.submissions()) == 4
    again = gw.submit(old.claims[sorted(finished)[1]].spec)
    assert again == old.claims[sorted(finished)[1]]
    check_books(full_view(upgraded), upgraded.audit())


def test_a_format_1_s3_document_upgrades_on_its_first_write(moto_inprocess, tmp_path):
    import boto3

    from gateway.ledger.s3 import S3LedgerStore
    from tests.ledger.conftest import BUCKET

    s3 = boto3.client("s3")
    document = (FIXTURE / "ledger.json").read_bytes()
    commit = json.loads(document)["commit"]
    s3.put_object(Bucket=BUCKET, Key="old/ledger.json", Body=document)
    for line in (FIXTURE / "audit.jsonl").read_text().splitlines():  # what the format-1 S3 store copied out
        entry = json.loads(line)
        if entry["commit"] < commit:
            s3.put_object(Bucket=BUCKET, Key=f"old/audit/{entry['commit']:012d}.json", Body=json.dumps(entry["events"]))
    store = S3LedgerStore(BUCKET, "old")
    old = store.load()
    finished = sorted(k for k, c in old.claims.items() if c.state.is_terminal)
    audit = store.audit()
    assert len(finished) == 3 and audit == FileLedgerStore(FIXTURE).audit()
    gw = gateway_for(store, FileRunLauncher(tmp_path / "runs"))
    gw.cancel(next(k for k in old.claims if k not in finished))  # the first write upgrades
    assert json.loads(s3.get_object(Bucket=BUCKET, Key="old/ledger.json")["Body"].read())["claims"] == {}
    fresh = S3LedgerStore(BUCKET, "old")
    for key in finished:
        assert fresh.history_claim(key) == old.claims[key]
        assert gw.submit(old.claims[key].spec) == old.claims[key]  # idempotent retries still hold
    assert fresh.audit()[: len(audit)] == audit and fresh.audit()[-1].kind == "cancelled"
    assert len(gw.submissions()) == 4
    check_books(full_view(fresh), fresh.audit())


def test_a_dynamodb_table_written_before_the_split_moves_finished_claims_to_history(moto_inprocess, tmp_path):
    import boto3

    from gateway.ledger.dynamodb import LEDGER, DynamoDBLedgerStore

    store = DynamoDBLedgerStore("old")
    gw = gateway_for(setup_ledger(store).store, FileRunLauncher(tmp_path / "runs"))
    old = FileLedgerStore(FIXTURE).load()
    finished = sorted(k for k, c in old.claims.items() if c.state.is_terminal)
    client = boto3.client("dynamodb")
    for key in finished:  # finished claims as the store wrote them before the split: live items
        claim = old.claims[key]
        client.put_item(
            TableName="old",
            Item={
                "pk": {"S": LEDGER},
                "sk": {"S": f"claim#{key}"},
                "doc": {"S": json.dumps(claim.to_json())},
                "version": {"N": str(claim.version)},
                "state": {"S": claim.state.value},
            },
        )
    fresh = DynamoDBLedgerStore("old")
    assert fresh.load().claims == {}  # a load never hands finished claims to scheduling
    assert all(fresh.history_claim(key) == old.claims[key] for key in finished)
    gw.submit(spec("0.1", "new"))  # commits move the finished claims out of the live partition
    live = client.query(
        TableName="old", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": LEDGER}}
    )["Items"]
    assert not any(item["sk"]["S"].removeprefix("claim#") in finished for item in live)
    fresh = DynamoDBLedgerStore("old")
    assert all(fresh.history_claim(key) == old.claims[key] for key in finished)
    assert len({c.id for c in fresh.history_claims()} & set(finished)) == 3


def test_s3_a_crash_after_copying_out_history_before_the_live_swap_loses_and_doubles_nothing(moto_inprocess, tmp_path):
    from botocore.exceptions import EndpointConnectionError

    from gateway.errors import LedgerUnavailableError
    from gateway.ledger.s3 import S3LedgerStore
    from tests.ledger.conftest import BUCKET

    store = S3LedgerStore(BUCKET, "crash")
    launcher = FileRunLauncher(tmp_path / "runs")
    gw = gateway_for(setup_ledger(store).store, launcher)
    first = gw.submit(spec("0.3", "a"))
    launcher.finish_all()
    gw.schedule()  # finishes `first`: its claim sits in the live document's outbox
    assert store.history_claim(first.id).state is ClaimState.SUCCEEDED
    audit = store.audit()
    put = store.client.put_object

    def crash_on_swap(**kwargs):
        if kwargs["Key"].endswith("ledger.json"):
            raise EndpointConnectionError(endpoint_url="s3://down")  # the process dies here
        return put(**kwargs)

    store.client.put_object = crash_on_swap
    with pytest.raises(LedgerUnavailableError):
        gw.submit(spec("0.2", "b"), schedule=False)  # copies out the outbox, then cannot swap
    store.client.put_object = put
    store.client.head_object(Bucket=BUCKET, Key=f"crash/claims/{first.id}.json")  # copied out before the crash
    fresh = S3LedgerStore(BUCKET, "crash")
    assert fresh.audit() == audit and fresh.history_claim(first.id).state is ClaimState.SUCCEEDED
    gw2 = gateway_for(fresh, launcher)
    gw2.submit(spec("0.2", "b"), schedule=False)  # copies out again (already there: skipped), swaps
    gw2.submit(spec("0.1", "c"), schedule=False)
    fresh = S3LedgerStore(BUCKET, "crash")
    kinds = [(e.kind, e.submission_id) for e in fresh.audit()]
    assert len(kinds) == len(set(kinds)) and kinds[: len(audit)] == [(e.kind, e.submission_id) for e in audit]
    assert [c.id for c in fresh.history_claims()] == [first.id]
    check_books(full_view(fresh), fresh.audit())
