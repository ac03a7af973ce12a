"""The local directory store: atomic conditional commits, an audit trail that matches, many writers."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing

import pytest

from gateway.core import ledger as core
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.datasets import ColumnType, DataFormat, Dataset
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec
from gateway.errors import LedgerConflictError, LedgerError, LedgerNotFoundError
from gateway.ledger import FileLedgerStore, InMemoryLedgerStore, open_store
from gateway.service import Gateway

DATASET = Dataset(
    name="events",
    path="/data",
    format=DataFormat.PARQUET,
    time_column="day",
    columns={"day": ColumnType.DATE, "v": ColumnType.DOUBLE},
)
DAYS = (dt.date(2026, 10, 1), dt.date(2026, 10, 2))


def spec(eps, client_id=None):
    data = {
        "engine": "tumult",
        "dataset": "events",
        "analyst": "ann",
        "blocks": {"last": 2},
        "budget": {"epsilon": eps},
        "privacy_unit": "row",
        "aggregate": {"function": "count"},
    }
    if client_id:
        data["client_id"] = client_id
    return parse_spec(data)


def gateway_for(store, policy="fcfs") -> Gateway:
    return Gateway(store, {}, inspect=lambda path, fmt: dict(DATASET.columns), default_launcher="none")


def setup(store, policy="fcfs"):
    store.create(PolicySettings(policy=policy, n=3))
    gw = gateway_for(store)
    gw._mutate(lambda s, now: core.add_dataset(s, DATASET, now))
    gw.add_blocks("events", DAYS[0], DAYS[1], Budget.capacity(1))
    return gw


@pytest.fixture(params=["memory", "file"])
def store(request, tmp_path):
    return InMemoryLedgerStore() if request.param == "memory" else FileLedgerStore(tmp_path / "ledger")


def arrive(gw, eps, client_id=None):
    state = gw.store.load()
    claim = core.prepare_claim(state, spec(eps, client_id), gw.clock(), launcher="none")
    gw._mutate(lambda s, now: core.arrive(s, core.prepare_claim(s, claim.spec, now, claim.id, "none"), now))
    return claim.id


def test_round_trip_and_conditional_commit(store):
    gw = setup(store)
    claim_id = arrive(gw, 0.4)
    state = store.load()
    assert state.claims[claim_id].state is ClaimState.PENDING
    assert state.blocks["events/2026-10-02"].version == 2  # created, then one arrival
    new, events = core.schedule(state, gw.clock())
    change = core.diff(state, new, events)
    store.commit(change)
    with pytest.raises(LedgerConflictError):
        store.commit(change)  # the same versions again
    assert store.load().claims[claim_id].state is ClaimState.ADMITTED
    kinds = [e.kind for e in store.audit()]
    assert kinds == ["dataset-added", "blocks-added", "submitted", "granted"]


def test_create_twice_and_missing_ledger(tmp_path):
    store = FileLedgerStore(tmp_path / "l")
    with pytest.raises(LedgerNotFoundError, match="dpgw init"):
        store.load()
    store.create(PolicySettings())
    with pytest.raises(LedgerError, match="already exists"):
        store.create(PolicySettings())


def test_audit_ignores_a_commit_whose_snapshot_never_landed(tmp_path):
    store = FileLedgerStore(tmp_path / "l")
    gw = setup(store)
    before = store.audit()
    (segment,) = (tmp_path / "l").glob("history-*.jsonl")
    with open(segment, "a") as audit:  # a crash after the history line, before the live document's replace
        audit.write(json.dumps({"commit": 99, "events": [{"at": "2026-01-01T00:00:00+00:00", "kind": "x"}]}) + "\n")
    with open(tmp_path / "l" / "audit.jsonl", "a") as legacy:  # the pre-split trail is never read past its end
        legacy.write(json.dumps({"commit": 1, "events": [{"at": "2026-01-01T00:00:00+00:00", "kind": "x"}]}) + "\n")
    assert store.audit() == before
    arrive(gw, 0.1)
    assert [e.kind for e in store.audit()][-1] == "submitted"


def test_open_store_by_url(tmp_path):
    assert isinstance(open_store(str(tmp_path)), FileLedgerStore)
    assert open_store(f"file://{tmp_path}").root == tmp_path
    with pytest.raises(Exception, match="unsupported ledger URL"):
        open_store("ftp://host/x")


def _worker(path: str, worker: int, per_worker: int) -> None:
    gw = gateway_for(FileLedgerStore(path))
    for i in range(per_worker):
        # workers 0/2 and 1/3 share client ids, and each submits every id twice: 4 racing retries per id
        arrive(gw, 0.05, client_id=f"k{worker % 2}-{i % (per_worker // 2)}")
        gw._mutate(core.schedule)


def test_concurrent_processes_never_overspend_or_double_submit(tmp_path):
    path = str(tmp_path / "l")
    setup(FileLedgerStore(path))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(path, w, 8)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    state = FileLedgerStore(path).load()
    assert len(state.claims) == 8  # 2 groups x 4 distinct client ids
    assert all(c.state is ClaimState.ADMITTED for c in state.claims.values())
    for block in state.blocks.values():
        assert block.allocated == Budget.demand("0.4")  # 8 x 0.05, each charged once
        assert block.arrivals == 8
    events = FileLedgerStore(path).audit()
    assert sum(e.kind == "granted" for e in events) == 8
    assert sum(e.kind == "submitted" for e in events) == 8


def test_a_second_store_instance_reads_what_the_first_committed(tmp_path):
    first = FileLedgerStore(tmp_path / "l")
    gw = setup(first)
    arrive(gw, 0.3)
    second = FileLedgerStore(tmp_path / "l")
    assert second.load() == first.load()
    arrive(gateway_for(second), 0.2)  # written by the second: the first must notice, not reuse its cache
    assert first.load() == second.load() and len(first.load().claims) == 2
