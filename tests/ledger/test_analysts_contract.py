"""The analyst registry and cancellation keep the store contract on memory, a directory, S3 and DynamoDB."""

from __future__ import annotations

import json

import pytest

from gateway.core import ledger as core
from gateway.core.analysts import Role
from gateway.core.claims import ClaimState
from gateway.errors import (
    AuthenticationError,
    AuthorizationError,
    GatewayValidationError,
    LedgerConflictError,
    SubmissionNotFoundError,
)
from gateway.ledger.base import full_view
from gateway.team import Analysts
from tests.ledger.support import FileRunLauncher, check_books, gateway_for, setup_ledger, spec

ARN = "arn:aws:iam::123456789012:role/ann"


def test_analysts_are_stored_versioned_and_audited(make_store):
    gw = setup_ledger(make_store())
    ann, ann_token = Analysts(gw).add("ann", principal=ARN)
    _, ops_token = Analysts(gw).add("ops", operator=True)
    assert ann_token not in json.dumps(ann.to_json()) and ann.version == 1

    other = Analysts(gateway_for(make_store()))  # another gateway reading the same ledger
    assert other.authenticate(ann_token).name == "ann"
    assert other.authenticate(ops_token).role is Role.OPERATOR
    assert other.by_principal(ARN).name == "ann"
    with pytest.raises(AuthenticationError):
        other.authenticate(ann_token[:-1] + ("A" if ann_token[-1] != "A" else "B"))
    with pytest.raises(GatewayValidationError, match="already registered"):
        other.add("ann")

    revoked = other.revoke("ann")
    assert revoked.revoked and revoked.version == 2
    with pytest.raises(AuthenticationError):
        Analysts(gateway_for(make_store())).authenticate(ann_token)
    with pytest.raises(AuthorizationError):
        Analysts(gateway_for(make_store())).by_principal(ARN)
    assert [(a.name, a.revoked) for a in Analysts(gateway_for(make_store())).list()] == [("ann", True), ("ops", False)]
    kinds = [(e.kind, e.analyst) for e in make_store().audit() if e.kind.startswith("analyst")]
    assert kinds == [("analyst-added", "ann"), ("analyst-added", "ops"), ("analyst-revoked", "ann")]


def test_an_analyst_change_is_conditional(make_store):
    gw = setup_ledger(make_store())
    Analysts(gw).add("ann")
    stale = gw.store.load()
    Analysts(gateway_for(make_store())).revoke("ann")
    new, events = core.revoke_analyst(stale, "ann", gw.clock())
    with pytest.raises(LedgerConflictError):
        make_store().commit(core.diff(stale, new, events))  # replaces version 1, which is gone
    from gateway.core.analysts import new_analyst

    twin, _ = new_analyst("bob", Role.ANALYST, None, gw.clock())
    fresh = gw.store.load()
    change = core.diff(fresh, *core.add_analyst(fresh, twin, gw.clock()))
    gw.store.commit(change)
    with pytest.raises(LedgerConflictError):
        make_store().commit(change)  # a second create of the same name
    assert full_view(make_store()).analysts["bob"] == twin


def test_cancel_a_pending_submission_holds_nothing(make_store, tmp_path):
    launcher = FileRunLauncher(tmp_path / "runs")
    gw = gateway_for(setup_ledger(make_store(), policy="dpf-n").store, launcher)
    waiting = gw.submit(spec("0.9", "w", analyst="ann"))  # DPF-N with N=3: one arrival unlocks a third
    assert waiting.state is ClaimState.PENDING
    with pytest.raises(SubmissionNotFoundError) as other:
        gw.cancel(waiting.id, analyst="bob")
    with pytest.raises(SubmissionNotFoundError) as missing:
        gw.cancel("q-nothere", analyst="bob")
    assert str(other.value).replace(waiting.id, "X") == str(missing.value).replace("q-nothere", "X")
    cancelled = gateway_for(make_store(), launcher).cancel(waiting.id, analyst="ann")
    assert cancelled.state is ClaimState.CANCELLED and cancelled.state.is_terminal
    with pytest.raises(LedgerConflictError, match="cancelled"):
        gw.cancel(waiting.id)
    gw.submit(spec("0.3", "x", analyst="ann"))
    gw.submit(spec("0.3", "y", analyst="ann"))  # the third arrival unlocks everything: it would now fit
    report = gw.schedule()
    assert waiting.id not in report.admitted
    state = full_view(make_store())
    assert state.claims[waiting.id].state is ClaimState.CANCELLED
    events = make_store().audit()
    assert [e.kind for e in events if e.submission_id == waiting.id] == ["submitted", "cancelled"]
    check_books(state, events)


def test_cancel_under_round_robin_returns_what_the_claim_accumulated(make_store, tmp_path):
    gw = gateway_for(setup_ledger(make_store(), policy="rr-n").store, FileRunLauncher(tmp_path / "runs"))
    waiting = gw.submit(spec("0.9", "w", analyst="ann"))
    before = full_view(make_store())
    assert waiting.state is ClaimState.PENDING
    assert any(waiting.id in b.held for b in before.blocks.values())  # it accumulated budget while waiting
    gw.cancel(waiting.id)
    after = full_view(make_store())
    for key, block in after.blocks.items():
        assert waiting.id not in block.held
        old = before.blocks[key]
        assert block.allocated.is_zero() and block.unlocked == old.unlocked + old.allocated
    check_books(after, make_store().audit())


def test_a_ledger_written_before_team_mode_loads(make_store, tmp_path):
    kind = make_store.kind
    if kind not in ("file", "s3"):
        pytest.skip("memory and DynamoDB have no ledger document; an absent record type is just no items")
    setup_ledger(make_store())
    if kind == "file":
        path = tmp_path / "ledger" / "ledger.json"
        doc = json.loads(path.read_text())
        del doc["analysts"]
        path.write_text(json.dumps(doc))
    else:
        import boto3

        s3 = boto3.client("s3")
        doc = json.loads(s3.get_object(Bucket="dpgw-ledger", Key="teams/a/ledger.json")["Body"].read())
        del doc["analysts"]
        s3.put_object(Bucket="dpgw-ledger", Key="teams/a/ledger.json", Body=json.dumps(doc).encode())
    legacy = make_store()
    assert legacy.load().analysts == {} and len(legacy.load().blocks) == 2
    Analysts(gateway_for(legacy)).add("ann")
    assert set(full_view(make_store()).analysts) == {"ann"}
