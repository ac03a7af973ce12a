"""Team mode's own cost over HTTP: token check, a submission through ``dpgw serve``'s app, a status read.

The service runs on uvicorn on 127.0.0.1 (a thread of this process) over a local directory ledger, with a
launcher that starts nothing; the client is the CLI's remote backend (urllib). A submission's answer
includes the scheduling pass it waits for, so compare it with ``overhead.py``'s embedded submit.

    python bench/api.py [--submissions 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from overhead import COLUMNS, FIRST, NoopLauncher

from gateway.api import create_app
from gateway.cli.client import RemoteBackend
from gateway.core.budget import Budget
from gateway.core.datasets import DataFormat
from gateway.core.scheduling import PolicySettings
from gateway.ledger import FileLedgerStore
from gateway.service import Gateway
from gateway.team import Analysts


def spec_text(i: int) -> str:
    return (
        "engine: tumult\ndataset: purchases\nblocks: {last: 3}\n"
        f"budget: {{epsilon: {0.001 * (1 + i % 10):.3f}}}\nprivacy_unit: row\naggregate: {{function: count}}\n"
    )


def summary(times: list[float]) -> str:
    part = sorted(times)
    return f"median {statistics.median(part) * 1e3:7.2f} ms  p95 {part[int(0.95 * (len(part) - 1))] * 1e3:7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store_dir = Path(tmp) / "ledger"

        def gateway() -> Gateway:
            launchers = {"noop": NoopLauncher()}
            return Gateway(
                FileLedgerStore(store_dir), launchers, inspect=lambda p, f: dict(COLUMNS), default_launcher="noop"
            )

        gw = gateway()
        gw.init(PolicySettings(policy="dpf-n", n=50))
        gw.add_dataset("purchases", "/bench", DataFormat.PARQUET, "day")
        gw.add_blocks("purchases", FIRST, FIRST + dt.timedelta(days=29), Budget.capacity(1))
        _, token = Analysts(gw).add("ann")

        server = uvicorn.Server(
            uvicorn.Config(create_app(gateway, interval=3600), host="127.0.0.1", port=0, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        client = RemoteBackend(f"http://127.0.0.1:{port}", token)

        t0 = time.perf_counter()
        client.list()
        first = time.perf_counter() - t0  # the token's scrypt check; later requests find it verified

        submits, reads = [], []
        for i in range(args.submissions):
            t0 = time.perf_counter()
            claim = client.submit(spec_text(i), None)
            submits.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            client.status(claim.id)
            reads.append(time.perf_counter() - t0)
        server.should_exit = True
        thread.join(10)
    print(f"first request (token check): {first * 1e3:7.2f} ms")
    print(f"submit over HTTP, incl. its scheduling pass ({args.submissions}): {summary(submits)}")
    print(f"status over HTTP ({args.submissions}):                            {summary(reads)}")


if __name__ == "__main__":
    main()
