"""A damaged ledger is a clear LedgerError naming it; a damaged audit record is skipped with a warning that
says where, never fatal; a --ledger that is no directory is refused with exit 3."""

from __future__ import annotations

import json
import warnings

import pytest

from gateway.cli.main import main
from gateway.errors import LedgerError
from gateway.ledger import FileLedgerStore
from gateway.ledger.base import DamagedAuditWarning
from tests.ledger.conftest import BUCKET
from tests.ledger.support import FileRunLauncher, gateway_for, setup_ledger, spec


def running(store, root):
    return gateway_for(store, FileRunLauncher(root / "runs"))


@pytest.fixture
def ledger_dir(tmp_path):
    store = FileLedgerStore(tmp_path / "ledger")
    setup_ledger(store)
    running(store, tmp_path).submit(spec("0.3", "one"))
    return tmp_path / "ledger"


def damage(document: dict, how: str) -> object:
    block = next(iter(document["blocks"]))
    claim = next(iter(document["claims"]))
    if how == "list":
        return []
    if how == "null":
        return None
    if how == "blocks is a list":
        return {**document, "blocks": []}
    if how == "settings is a list":
        return {**document, "settings": [1]}
    if how == "bad decimal":
        document["blocks"][block]["capacity"]["epsilon"] = "one"
        return document
    if how == "decimal is a map":
        document["blocks"][block]["unlocked"] = {"epsilon": {"x": 1}}
        return document
    if how == "missing key":
        del document["claims"][claim]["state"]
        return document
    if how == "unknown state":
        document["claims"][claim]["state"] = "exploded"
        return document
    if how == "negative account":
        document["blocks"][block]["consumed"]["epsilon"] = "-1"
        return document
    if how == "record under another key":
        document["blocks"]["elsewhere/2026-01-01"] = document["blocks"].pop(block)
        return document
    if how == "bad date":
        document["blocks"][block]["day"] = "2026-02-30"
        return document
    if how == "spec is a string":
        document["claims"][claim]["spec"] = "[/red]"
        return document
    if how == "commit is text":
        return {**document, "commit": "many"}
    raise AssertionError(how)


HOW = [
    "list",
    "null",
    "blocks is a list",
    "settings is a list",
    "bad decimal",
    "decimal is a map",
    "missing key",
    "unknown state",
    "negative account",
    "record under another key",
    "bad date",
    "spec is a string",
    "commit is text",
]


@pytest.mark.parametrize("how", HOW)
def test_a_ledger_document_of_the_wrong_shape_is_a_clear_ledger_error(ledger_dir, how, capsys):
    path = ledger_dir / "ledger.json"
    path.write_text(json.dumps(damage(json.loads(path.read_text()), how)))
    with pytest.raises(LedgerError, match=r"ledger\.json is unreadable"):
        FileLedgerStore(ledger_dir).load()
    capsys.readouterr()
    for args in (["status"], ["blocks", "list"], ["schedule", "--json"], ["audit"]):
        code = main([*args, "--ledger", str(ledger_dir)])
        out, err = capsys.readouterr()
        assert code == 3 and "Traceback" not in out + err, (args, out, err)
        assert "unreadable" in out + err


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000])
def test_a_ledger_document_that_is_not_json_is_a_clear_ledger_error(ledger_dir, raw):
    (ledger_dir / "ledger.json").write_bytes(raw)
    with pytest.raises(LedgerError, match="unreadable"):
        FileLedgerStore(ledger_dir).load()


def test_torn_and_corrupt_history_lines_are_cut_off_or_skipped_with_their_line_number(ledger_dir, capsys):
    (segment,) = ledger_dir.glob("history-*.jsonl")
    good = segment.read_bytes()
    segment.write_bytes(good + b'{"commit": 99, "events": [{"at": "2026')  # a writer killed mid-line
    store = FileLedgerStore(ledger_dir)
    running(store, ledger_dir.parent).submit(spec("0.2", "two"))  # cuts the torn tail off: never read
    after = segment.read_bytes()
    assert after.startswith(good) and b'"commit": 99' not in after
    lines = len(after.splitlines())
    # Damage inside the committed range (a bad disk): each damaged line is skipped with its line number.
    damaged = after.splitlines()
    damaged[1] = b"#" * len(damaged[1])  # same length: the committed size still ends where it did
    segment.write_bytes(b"\n".join(damaged) + b"\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        events = store.audit()
    assert [str(w.message).split(" line ")[1].split(":")[0] for w in caught] == ["2"]
    assert all(w.category is DamagedAuditWarning for w in caught) and lines > 2
    with open(segment, "ab") as handle:  # bytes past the committed size are an interrupted commit's: ignored
        handle.write(b"garbage\n[]\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert store.audit() == events
    assert len(caught) == 1  # still only the damaged line 2

    capsys.readouterr()
    assert main(["audit", "--json", "--ledger", str(ledger_dir)]) == 0
    out, err = capsys.readouterr()
    assert len(json.loads(out)) == len(events)
    assert err.count("warning: skipped a damaged audit record") == 1 and "Traceback" not in err


def test_stale_temp_files_of_a_killed_writer_are_removed_by_the_next_commit(ledger_dir):
    stale = ledger_dir / ".ledger-killed.tmp"
    stale.write_text("half a snapshot")
    running(FileLedgerStore(ledger_dir), ledger_dir.parent).submit(spec("0.2", "two"))
    assert not stale.exists()
    assert not list(ledger_dir.glob(".ledger-*.tmp"))


@pytest.mark.parametrize("where", ["file", "/dev/null", "/proc/self", "/proc/gone/x", "/proc/self/status/x"])
@pytest.mark.parametrize("command", [["init"], ["status"], ["audit", "--json"], ["blocks", "list", "--json"]])
def test_a_ledger_path_that_is_no_usable_directory_exits_3(tmp_path, where, command, capsys):
    if where == "file":
        where = str(tmp_path / "plain")
        (tmp_path / "plain").write_text("not a ledger")
    code = main([*command, "--ledger", where])
    out, err = capsys.readouterr()
    assert code == 3 and "Traceback" not in out + err
    if "--json" in command:
        assert set(json.loads(out)) == {"error"}


@pytest.mark.parametrize("kind", ["s3", "dynamodb"])
def test_aws_stores_skip_a_damaged_audit_record_with_a_warning(kind, moto_inprocess, tmp_path):
    import boto3

    from gateway.ledger.dynamodb import DynamoDBLedgerStore
    from gateway.ledger.s3 import S3LedgerStore

    store = S3LedgerStore(BUCKET, "corrupt") if kind == "s3" else DynamoDBLedgerStore("corrupt")
    setup_ledger(store)
    gw = running(store, tmp_path)
    gw.submit(spec("0.2", "one"))
    gw.submit(spec("0.3", "two"))  # copies the earlier commits' events out to their own objects (S3)
    before = len(store.audit())
    if kind == "s3":
        s3 = boto3.client("s3", region_name="us-east-1")
        key = s3.list_objects_v2(Bucket=BUCKET, Prefix="corrupt/audit/")["Contents"][0]["Key"]
        s3.put_object(Bucket=BUCKET, Key=key, Body=b'[{"at": "torn')
    else:
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        item = ddb.query(
            TableName="corrupt", KeyConditionExpression="pk = :a", ExpressionAttributeValues={":a": {"S": "audit"}}
        )["Items"][0]
        ddb.put_item(TableName="corrupt", Item={**item, "events": {"S": "{not json"}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        events = store.audit()
    assert len(caught) == 1 and caught[0].category is DamagedAuditWarning
    assert 0 < len(events) < before


@pytest.mark.parametrize(("where", "code"), [("a\x00b", 2), ("x" * 5000, 3), ("/proc/self/status", 3)])
def test_a_ledger_path_that_cannot_be_a_path_is_a_clear_error(where, code, capsys):
    for command in (["init"], ["status", "--json"]):
        assert main([*command, "--ledger", where]) == code
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err and "internal error" not in out + err


@pytest.mark.parametrize("doc", ["{not json", "[]", '{"dataset": "events"}'])
def test_a_damaged_dynamodb_record_is_a_clear_ledger_error(doc, moto_inprocess):
    import boto3

    from gateway.ledger.dynamodb import DynamoDBLedgerStore

    setup_ledger(DynamoDBLedgerStore("damaged"))
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    key = {"pk": {"S": "ledger"}, "sk": {"S": "block#events/2026-10-01"}}
    item = ddb.get_item(TableName="damaged", Key=key)["Item"]
    ddb.put_item(TableName="damaged", Item={**item, "doc": {"S": doc}, "version": {"N": "7"}})
    with pytest.raises(LedgerError, match="unreadable record 'block#events/2026-10-01'"):
        DynamoDBLedgerStore("damaged").load()
