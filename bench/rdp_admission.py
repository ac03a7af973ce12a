"""How much more work the same block budgets admit under Rényi-DP accounting than under basic composition.

The same stream of small Gaussian queries (ε, δ) over 30 daily blocks of (ε, δ) = (10, 1e-7) goes
through the real gateway twice, once on a ledger made with ``--accounting basic`` and once with
``--accounting rdp``, with a launcher that starts nothing (so Spark is out of the picture; a finished
job is charged its whole grant). Prints both admitted counts and their ratio.

    python bench/rdp_admission.py [--submissions 8000] [--policy fcfs] [--epsilon 0.5] [--delta 1e-9]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.datasets import ColumnType, DataFormat
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import QuerySpec, parse_spec
from gateway.launchers import RunState, RunStatus
from gateway.ledger import InMemoryLedgerStore
from gateway.service import Gateway

COLUMNS = {"day": ColumnType.DATE, "amount": ColumnType.DOUBLE, "region": ColumnType.STRING}
FIRST = dt.date(2026, 10, 1)
BLOCKS = 30


class NoopLauncher:
    name = "noop"

    def output_for(self, submission_id: str) -> str:
        return f"noop://{submission_id}"

    def launch(self, request: object, start_by: float = float("inf")) -> str:
        return f"noop-{getattr(request, 'submission_id', '')}"

    def poll(self, run_id: str, submission_id: str) -> RunStatus:
        return RunStatus(RunState.FAILED, "the no-op launcher runs nothing")  # charged the whole grant

    def find_run(self, submission_id: str) -> str | None:
        return f"noop-{submission_id}"


def spec(i: int, epsilon: float, delta: float) -> QuerySpec:
    """Query i reads 1-7 consecutive days; the stream is deterministic, so both ledgers see the same one."""
    last = 1 + (i * 5) % 7
    start = FIRST + dt.timedelta(days=(i * 11) % (BLOCKS - last + 1))
    return parse_spec(
        {
            "engine": "pipelinedp",
            "dataset": "purchases",
            "analyst": f"a{i % 5}",
            "blocks": {"from": start.isoformat(), "to": (start + dt.timedelta(days=last - 1)).isoformat()},
            "budget": {"epsilon": epsilon, "delta": delta},
            "privacy_unit": "row",
            "aggregate": {"function": "count"},
            "group_by": {"column": "region", "keys": ["n", "s"]},
        }
    )


def admitted(accounting: str, policy: str, submissions: int, epsilon: float, delta: float) -> int:
    gw = Gateway(
        InMemoryLedgerStore(), {"noop": NoopLauncher()}, inspect=lambda p, f: dict(COLUMNS), default_launcher="noop"
    )
    gw.init(PolicySettings(policy=policy, accounting=accounting))  # type: ignore[arg-type]
    gw.add_dataset("purchases", "/bench", DataFormat.PARQUET, "day")
    gw.add_blocks("purchases", FIRST, FIRST + dt.timedelta(days=BLOCKS - 1), Budget.capacity(10, "1e-7"))
    for i in range(submissions):
        gw.submit(spec(i, epsilon, delta))
    gw.schedule()
    granted = {ClaimState.ADMITTED, ClaimState.LAUNCHING, ClaimState.RUNNING, ClaimState.SUCCEEDED, ClaimState.FAILED}
    return sum(1 for c in gw.state().claims.values() if c.state in granted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=8000)
    parser.add_argument("--policy", default="fcfs")
    parser.add_argument("--epsilon", type=float, default=0.5)
    parser.add_argument("--delta", type=float, default=1e-9)
    args = parser.parse_args()
    counts = {}
    for accounting in ("basic", "rdp"):
        t0 = time.perf_counter()
        counts[accounting] = admitted(accounting, args.policy, args.submissions, args.epsilon, args.delta)
        print(
            f"{accounting:>5}: {counts[accounting]:6d} of {args.submissions} admitted "
            f"({time.perf_counter() - t0:.1f} s)"
        )
    ratio = counts["rdp"] / counts["basic"] if counts["basic"] else float("inf")
    print(
        f"policy {args.policy}, {BLOCKS} blocks of (10, 1e-7), Gaussian queries (ε, δ) = ({args.epsilon:g}, "
        f"{args.delta:g}) on 1-7 blocks: rdp admits {ratio:.1f}x as many as basic"
    )


if __name__ == "__main__":
    main()
