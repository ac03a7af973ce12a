"""Admissions per second on a shared ledger, per store, with 1, 4 and 16 concurrent clients.

An admission is what a submission costs the ledger before its launch: the arrival commit (the claim
is recorded, the blocks count it) and the admission commit (budget reserved). Each client is its own
process with its own gateway, started before the clock and released together; demands are small so
nothing is refused. S3 and DynamoDB run on one moto server on loopback whose request handling is
serialized (moto is not linearizable; see ../shared/notes/aws-local-testing.md), so their figures
measure the gateway plus moto's Python, not AWS. The local directory store is shown for reference.

    python bench/ledger_throughput.py [--clients 1 4 16] [--admissions 48] [--stores file s3 dynamodb]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import socket
import statistics
import tempfile
import threading
import time
import uuid

from gateway.core import ledger as core
from gateway.core.budget import Budget
from gateway.core.datasets import ColumnType, DataFormat, Dataset
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec
from gateway.ledger import open_store
from gateway.service import Gateway

COLUMNS = {"day": ColumnType.DATE, "v": ColumnType.DOUBLE}
DATASET = Dataset(name="events", path="/bench", format=DataFormat.PARQUET, time_column="day", columns=COLUMNS)
FIRST = dt.date(2026, 10, 1)
BLOCKS = 30
BUCKET = "dpgw-bench"


def gateway(url: str) -> Gateway:
    return Gateway(open_store(url), {}, inspect=lambda p, f: dict(COLUMNS), default_launcher="none", max_retries=200)


def admit_one(gw: Gateway, client: int, i: int) -> None:
    start = FIRST + dt.timedelta(days=(7 * client + 3 * i) % (BLOCKS - 2))  # clients spread over the blocks
    spec = parse_spec(
        {
            "engine": "tumult",
            "dataset": "events",
            "analyst": f"a{client}",
            "client_id": f"{client}-{i}",
            "blocks": {"from": start.isoformat(), "to": (start + dt.timedelta(days=(client + i) % 3)).isoformat()},
            "budget": {"epsilon": "0.001"},
            "privacy_unit": "row",
            "aggregate": {"function": "count"},
        }
    )
    arrived = gw._mutate(lambda s, now: core.arrive(s, core.prepare_claim(s, spec, now, f"{client}-{i}", "none"), now))
    while arrived.claim(f"{client}-{i}").state.value == "pending":  # admit in policy order, ours included
        arrived = gw._mutate(core.schedule_next)


def client(url: str, number: int, count: int, start, results) -> None:
    gw = gateway(url)
    gw.store.load()
    start.wait()
    latencies = []
    for i in range(count):
        began = time.perf_counter()
        admit_one(gw, number, i)
        latencies.append(time.perf_counter() - began)
    results.put(latencies)


def measure(url: str, clients: int, total: int) -> tuple[float, list[float]]:
    store = open_store(url)
    store.create(PolicySettings(policy="fcfs"))
    gw = gateway(url)
    gw._mutate(lambda s, now: core.add_dataset(s, DATASET, now))
    gw.add_blocks("events", FIRST, FIRST + dt.timedelta(days=BLOCKS - 1), Budget.capacity(1000))
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    per_client = max(1, total // clients)
    procs = [ctx.Process(target=client, args=(url, n, per_client, start, results)) for n in range(clients)]
    for p in procs:
        p.start()
    time.sleep(3)  # let every client import and connect before the clock starts
    began = time.perf_counter()
    start.set()
    latencies = [x for _ in procs for x in results.get()]
    elapsed = time.perf_counter() - began
    for p in procs:
        p.join()
    state = open_store(url).load()
    granted = sum(c.state.value == "admitted" for c in state.claims.values())
    assert granted == per_client * clients, f"{granted} admitted, expected {per_client * clients}"
    return granted / elapsed, latencies


def start_moto() -> str:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.server import ThreadedMotoServer

    lock = threading.Lock()
    dispatch = DomainDispatcherApplication.__call__

    def serialized(self, environ, start_response):
        with lock:
            return list(dispatch(self, environ, start_response))

    DomainDispatcherApplication.__call__ = serialized
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    import boto3

    boto3.session.Session().client("s3").create_bucket(Bucket=BUCKET)
    return endpoint


def url_for(kind: str, workdir: str) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    return {"file": f"{workdir}/{name}", "s3": f"s3://{BUCKET}/{name}", "dynamodb": f"dynamodb://{name}"}[kind]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--admissions", type=int, default=48, help="admissions per measurement (split over clients)")
    parser.add_argument("--stores", nargs="+", default=["file", "s3", "dynamodb"])
    args = parser.parse_args()
    if {"s3", "dynamodb"} & set(args.stores):
        print(f"moto server (serialized) at {start_moto()}")
    print(f"{'store':<9} {'clients':>7} {'admissions/s':>13} {'latency p50 ms':>15} {'p95 ms':>8}")
    with tempfile.TemporaryDirectory() as workdir:
        for kind in args.stores:
            for clients in args.clients:
                rate, latencies = measure(url_for(kind, workdir), clients, args.admissions)
                p50 = statistics.median(latencies) * 1000
                p95 = statistics.quantiles(latencies, n=20)[-1] * 1000 if len(latencies) > 1 else p50
                print(f"{kind:<9} {clients:>7} {rate:>13.1f} {p50:>15.1f} {p95:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
