"""The gateway's own overhead per submission: submit (validate + arrival commit) + scheduling pass +
launch bookkeeping, with a launcher that starts nothing, so Spark is out of the picture.

Prints per-submission latency as the ledger grows, for the local directory store and the in-memory
reference store side by side (the difference is the cost of the JSON document and fsync).

    python bench/overhead.py [--submissions 1000] [--blocks 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from gateway.core.budget import Budget
from gateway.core.datasets import ColumnType, DataFormat
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec
from gateway.launchers import RunState, RunStatus
from gateway.ledger import FileLedgerStore, InMemoryLedgerStore
from gateway.service import Gateway

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
    return parse_spec({
        "engine": "tumult" if i % 2 else "pipelinedp", "dataset": "purchases", "analyst": f"a{i % 5}",
        "blocks": {"from": start.isoformat(), "to": (start + dt.timedelta(days=last - 1)).isoformat()},
        "budget": {"epsilon": 0.001 * (1 + i % 10)}, "privacy_unit": "row",
        "aggregate": {"function": "count"}, "group_by": {"column": "region", "keys": ["n", "s"]},
    })


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--blocks", type=int, default=30)
    args = parser.parse_args()
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
