"""Privacy-scheduling microbenchmarks: the cost of one DPF pass, then a sweep of N on PrivateKube's workloads.

1. One DPF-N pass over 10,000 pending claims (all distinct: no grouping shortcut) on 1,000 blocks, with
   the ledger's exact Decimal accounts and with the simulator's float arrays.
2. DPF-N, FCFS and RR-N over the N values of the note (section 9) on pk-single-block and pk-multi-block,
   basic composition and RDP (round robin has no RDP variant, as in the artifact). Writes
   bench/out/sweep.csv and one PNG per (workload, accounting), and prints each replay's run time.

    python bench/sweep.py [--quick] [--skip-pass]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.core.scheduling import Group, PolicySettings, make_policy, run_pass
from gateway.simulation import ReplayOptions, replay
from gateway.simulation.accounts import ArrayAccounts
from gateway.simulation.sweep import plot, settings_for
from gateway.simulation.workloads import pk_multi_block, pk_single_block

OUT = Path(__file__).resolve().parent / "out"
N_VALUES = {
    ("pk-single-block", False): [1, 10, 50, 75, 100, 125, 175, 200, 225, 275, 325],
    ("pk-single-block", True): [1, 1451, 7257, 10885, 14514, 18142, 25399, 29028, 32656, 39913, 47170],
    ("pk-multi-block", False): [1, 10, 50, 75, 100, 125, 175, 210, 275, 325, 375, 750, 1125, 1500, 3000, 6000, 10000],
    ("pk-multi-block", True): [1, 1451, 7257, 10885, 14514, 18142, 25399, 30479],
}
QUICK = {key: values[:: max(1, len(values) // 4)] for key, values in N_VALUES.items()}


class Pending:
    def __init__(self, claim_id: str, at: dt.datetime, demands: dict[str, Budget]) -> None:
        self.id, self.submitted_at, self._demands = claim_id, at, demands

    def demands(self) -> dict[str, Budget]:
        return self._demands


def pass_benchmark(claims: int = 10_000, blocks: int = 1_000, seed: int = 7) -> None:
    rng = random.Random(seed)
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cap = Budget.capacity(10)
    ledger_blocks = {
        f"d/{j:04d}": Block(
            "d",
            dt.date(2020, 1, 1) + dt.timedelta(days=j),
            cap,
            Budget.capacity(rng.uniform(0.5, 5)),
            Budget(),
            Budget(),
        )
        for j in range(blocks)
    }
    keys = list(ledger_blocks)
    shapes = []
    pending = []
    for i in range(claims):
        k = 1 if rng.random() < 0.75 else 10
        start = rng.randrange(blocks - k + 1)
        eps = rng.uniform(0.01, 0.5)
        shapes.append((start, k, eps))
        demand = Budget.demand(round(eps, 6))
        demands = {keys[j]: demand for j in range(start, start + k)}
        pending.append(Pending(f"c{i}", t0 + dt.timedelta(milliseconds=i), demands))
    policy = make_policy(PolicySettings(policy="dpf-n", n=100))

    started = time.perf_counter()
    outcome = run_pass(pending, ledger_blocks, policy)
    exact = time.perf_counter() - started

    accounts = ArrayAccounts(1, rdp=False)
    for block in ledger_blocks.values():
        j = accounts.add_block([10.0], 0.0)
        accounts.release(j, float(block.unlocked.epsilon) / 10, False)
    groups = []
    for i, (start, k, eps) in enumerate(shapes):
        d = np.asarray([round(eps, 6)])
        g = Group(tuple(range(start, start + k)), (d,) * k)
        g.members.append((float(i), i))
        groups.append(g)
    started = time.perf_counter()
    result = policy.admit(groups, accounts)
    fast = time.perf_counter() - started
    print(
        f"DPF pass, {claims} distinct pending claims on {blocks} blocks: exact Decimal ledger accounts "
        f"{exact * 1000:.0f} ms ({len(outcome.admitted)} admitted); float arrays {fast * 1000:.0f} ms "
        f"({len(result.admitted)} admitted)",
        flush=True,
    )


def sweep(quick: bool) -> None:
    OUT.mkdir(exist_ok=True)
    values = QUICK if quick else N_VALUES
    rows = []
    total = time.perf_counter()
    for (name, rdp), ns in values.items():
        workload = (pk_single_block if name == "pk-single-block" else pk_multi_block)(rdp=rdp)
        policies = ["dpf-n", "fcfs"] if rdp else ["dpf-n", "fcfs", "rr-n"]
        reports = []
        for policy in policies:
            for n in ns if policy != "fcfs" else ns[:1]:
                report = replay(workload, settings_for(policy, workload, n=n), ReplayOptions(rdp=rdp))
                if policy == "fcfs":  # FCFS ignores N: one replay, drawn as a flat line
                    reports += [replace(report, n=m) for m in ns]
                else:
                    reports.append(report)
                mode = "RDP" if rdp else "basic"
                print(
                    f"{name:16} {mode:5} {policy:6} N={n:<6} arrivals {report.arrivals:6} granted "
                    f"{report.granted:6}  run time {report.run_time_s:6.2f}s",
                    flush=True,
                )
        rows += reports
        suffix = "rdp" if rdp else "basic"
        plot(reports, "n", OUT / f"sweep-{name}-{suffix}.png", f"{name} ({suffix})")
    with (OUT / "sweep.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "workload",
                "accounting",
                "policy",
                "n",
                "arrivals",
                "granted",
                "rejected",
                "timed_out",
                "pending_at_end",
                "run_time_s",
            ]
        )
        for r in rows:
            writer.writerow(
                [
                    r.workload,
                    "rdp" if r.rdp else "basic",
                    r.policy,
                    r.n,
                    r.arrivals,
                    r.granted,
                    r.rejected,
                    r.timed_out,
                    r.pending_at_end,
                    f"{r.run_time_s:.3f}",
                ]
            )
    print(f"whole sweep: {time.perf_counter() - total:.1f}s; wrote {OUT / 'sweep.csv'} and the PNGs", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a quarter of the N values")
    parser.add_argument("--skip-pass", action="store_true", help="skip the single-pass benchmark")
    args = parser.parse_args()
    if not args.skip_pass:
        pass_benchmark()
    sweep(args.quick)
