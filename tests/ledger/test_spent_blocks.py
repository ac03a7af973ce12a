"""Blocks that can never grant again (retired, nothing locked, allocated or held, no budget left) leave the live
state in the change that spends them, on every store; they stay visible to ``blocks list --all`` and the
reports, a query naming one is rejected as before, and ``blocks add`` never re-creates one."""

from __future__ import annotations

import dataclasses
import json

import pytest

from gateway.core import ledger as core
from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.errors import BlockRangeError
from gateway.ledger.base import full_view
from tests.ledger.support import FIRST, LAST, FileRunLauncher, check_books, gateway_for, setup_ledger, spec

LAST_KEY, FIRST_KEY = f"events/{LAST}", f"events/{FIRST}"


def spend_last_day(make_store, tmp_path):
    """FCFS blocks start retired and fully unlocked: a query of the whole capacity spends the newest block."""
    launcher = FileRunLauncher(tmp_path / "runs")
    gw = gateway_for(setup_ledger(make_store(), capacity="1").store, launcher)
    claim = gw.submit(spec("1", "all-of-it", last=1))
    assert claim.state is ClaimState.RUNNING and LAST_KEY in make_store().load().blocks  # allocated: still live
    launcher.finish_all()
    gw.schedule()
    return claim.id


def test_a_spent_block_leaves_the_live_state_and_stays_visible(make_store, tmp_path):
    claim_id = spend_last_day(make_store, tmp_path)
    fresh = make_store()
    live = fresh.load()
    assert LAST_KEY not in live.blocks and FIRST_KEY in live.blocks
    assert live.retired["events"].runs == ((LAST, LAST, Budget.capacity("1")),)
    (spent,) = fresh.history_blocks()
    assert spent.key == LAST_KEY and spent.consumed == spent.capacity and spent.allocated == Budget()
    view = gateway_for(fresh)
    assert [b.key for b in view.blocks("events")] == [FIRST_KEY]
    assert [b.key for b in view.blocks("events", include_spent=True)] == [FIRST_KEY, LAST_KEY]
    assert [b.key for b in view.burn_down("events").blocks] == [FIRST_KEY, LAST_KEY]
    assert view.status(claim_id).state is ClaimState.SUCCEEDED
    assert view.dashboard(None) is not None  # finished claims name the spent block: the full view has it
    check_books(full_view(fresh), fresh.audit())


def test_a_query_naming_a_spent_day_is_rejected_and_last_n_still_counts_it(make_store, tmp_path):
    spend_last_day(make_store, tmp_path)
    late = gateway_for(make_store(), FileRunLauncher(tmp_path / "runs"))
    rejected = late.submit(spec("0.1", "late", last=1))  # the newest day is still the spent one
    assert rejected.state is ClaimState.REJECTED and "retired" in rejected.reason
    assert rejected.blocks == (LAST_KEY,)
    both = late.submit(spec("0.1", "both", last=2))
    assert both.state is ClaimState.REJECTED and both.blocks == (FIRST_KEY, LAST_KEY)
    preview = late.preview(spec("0.1", "peek", last=1))
    assert not preview.fits and preview.blocks[0].copies == 0
    check_books(full_view(make_store()), make_store().audit())


def test_blocks_add_never_recreates_a_spent_day(make_store, tmp_path):
    spend_last_day(make_store, tmp_path)
    again = gateway_for(make_store())
    assert again.add_blocks("events", FIRST, LAST, Budget.capacity("1")) == []  # both days exist: nothing added
    with pytest.raises(BlockRangeError, match="retired"):
        again.add_blocks("events", LAST, LAST, Budget.capacity("2"))
    assert LAST_KEY not in make_store().load().blocks


def _block(**accounts) -> Block:
    one, zero = Budget.capacity("1"), Budget()
    fields = {"unlocked": zero, "allocated": zero, "consumed": one, "retired": True, **accounts}
    return Block(
        "events", LAST, one, fields["unlocked"], fields["allocated"], fields["consumed"], retired=fields["retired"]
    )


def test_is_spent_only_when_nothing_can_ever_be_granted():
    one, half = Budget.capacity("1"), Budget.demand("0.5")
    assert core.is_spent(_block())
    assert not core.is_spent(_block(retired=False))  # an unlock step may come
    assert not core.is_spent(_block(consumed=half))  # locked budget left (a release to locked)
    assert not core.is_spent(_block(unlocked=half, consumed=half))  # budget a query can still take
    assert not core.is_spent(_block(allocated=half, consumed=half))  # a running job may give some back
    held = dataclasses.replace(_block(allocated=half, consumed=half), held={"q": half})
    assert not core.is_spent(held)
    assert one == _block().capacity


def test_a_snapshot_version_block_is_never_spent():
    version = dataclasses.replace(_block(), day=None, data_version="v1")
    assert not core.is_spent(version)  # versions stay live: the retired-days record holds days only


def test_a_spent_block_named_by_an_unfinished_claim_stays_live_until_it_finishes(tmp_path):
    from gateway.ledger import InMemoryLedgerStore

    store = InMemoryLedgerStore()
    gw = setup_ledger(store, capacity="1")
    state = store.load()
    pending = core.prepare_claim(state, spec("0.1", "waits", last=1), gw.clock(), launcher="files")
    spent = dataclasses.replace(state.blocks[LAST_KEY], unlocked=Budget(), consumed=Budget.capacity("1"))
    with_pending = state.with_(blocks=[spent], claims=[pending])
    change = core.diff(state, with_pending)
    assert change.spent == () and [b.key for b in change.blocks] == [LAST_KEY]  # named by a pending claim
    store.commit(change)
    after = store.load()
    # its rejection is the change that frees the block: the block leaves with it, untouched otherwise
    new, events = core.schedule(after, gw.clock())
    change = core.diff(after, new, events)
    assert [c.state for c in change.claims] == [ClaimState.REJECTED]
    assert [b.key for b in change.spent] == [LAST_KEY] and change.spent[0].version == after.blocks[LAST_KEY].version + 1
    store.commit(change)
    assert LAST_KEY not in store.load().blocks and [b.key for b in store.history_blocks()] == [LAST_KEY]


def test_a_claim_that_arrived_as_its_block_left_is_rejected_by_the_next_pass(tmp_path):
    from gateway.ledger import InMemoryLedgerStore

    store = InMemoryLedgerStore()
    gw = setup_ledger(store, capacity="1")
    state = store.load()
    claim = core.prepare_claim(state, spec("0.1", "raced", last=1), gw.clock(), launcher="files")
    raced = dataclasses.replace(state, blocks={k: b for k, b in state.blocks.items() if k != LAST_KEY})
    raced = raced.with_(claims=[claim])
    new, events = core.schedule(raced, gw.clock())
    assert new.claims[claim.id].state is ClaimState.REJECTED and "retired" in new.claims[claim.id].reason
    assert [e.kind for e in events] == ["rejected"]


def test_blocks_list_all_prints_the_same_embedded_and_remote(tmp_path, capsys, monkeypatch):
    import threading
    import time

    import uvicorn

    from gateway.api import create_app
    from gateway.cli.main import main
    from gateway.ledger import FileLedgerStore
    from tests.api.conftest import make_team

    team = make_team(tmp_path, store=FileLedgerStore(tmp_path / "ledger"))
    gw = team.gateway()
    claim = gw.submit(spec("1", "all-of-it", last=1))
    team.launcher.finish_all()
    gw.schedule()
    assert gw.status(claim.id).state is ClaimState.SUCCEEDED
    # log_config=None: uvicorn's own logging config would bind a handler to this test's captured stderr
    server = uvicorn.Server(uvicorn.Config(create_app(team.gateway, interval=60), port=0, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)

    def run(*args, url: str | None) -> list[dict]:
        if url is not None:
            monkeypatch.setenv("DPGW_URL", url)
            monkeypatch.setenv("DPGW_TOKEN", team.tokens["ann"])
            extra = []
        else:
            monkeypatch.delenv("DPGW_URL", raising=False)
            extra = ["--ledger", str(tmp_path / "ledger")]
        capsys.readouterr()
        assert main(["blocks", "list", *args, "--json", *extra]) == 0
        return json.loads(capsys.readouterr().out)

    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        for args in ((), ("--all",), ("events", "--all")):
            embedded, remote = run(*args, url=None), run(*args, url=url)
            assert embedded == remote, args
            assert (LAST_KEY in [b["block"] for b in embedded]) == ("--all" in args), args
    finally:
        server.should_exit = True
        thread.join(10)


def test_dynamodb_sweeps_spent_blocks_it_had_no_room_to_move_on_later_commits(moto_inprocess, tmp_path):
    """Moving a block out takes two actions; a finish that spends 60 blocks would need over 100, so the finish
    leaves them live, and the scheduling pass's sweep then moves them out 40 per commit (80 actions)."""
    import datetime as dt

    from gateway.ledger.dynamodb import DynamoDBLedgerStore

    store = DynamoDBLedgerStore("wide")
    launcher = FileRunLauncher(tmp_path / "runs")
    gw = gateway_for(setup_ledger(store, capacity="1").store, launcher)
    gw.add_blocks("events", LAST - dt.timedelta(days=59), LAST, Budget.capacity("1"))
    claim = gw.submit(spec("1", "wide", last=60))
    launcher.finish_all()
    finished = gw.reconcile()  # the finishing commit alone: no room to move 60 blocks out
    assert claim.id in finished
    fresh = DynamoDBLedgerStore("wide")
    assert fresh.history_claim(claim.id).state is ClaimState.SUCCEEDED
    live = fresh.load()
    assert all(core.is_spent(live.blocks[key]) for key in claim.blocks) and live.retired == {}
    assert fresh.history_blocks() == []

    gw.schedule()  # its sweep moves 40
    assert len(fresh.history_blocks()) == 40
    gw.schedule()  # and the rest
    assert sorted(b.key for b in fresh.history_blocks()) == sorted(claim.blocks)
    assert not set(claim.blocks) & set(fresh.load().blocks)
    days = [LAST - dt.timedelta(days=59 - i) for i in range(60)]
    assert fresh.load().retired_days("events")[-60:] == days
    check_books(full_view(fresh), fresh.audit())
    assert core.sweep_spent(fresh.load(), 40).is_empty()  # nothing left: later passes commit no sweep


def test_a_crash_between_appending_a_spent_block_and_the_live_commit_loses_and_doubles_nothing(tmp_path, monkeypatch):
    from gateway.ledger import FileLedgerStore

    root = tmp_path / "ledger"
    launcher = FileRunLauncher(tmp_path / "runs")
    gw = gateway_for(setup_ledger(FileLedgerStore(root), capacity="1").store, launcher)
    gw.submit(spec("1", "all-of-it", last=1))
    launcher.finish_all()

    def crash(self, document):
        raise KeyboardInterrupt  # dies after the history lines (claim, block, events) are fsynced

    monkeypatch.setattr(FileLedgerStore, "_write", crash)
    with pytest.raises(KeyboardInterrupt):
        gw.schedule()
    monkeypatch.undo()
    (segment,) = root.glob("history-*.jsonl")
    assert b'"block":' in segment.read_bytes()  # on disk, never read
    reader = FileLedgerStore(root)
    assert LAST_KEY in reader.load().blocks and reader.history_blocks() == [] and reader.load().retired == {}

    gateway_for(FileLedgerStore(root), launcher).schedule()
    reader = FileLedgerStore(root)
    assert [b.key for b in reader.history_blocks()] == [LAST_KEY] and LAST_KEY not in reader.load().blocks
    assert segment.read_bytes().count(b'"block":') == 1
    check_books(full_view(reader), reader.audit())
