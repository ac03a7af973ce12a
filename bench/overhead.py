"""The gateway's own overhead per submission: submit (validate + arrival commit) + scheduling pass +
launch bookkeeping, with a launcher that starts nothing, so Spark is out of the picture.

Prints per-submission latency as the ledger grows, for the local directory store and the in-memory
reference store side by side (the difference is the cost of the JSON document and fsync).

    python bench/overhead.py [--submissions 1000] [--blocks 30]
    python bench/overhead.py --history 0,10000,100000 --stores memory,file,s3,dynamodb [--json]

With ``--history``: per store and per N, N finished claims are committed through the store API first
(in batches, not as N submissions), then ``--submissions`` (default 200) are measured: median and p95
latency, and the bytes the store writes per admission (S3 and DynamoDB on a serialized moto server).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

from gateway.core import ledger as core
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.datasets import ColumnType, DataFormat
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec
from gateway.launchers import RunState, RunStatus
from gateway.ledger import FileLedgerStore, InMemoryLedgerStore
from gateway.service import Gateway

BUCKET = "dpgw-bench"
COLUMNS = {"day": ColumnType.DATE, "amount": ColumnType.DOUBLE, "region": ColumnType.STRING}
FIRST = dt.date(2026, 10, 1)


class NoopLauncher:
    name = "noop"

    def output_for(self, submission_id: str) -> str:
        return f"noop://{submission_id}"

    def launch(self, request, start_by: float = float("inf")) -> str:
        return f"noop-{request.submission_id}"

    def poll(self, run_id: str, submission_id: str) -> RunStatus:
        return RunStatus(RunState.FAILED, "the no-op launcher runs nothing")  # recorded and charged

    def find_run(self, submission_id: str) -> str | None:
        return f"noop-{submission_id}"  # every launch "starts": reconciliation never releases


def spec(i: int, blocks: int):
    last = 1 + i % 7
    start = FIRST + dt.timedelta(days=i % (blocks - last + 1))
    return parse_spec(
        {
            "engine": "tumult" if i % 2 else "pipelinedp",
            "dataset": "purchases",
            "analyst": f"a{i % 5}",
            "blocks": {"from": start.isoformat(), "to": (start + dt.timedelta(days=last - 1)).isoformat()},
            "budget": {"epsilon": 0.001 * (1 + i % 10)},
            "privacy_unit": "row",
            "aggregate": {"function": "count"},
            "group_by": {"column": "region", "keys": ["n", "s"]},
        }
    )


def run(store, submissions: int, blocks: int) -> list[float]:
    gw = Gateway(store, {"noop": NoopLauncher()}, inspect=lambda p, f: dict(COLUMNS), default_launcher="noop")
    gw.init(PolicySettings(policy="dpf-n", n=50))
    gw.add_dataset("purchases", "/bench", DataFormat.PARQUET, "day")
    gw.add_blocks("purchases", FIRST, FIRST + dt.timedelta(days=blocks - 1), Budget.capacity(1))
    times = []
    for i in range(submissions):
        t0 = time.perf_counter()
        gw.submit(spec(i, blocks))
        times.append(time.perf_counter() - t0)
    return times


def summarize(times: list[float], lo: int, hi: int) -> str:
    part = sorted(times[lo:hi])
    p95 = part[int(0.95 * (len(part) - 1))]
    return f"median {statistics.median(part) * 1e3:7.2f} ms  p95 {p95 * 1e3:7.2f} ms"


# --- history: latency and bytes written per admission against a ledger with N finished claims -------


def make_store(kind: str, workdir: str):
    name = f"bench-{uuid.uuid4().hex[:8]}"
    if kind == "memory":
        return InMemoryLedgerStore()
    if kind == "file":
        return FileLedgerStore(Path(workdir) / name)
    if kind == "s3":
        from gateway.ledger.s3 import S3LedgerStore

        return S3LedgerStore(BUCKET, name)
    from gateway.ledger.dynamodb import DynamoDBLedgerStore

    return DynamoDBLedgerStore(name)


def populate(store, gw: Gateway, history: int, blocks: int) -> float:
    """N finished claims committed through the store API in batches (not N submissions); returns seconds."""
    started = time.perf_counter()
    batch = 45 if isinstance(store, _dynamodb_type()) else 2000  # DynamoDB: 2 actions each, 100 per transaction
    state = store.load()
    now = gw.clock()
    template = core.prepare_claim(state, spec(0, blocks), now, "h-template", "noop")
    detail = "x" * 600  # about the size of a finished claim with its operator detail and result
    for first in range(0, history, batch):
        claims = tuple(
            replace(
                template,
                id=f"h-{i:07d}",
                state=ClaimState.FAILED,
                reason="killed (ref 0123456789ab)",
                detail=detail,
                version=1,
            )
            for i in range(first, min(history, first + batch))
        )
        event = core.AuditEvent(now, "rejected", reason=f"bench history {first}")
        store.commit(core.Change(claims=claims, events=(event,)))
    return time.perf_counter() - started


def _dynamodb_type():
    try:
        from gateway.ledger.dynamodb import DynamoDBLedgerStore
    except ImportError:  # boto3 missing: no DynamoDB store to compare against
        return ()
    return DynamoDBLedgerStore


class Counter:
    """Bytes a store sends to its storage: wraps the writes of each kind of store."""

    def __init__(self, store) -> None:
        self.bytes = 0
        kind = type(store).__name__
        if kind == "FileLedgerStore":
            write, append = store._write, store._append
            store._write = lambda document: (write(document), self._add(store._snapshot.stat().st_size))[0]
            store._append = lambda seg, size, data: (self._add(len(data)), append(seg, size, data))[1]
        elif kind == "S3LedgerStore":
            put = store.client.put_object
            store._client = _Wrapped(
                store.client, "put_object", lambda **kw: (self._add(len(kw["Body"])), put(**kw))[1]
            )
        elif kind == "DynamoDBLedgerStore":
            tx = store.client.transact_write_items
            store._client = _Wrapped(
                store.client,
                "transact_write_items",
                lambda **kw: (self._add(len(json.dumps(kw["TransactItems"]))), tx(**kw))[1],
            )

    def _add(self, n: int) -> None:
        self.bytes += n


class _Wrapped:
    def __init__(self, inner, name, replacement) -> None:
        self._inner, self._name, self._replacement = inner, name, replacement

    def __getattr__(self, attr):
        return self._replacement if attr == self._name else getattr(self._inner, attr)


def measure(kind: str, history: int, submissions: int, blocks: int, workdir: str) -> dict:
    store = make_store(kind, workdir)
    gw = Gateway(store, {"noop": NoopLauncher()}, inspect=lambda p, f: dict(COLUMNS), default_launcher="noop")
    gw.init(PolicySettings(policy="dpf-n", n=50))
    gw.add_dataset("purchases", "/bench", DataFormat.PARQUET, "day")
    gw.add_blocks("purchases", FIRST, FIRST + dt.timedelta(days=blocks - 1), Budget.capacity(1))
    seconds = populate(store, gw, history, blocks)
    gw.submit(spec(1, blocks))  # warm caches (the first read of a store in a process)
    counter = Counter(store)
    times = []
    for i in range(2, submissions + 2):
        t0 = time.perf_counter()
        gw.submit(spec(i, blocks))
        times.append(time.perf_counter() - t0)
    part = sorted(times)
    return {
        "store": kind,
        "history": history,
        "populate_s": round(seconds, 1),
        "submissions": submissions,
        "median_ms": round(statistics.median(part) * 1e3, 2),
        "p95_ms": round(part[int(0.95 * (len(part) - 1))] * 1e3, 2),
        "bytes_per_admission": round(counter.bytes / submissions) if kind != "memory" else None,
    }


def history_main(args) -> None:
    stores = args.stores.split(",")
    histories = [int(n) for n in args.history.split(",")]
    if {"s3", "dynamodb"} & set(stores):
        sys.path.insert(0, str(Path(__file__).parent))
        from ledger_throughput import start_moto

        start_moto()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for kind in stores:
            for n in histories:
                row = measure(kind, n, args.submissions, args.blocks, workdir)
                rows.append(row)
                if not args.json:
                    print(row, flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=None)
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument("--history", help="comma-separated counts of finished claims to pre-populate, e.g. 0,10000")
    parser.add_argument("--stores", default="memory,file", help="with --history: memory,file,s3,dynamodb")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.history is not None:
        args.submissions = args.submissions or 200
        history_main(args)
        return
    args.submissions = args.submissions or 1000
    with tempfile.TemporaryDirectory() as tmp:
        results = {
            "file": run(FileLedgerStore(Path(tmp) / "ledger"), args.submissions, args.blocks),
            "memory": run(InMemoryLedgerStore(), args.submissions, args.blocks),
        }
    n = args.submissions
    print(f"gateway overhead per submission (submit + DPF-N pass + launch bookkeeping), {args.blocks} blocks")
    windows = [(0, min(100, n)), (n // 2 - 50, n // 2 + 50), (n - 100, n)] if n >= 300 else [(0, n)]
    for name, times in results.items():
        total = sum(times)
        print(f"  {name:6} store: {n} submissions in {total:6.2f} s = {n / total:7.1f}/s")
        for lo, hi in windows:
            print(f"    submissions {lo:5d}-{hi:5d}: {summarize(times, max(lo, 0), hi)}")
    ratio = sum(results["file"]) / sum(results["memory"])
    print(f"  file / memory total time ratio: {ratio:.1f}x")


if __name__ == "__main__":
    main()
