"""A submit that died after recording its claim but before its scheduling pass: the user's retry (the
same client id) gets that pass, so the claim does not wait for someone else's ``dpgw schedule``."""

from __future__ import annotations

from gateway.core.claims import ClaimState
from gateway.ledger import InMemoryLedgerStore
from gateway.ledger.base import full_view
from tests.ledger.support import FileRunLauncher, check_books, gateway_for, setup_ledger, spec


def test_a_retry_of_a_submission_left_pending_runs_its_pass(tmp_path):
    store = InMemoryLedgerStore()
    setup_ledger(store)
    launcher = FileRunLauncher(tmp_path)
    gw = gateway_for(store, launcher)
    first = gw.submit(spec("0.5", "q1"), schedule=False)  # as if the process died before its pass
    assert first.state is ClaimState.PENDING
    again = gw.submit(spec("0.5", "q1"))
    assert again.id == first.id and again.state is ClaimState.RUNNING
    assert launcher.runs() == [first.id]
    check_books(full_view(store), store.audit())


def test_a_retry_of_a_finished_or_rejected_submission_changes_nothing(tmp_path):
    store = InMemoryLedgerStore()
    setup_ledger(store)
    launcher = FileRunLauncher(tmp_path)
    gw = gateway_for(store, launcher)
    too_big = gw.submit(spec("5", "big"))
    assert too_big.state is ClaimState.REJECTED
    events = len(store.audit())
    assert gw.submit(spec("5", "big")).state is ClaimState.REJECTED
    assert len(store.audit()) == events  # no pass, no new event
    check_books(full_view(store), store.audit())
