"""The gateway's own overhead per submission: submit (validate + arrival commit) + scheduling pass +
launch bookkeeping, with a launcher that starts nothing, so Spark is out of the picture.

Prints per-submission latency as the ledger grows, for the local directory store and the in-memory
reference store side by side (the difference is the cost of the JSON document and fsync).

    python bench/overhead.py [--submissions 1000] [--blocks 30]
    python bench/overhead.py --history 0,10000,100000 --stores memory,file,s3,dynamodb [--json]
        [--submissions 200] [--dynamodb-submissions 3] [--moto-max-gb 8]

With ``--history``: per store and per N, N finished claims are committed through the store's own
``commit`` first (in batches, not as N submissions), then ``--submissions`` admissions are measured
(``--dynamodb-submissions`` on DynamoDB, where moto copies the whole table per transaction action):
a table with N side by side per store (median and p95 latency, the median's ratio to N=0, bytes sent
to storage per admission, fill time; for S3 and DynamoDB the requests per admission, for DynamoDB the
items read and written, estimated capacity units, and the time moto spends on work that grows with the
table), then with ``--json`` the rows. S3 and DynamoDB run on a moto server in a child process. The
full run above takes 15 to 35 minutes on 2 shared cores: the S3 fill of 100,000 about 5, DynamoDB at
N=100,000 about 6 (one admission there takes 1 to 2 minutes on moto).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

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
#
# Pre-population commits N finished claims through the store's own ``commit`` (so they land in the store's
# own history layout, encoded by the store), in batches. On S3 and DynamoDB the store is built with a
# ``FillClient`` around its boto3 client: while filling, the writes the store makes are spread over
# threads (S3: its create-only history objects; DynamoDB: the items of its transactions, sent as
# BatchWriteItem because moto copies the whole table for every transaction action, see below), and every
# other call first waits for those writes, so the store's own ordering (history objects before the live
# document that drops them from its outbox) holds. After the fill the client passes every call through.
#
# The moto server runs in a child process (its own core, like a remote service), unserialized: the bench
# has one writer at a time, and the fill's concurrent writes go to distinct keys, so moto's missing lock
# on conditional writes cannot matter here.
#
# moto's TransactWriteItems deep-copies every table it touches before each action (its rollback copy,
# moto/dynamodb/models: transact_write_items), so on moto one transaction costs O(actions x table size)
# and admission latency grows with history, which real DynamoDB does not do (a transaction touches only
# its items). moto's Query also scans every item of the table for the partition key (Table.query over
# all_items), where DynamoDB reads only the partition. The bench times both in the server and reports them
# beside the latency, with the latency less both; and for DynamoDB the things that govern real
# DynamoDB's latency and bill: requests, items read and written, estimated capacity units and bytes on
# the wire per admission.


def _serve_moto(port: int, moto_seconds, ready) -> None:
    """The moto server (child process). Its two costs that grow with a DynamoDB table's size are timed
    into ``moto_seconds``: [0] deep-copying tables (TransactWriteItems' rollback copy, per action) and
    [1] Query (moto scans every item of the table for the partition key; DynamoDB reads the partition).

    moto keeps every model object it creates in a class-level list for its introspection API
    (``BaseModel.instances_tracked``), the items of its per-action rollback copies included, so without
    help each copy of a 100,000-item table stays in memory for good (gigabytes per admission, and ever
    longer garbage collections). The copy wrapper drops the copy's objects from those lists; no DynamoDB
    operation reads them, so the server's answers are unchanged.
    """
    import logging

    import moto.dynamodb.models as ddb_models
    from moto.core.base_backend import model_data
    from moto.dynamodb.models.table import Table
    from moto.server import ThreadedMotoServer

    real_copy = ddb_models.copy

    class TimedCopy:  # the module's ``copy``: same behaviour, with a clock around whole-table copies
        def __getattr__(self, name):
            return getattr(real_copy, name)

        @staticmethod
        def deepcopy(value, memo=None):
            if not isinstance(value, Table):
                return real_copy.deepcopy(value, memo)
            tracked = [model.instances_tracked for model in model_data["dynamodb"].values()]
            marks = [len(instances) for instances in tracked]
            began = time.perf_counter()
            try:
                return real_copy.deepcopy(value, memo)
            finally:
                for instances, mark in zip(tracked, marks, strict=True):
                    del instances[mark:]  # the copy's objects: moto's introspection list only
                with moto_seconds.get_lock():
                    moto_seconds[0] += time.perf_counter() - began

    real_query = Table.query

    def timed_query(self, *args, **kwargs):
        began = time.perf_counter()
        try:
            return real_query(self, *args, **kwargs)
        finally:
            with moto_seconds.get_lock():
                moto_seconds[1] += time.perf_counter() - began

    Table.query = timed_query

    ddb_models.copy = TimedCopy()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    ready.set()
    threading.Event().wait()


def start_moto_process(max_gb: float):
    """A moto server in a child process on a free loopback port; AWS_* point boto3 at it.

    Its memory is watched: moto's per-action table copies at N=100,000 are about 200 MB each, and its
    per-request threads spread them over malloc arenas (RSS passed 14 GB in one run before the arenas
    were capped), so above ``max_gb`` the bench stops rather than push a shared machine into swap or the
    OOM killer."""
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")  # read by the child's C library at start
    ctx = multiprocessing.get_context("spawn")
    moto_seconds, ready = ctx.Array("d", 2), ctx.Event()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = ctx.Process(target=_serve_moto, args=(port, moto_seconds, ready), daemon=True)
    process.start()
    if not ready.wait(60):
        raise RuntimeError("the moto server did not start within 60 s")
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    import boto3

    boto3.session.Session().client("s3").create_bucket(Bucket=BUCKET)
    threading.Thread(target=_watch_memory, args=(process.pid, max_gb), daemon=True).start()
    return process, moto_seconds


def _watch_memory(pid: int, max_gb: float) -> None:
    while True:
        try:
            pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            return  # the server has exited (or this is not Linux)
        if pages * os.sysconf("SC_PAGE_SIZE") > max_gb * 1e9:
            print(f"the moto server holds more than {max_gb} GB; stopping the bench", file=sys.stderr, flush=True)
            os.kill(pid, 9)
            os._exit(3)
        time.sleep(2)


class FillClient:
    """A store's boto3 client that, while ``filling``, sends the store's own writes from a thread pool."""

    def __init__(self, inner, threads: int = 8) -> None:
        self.inner = inner
        self.filling = False
        self._pool = ThreadPoolExecutor(threads)
        self._pending: list = []
        self._written: set[tuple[str, str]] = set()  # (bucket, key) of every object put through this client

    def __getattr__(self, name):
        value = getattr(self.inner, name)
        if name in ("meta", "exceptions") or not callable(value):
            return value
        return self._after_drain(value)

    def _after_drain(self, call):
        def wrapped(*args, **kwargs):
            self.drain()
            return call(*args, **kwargs)

        return wrapped

    def drain(self) -> None:
        """Wait for every deferred write; re-raise the first failure."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def get_object(self, **kwargs):
        """While filling, a key this client never wrote is answered absent without a request: the store's
        prefix is fresh and only this client writes there, so moto would answer NoSuchKey (the S3 store asks
        this of every new claim id before it commits, one request each)."""
        key = (kwargs["Bucket"], kwargs["Key"])
        if self.filling and "IfNoneMatch" not in kwargs and key not in self._written:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "absent"}}, "GetObject")
        self.drain()
        return self.inner.get_object(**kwargs)

    def put_object(self, **kwargs):
        self._written.add((kwargs["Bucket"], kwargs["Key"]))
        if self.filling and kwargs.get("IfNoneMatch") == "*":  # a create-only history object
            self._pending.append(self._pool.submit(self.inner.put_object, **kwargs))
            return {}
        self.drain()
        return self.inner.put_object(**kwargs)

    def transact_write_items(self, **kwargs):
        if not self.filling:
            self.drain()
            return self.inner.transact_write_items(**kwargs)
        requests = []
        for action in kwargs["TransactItems"]:
            ((kind, body),) = action.items()
            if kind == "Put":
                requests.append((body["TableName"], {"PutRequest": {"Item": body["Item"]}}))
            elif kind == "Delete":
                requests.append((body["TableName"], {"DeleteRequest": {"Key": body["Key"]}}))
            elif kind != "ConditionCheck":  # a fresh table and unique ids: the checks hold
                raise RuntimeError(f"the fill does not expect a {kind} action")
        for first in range(0, len(requests), 25):
            chunk = requests[first : first + 25]
            self._pending.append(self._pool.submit(self._batch_write, chunk))
        return {}

    def _batch_write(self, chunk) -> None:
        items: dict = {}
        for table, request in chunk:
            items.setdefault(table, []).append(request)
        for _ in range(20):
            items = self.inner.batch_write_item(RequestItems=items).get("UnprocessedItems") or {}
            if not items:
                return
            time.sleep(0.05)
        raise RuntimeError("moto left items unprocessed after 20 attempts")


def make_store(kind: str, workdir: str) -> tuple[Any, FillClient | None]:
    """A new ledger's store, and the client it was built with (S3 and DynamoDB, through its ``client=``)."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    if kind == "memory":
        return InMemoryLedgerStore(), None
    if kind == "file":
        return FileLedgerStore(Path(workdir) / name), None
    from gateway.ledger.aws import make_client

    if kind == "s3":
        from gateway.ledger.s3 import S3LedgerStore

        client = FillClient(make_client("s3"))
        return S3LedgerStore(BUCKET, name, client=client), client
    from gateway.ledger.dynamodb import DynamoDBLedgerStore

    client = FillClient(make_client("dynamodb"))
    return DynamoDBLedgerStore(name, client=client), client


def populate(store, client: FillClient | None, gw: Gateway, history: int, blocks: int) -> float:
    """N finished claims committed through the store API in batches (not N submissions); returns seconds."""
    started = time.perf_counter()
    limit = getattr(store, "records_per_commit", None)  # DynamoDB: 100 records, a finished claim writes 2
    batch = (limit - 2) // 2 if limit else 2000
    state = store.load()
    now = gw.clock()
    template = core.prepare_claim(state, spec(0, blocks), now, "h-template", "noop")
    detail = "x" * 600  # about the size of a finished claim with its operator detail and result
    if client is not None:
        client.filling = True
    try:
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
        if history:  # one more commit: the S3 store copies the last batch out of its outbox now, not later
            store.commit(core.Change(events=(core.AuditEvent(now, "rejected", reason="bench history done"),)))
    finally:
        if client is not None:
            client.drain()
            client.filling = False
    return time.perf_counter() - started


def item_size(item: dict) -> int:
    """DynamoDB's item size: attribute names plus values (strings in UTF-8, numbers about 1 byte per 2 digits)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        ((kind, raw),) = value.items()
        if kind == "S":
            size += len(raw.encode())
        elif kind == "N":
            size += len(raw.lstrip("-").replace(".", "").lstrip("0")) // 2 + 2
        else:
            size += len(json.dumps(raw))
    return size


class Counter:
    """What an admission costs the storage: bytes written, and for AWS stores the requests behind them."""

    def __init__(self, store, client: FillClient | None) -> None:
        self.kind = type(store).__name__
        self.bytes_sent = self.bytes_received = 0
        self.requests: dict[str, int] = {}
        self.items_written = self.condition_checks = self.items_read = 0
        self.write_units = self.read_units = 0.0
        if client is not None:
            inner = client.inner
            service = inner.meta.service_model.service_name
            inner.meta.events.register(f"before-parameter-build.{service}", self._before)
            inner.meta.events.register(f"before-send.{service}", self._sent)
            inner.meta.events.register(f"after-call.{service}", self._after)

    def _before(self, params, model, **_) -> None:
        self.requests[model.name] = self.requests.get(model.name, 0) + 1
        for action in params.get("TransactItems", []):
            ((kind, body),) = action.items()
            if kind == "ConditionCheck":
                self.condition_checks += 1
                self.write_units += 2  # a transaction's check is billed as a 1 KB transactional write, at most
            else:
                self.items_written += 1
                size = item_size(body["Item"]) if "Item" in body else 1024  # a delete: assume 1 KB
                self.write_units += 2 * max(1, -(-size // 1024))  # transactional: 2 units per KB

    def _sent(self, request, **_) -> None:
        self.bytes_sent += int(request.headers.get("Content-Length") or len(request.body or b""))

    def _after(self, http_response, parsed, model, **_) -> None:
        self.bytes_received += len(http_response.content or b"")
        items = parsed.get("Items") if isinstance(parsed, dict) else None
        if items is not None:  # a consistent Query: 1 unit per 4 KB of the items it returns
            self.items_read += len(items)
            self.read_units += max(1, -(-sum(item_size(i) for i in items) // 4096))
        elif model.name == "GetItem":
            item = parsed.get("Item")
            self.items_read += item is not None
            self.read_units += max(1, -(-item_size(item) // 4096)) if item else 1

    def figures(self, admissions: int, wrote: int) -> dict:
        per = lambda x: round(x / admissions, 1)  # noqa: E731
        if self.kind == "InMemoryLedgerStore":
            return {"bytes_per_admission": None}
        if not self.requests:  # a local store: bytes its process wrote (write(2) and friends)
            return {"bytes_per_admission": round(wrote / admissions)}
        row = {
            "bytes_per_admission": round(self.bytes_sent / admissions),
            "bytes_received_per_admission": round(self.bytes_received / admissions),
            "requests_per_admission": {k: per(v) for k, v in sorted(self.requests.items())},
        }
        if self.kind == "DynamoDBLedgerStore":
            row |= {
                "items_written_per_admission": per(self.items_written),
                "condition_checks_per_admission": per(self.condition_checks),
                "items_read_per_admission": per(self.items_read),
                "est_wcu_per_admission": per(self.write_units),
                "est_rcu_per_admission": per(self.read_units),
            }
        return row


def _wchar() -> int:
    """Bytes this process has handed to write calls (Linux ``/proc/self/io``); 0 elsewhere."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Ledger:
    """One store pre-populated with ``history`` finished claims, and what its measured admissions cost."""

    def __init__(self, kind: str, history: int, blocks: int, workdir: str) -> None:
        self.kind, self.history, self.blocks = kind, history, blocks
        self.store, client = make_store(kind, workdir)
        self.gw = Gateway(
            self.store, {"noop": NoopLauncher()}, inspect=lambda p, f: dict(COLUMNS), default_launcher="noop"
        )
        self.gw.init(PolicySettings(policy="dpf-n", n=50))
        self.gw.add_dataset("purchases", "/bench", DataFormat.PARQUET, "day")
        self.gw.add_blocks("purchases", FIRST, FIRST + dt.timedelta(days=blocks - 1), Budget.capacity(1))
        self.populate_s = populate(self.store, client, self.gw, history, blocks)
        self.gw.submit(spec(1, blocks))  # warm caches (the first read of a store in a process)
        self.counter = Counter(self.store, client)
        self.times: list[float] = []
        self.copies: list[float] = []  # seconds moto spent copying tables during each admission
        self.queries: list[float] = []  # seconds moto spent in Query (a scan of the table) during each
        self.wrote = 0  # bytes this process wrote during the admissions (the local directory store)

    def admit(self, i: int, moto_seconds) -> None:
        before = list(moto_seconds) if moto_seconds is not None else [0.0, 0.0]
        wrote = _wchar()
        t0 = time.perf_counter()
        self.gw.submit(spec(i, self.blocks))
        self.times.append(time.perf_counter() - t0)
        self.wrote += _wchar() - wrote
        after = list(moto_seconds) if moto_seconds is not None else [0.0, 0.0]
        self.copies.append(after[0] - before[0])
        self.queries.append(after[1] - before[1])
        if self.kind == "dynamodb":  # slow on moto: one line per admission as progress
            print(f"dynamodb N={self.history:,}: {self.times[-1]:.2f} s", file=sys.stderr, flush=True)

    def row(self) -> dict:
        part = sorted(self.times)
        row = {
            "store": self.kind,
            "history": self.history,
            "populate_s": round(self.populate_s, 1),
            "submissions": len(part),
            "median_ms": round(statistics.median(part) * 1e3, 2),
            "p95_ms": round(part[math.ceil(0.95 * len(part)) - 1] * 1e3, 2),
        }
        row |= self.counter.figures(len(part), self.wrote)
        if self.kind == "dynamodb":  # moto's work that grows with the table, and the latency without it
            row["moto_copy_ms_per_admission"] = round(statistics.mean(self.copies) * 1e3, 2)
            row["moto_query_ms_per_admission"] = round(statistics.mean(self.queries) * 1e3, 2)
            less = [t - c - q for t, c, q in zip(self.times, self.copies, self.queries, strict=True)]
            row["median_ms_less_moto_table_work"] = round(statistics.median(less) * 1e3, 2)
        return row


def measure(kind: str, histories: list[int], submissions: int, blocks: int, workdir: str, moto_seconds) -> list:
    """Fill one ledger per N, then admit the same submissions to each in turn (N=0, N=10,000, ..., next
    submission), so a change in the machine's load touches every N alike."""
    ledgers = []
    for n in histories:
        ledgers.append(Ledger(kind, n, blocks, workdir))
        print(f"{kind}: {n:,} finished claims filled in {ledgers[-1].populate_s:.1f} s", file=sys.stderr, flush=True)
    for i in range(2, submissions + 2):
        for ledger in ledgers:
            ledger.admit(i, moto_seconds)
    return [ledger.row() for ledger in ledgers]


def table(rows: list[dict]) -> str:
    """Per store, N side by side: median, p95, bytes per admission, fill time, and the median's ratio to N=0."""
    histories = sorted({r["history"] for r in rows})
    lines = [f"{'store':<9}{'figure':<22}" + "".join(f"{'N=' + format(n, ','):>14}" for n in histories)]
    figures = [
        ("median ms", "median_ms"),
        ("p95 ms", "p95_ms"),
        ("median / median N=0", None),
        ("bytes / admission", "bytes_per_admission"),
        ("fill s", "populate_s"),
        ("moto table copy ms", "moto_copy_ms_per_admission"),
        ("moto Query ms", "moto_query_ms_per_admission"),
        ("median less both ms", "median_ms_less_moto_table_work"),
        ("items written / adm", "items_written_per_admission"),
        ("items read / adm", "items_read_per_admission"),
        ("est WCU / admission", "est_wcu_per_admission"),
        ("est RCU / admission", "est_rcu_per_admission"),
    ]
    for store in dict.fromkeys(r["store"] for r in rows):
        by_n = {r["history"]: r for r in rows if r["store"] == store}
        base = by_n.get(0, {}).get("median_ms")
        for title, key in figures:
            if key is None:
                values = [by_n[n]["median_ms"] / base if n in by_n and base else None for n in histories]
                cells = [f"{v:.2f}x" if v is not None else "-" for v in values]
            else:
                if all(by_n.get(n, {}).get(key) is None for n in histories):
                    continue
                cells = [_cell(by_n.get(n, {}).get(key)) for n in histories]
            lines.append(f"{store:<9}{title:<22}" + "".join(f"{c:>14}" for c in cells))
        requests = {n: by_n[n].get("requests_per_admission") for n in histories if n in by_n}
        if any(requests.values()):
            for n, ops in requests.items():
                lines.append(f"{store:<9}requests/adm N={n:,}: " + ", ".join(f"{k} {v}" for k, v in ops.items()))
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def history_main(args) -> None:
    stores = args.stores.split(",")
    histories = [int(n) for n in args.history.split(",")]
    moto_seconds = None
    if {"s3", "dynamodb"} & set(stores):
        _, moto_seconds = start_moto_process(args.moto_max_gb)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for kind in stores:
            submissions = args.dynamodb_submissions if kind == "dynamodb" else args.submissions
            for row in measure(kind, histories, submissions, args.blocks, workdir, moto_seconds):
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)  # progress, one line per measurement
    print(table(rows))
    if args.json:
        print(json.dumps(rows, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=None)
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument("--history", help="comma-separated counts of finished claims to pre-populate, e.g. 0,10000")
    parser.add_argument("--stores", default="memory,file", help="with --history: memory,file,s3,dynamodb")
    parser.add_argument(
        "--dynamodb-submissions",
        type=int,
        default=3,
        help="with --history: admissions measured on DynamoDB (moto copies the table per transaction action)",
    )
    parser.add_argument("--moto-max-gb", type=float, default=8.0, help="stop if the moto server holds more memory")
    parser.add_argument("--json", action="store_true", help="with --history: the rows as JSON after the table")
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
