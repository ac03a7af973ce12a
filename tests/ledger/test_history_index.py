"""A fresh process finds a finished claim by id without reading the history: per-claim index entries on the
directory store (crash-safe, built once for a ledger split before they existed), a per-claim object on S3,
a GetItem on DynamoDB."""

from __future__ import annotations

import json

import pytest

from gateway.core.claims import ClaimState
from gateway.ledger import FileLedgerStore
from gateway.ledger.base import full_view
from tests.ledger.support import FileRunLauncher, check_books, gateway_for, setup_ledger, spec


def _finish_some(store, runs, n: int) -> list[str]:
    launcher = FileRunLauncher(runs)
    gw = gateway_for(setup_ledger(store, capacity="10").store, launcher)
    ids = []
    for i in range(n):
        ids.append(gw.submit(spec("0.1", f"done-{i}")).id)
        launcher.finish_all()
        gw.schedule()
    return ids


def _no_history_reads(store, monkeypatch) -> None:
    """Make every way of reading the whole history fail, so a lookup that needs one fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("read the whole history to find one claim")

    if isinstance(store, FileLedgerStore):
        monkeypatch.setattr(FileLedgerStore, "_lines", refuse)
    elif hasattr(store, "client"):
        monkeypatch.setattr(store.client, "get_paginator", refuse)  # no listing, query or scan


def test_a_fresh_store_finds_a_finished_claim_without_reading_the_history(make_store, tmp_path, monkeypatch):
    ids = _finish_some(make_store(), tmp_path / "runs", 3)
    expected = {claim_id: make_store().history_claim(claim_id) for claim_id in ids}
    fresh = make_store()
    fresh.load()
    _no_history_reads(fresh, monkeypatch)
    for claim_id in ids:
        assert fresh.history_claim(claim_id) == expected[claim_id]
        assert expected[claim_id].state is ClaimState.SUCCEEDED
    assert fresh.history_claim("never-submitted") is None
    assert fresh.history_claim("../../ledger") is None  # an id is never a path


def test_a_stale_index_entry_from_an_interrupted_commit_is_never_believed(tmp_path, monkeypatch):
    """The commit that finishes `first` dies after writing its history line and index entry; the next commit
    (a cancel) writes another claim's line at the same offset. `first` is not in history until it finishes
    again, and then it is found once."""
    root = tmp_path / "ledger"
    launcher = FileRunLauncher(tmp_path / "runs")
    gw = gateway_for(setup_ledger(FileLedgerStore(root), capacity="2", policy="dpf-n").store, launcher)
    first = gw.submit(spec("0.3", "first"))  # DPF-N, N=3: each arrival unlocks a third of the capacity
    waiting = gw.submit(spec("1.5", "waiting"))
    assert (first.state, waiting.state) == (ClaimState.RUNNING, ClaimState.PENDING)
    launcher.finish_all()

    def crash(self, document):
        raise KeyboardInterrupt  # dies after the history line and the index entry are fsynced

    monkeypatch.setattr(FileLedgerStore, "_write", crash)
    with pytest.raises(KeyboardInterrupt):
        gw.schedule()
    monkeypatch.undo()
    entry = root / "history-index"
    assert any(entry.rglob("*.json")), "the interrupted commit was meant to leave its index entry"
    assert FileLedgerStore(root).history_claim(first.id) is None

    gateway_for(FileLedgerStore(root), launcher).cancel(waiting.id)  # its line lands where first's was
    reader = FileLedgerStore(root)
    assert reader.history_claim(first.id) is None and reader.load().claims[first.id].state is ClaimState.RUNNING
    assert reader.history_claim(waiting.id).state is ClaimState.CANCELLED

    gateway_for(FileLedgerStore(root), launcher).schedule()
    reader = FileLedgerStore(root)
    assert reader.history_claim(first.id).state is ClaimState.SUCCEEDED
    assert [e.kind for e in reader.audit()].count("charged") == 1
    check_books(full_view(reader), reader.audit())


def test_a_ledger_split_before_the_index_is_read_by_scanning_then_indexed_by_its_next_commit(tmp_path, monkeypatch):
    root = tmp_path / "ledger"
    ids = _finish_some(FileLedgerStore(root), tmp_path / "runs", 3)
    expected = {claim_id: FileLedgerStore(root).history_claim(claim_id) for claim_id in ids}
    # what the store wrote before the index: the same segments, no entries, no "indexed" mark
    for path in sorted((root / "history-index").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (root / "history-index").rmdir()
    document = json.loads((root / "ledger.json").read_text())
    del document["indexed"]
    (root / "ledger.json").write_text(json.dumps(document))

    old = FileLedgerStore(root)
    assert {claim_id: old.history_claim(claim_id) for claim_id in ids} == expected  # by scanning
    gw = gateway_for(old, FileRunLauncher(tmp_path / "runs"))
    assert gw.submit(spec("0.1", "done-0")) == expected[ids[0]]  # an idempotent retry writes nothing
    assert "indexed" not in json.loads((root / "ledger.json").read_text())
    gw.submit(spec("0.2", "new"))  # the first write indexes the whole history
    assert json.loads((root / "ledger.json").read_text())["indexed"] is True

    fresh = FileLedgerStore(root)
    fresh.load()
    _no_history_reads(fresh, monkeypatch)
    assert {claim_id: fresh.history_claim(claim_id) for claim_id in ids} == expected
    monkeypatch.undo()
    check_books(full_view(fresh), fresh.audit())
