"""Sweeps: one workload, several policies, a range of N (or T), and the granted-vs-N figure.

N and T are made comparable as in the paper's microbenchmarks: T = N x the mean arrival interval, so
DPF-N with N and DPF-T with T = N x interval unlock at the same average pace (note section 9).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from gateway.core.scheduling import PolicySettings, make_policy
from gateway.core.scheduling.policy import Order
from gateway.errors import GatewayValidationError
from gateway.simulation.metrics import SimulationReport
from gateway.simulation.replay import ReplayOptions, replay
from gateway.simulation.workloads import Workload

TIME_POLICIES = {"dpf-t", "rr-t", "dpack"}


def settings_for(
    policy: str, workload: Workload, n: int | None = None, t: float | None = None, order: Order = "sorted"
) -> PolicySettings:
    """Settings for ``policy`` from N or T (the other derived through the mean arrival interval)."""
    if n is None and t is None:
        n = 100
    if n is None:
        assert t is not None
        n = max(1, round(t / workload.arrival_interval))
    if t is None:
        t = n * workload.arrival_interval
    lifetime = t if policy in TIME_POLICIES else None
    settings = PolicySettings(policy=policy, n=n, lifetime=lifetime, order=order)
    make_policy(settings)
    return settings


def parse_sweep(text: str) -> tuple[str, list[float]]:
    """``n=1,50,100`` or ``t=10,60``."""
    name, _, values = text.partition("=")
    name = name.strip().lower()
    try:
        numbers = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        numbers = []
    if name not in {"n", "t"} or not numbers:
        raise GatewayValidationError(f"--sweep {text!r} is not understood; write e.g. n=1,50,100 or t=30,60")
    return name, numbers


def run_sweep(
    workload: Workload,
    policies: Sequence[str],
    axis: str,
    values: Iterable[float],
    options: ReplayOptions,
    order: Order = "sorted",
) -> list[SimulationReport]:
    reports = []
    for policy in policies:
        for value in values:
            if axis == "n":
                settings = settings_for(policy, workload, n=int(value), order=order)
            else:
                settings = settings_for(policy, workload, t=value, order=order)
            reports.append(replay(workload, settings, options))
    return reports


def _x(value: float | None) -> float:
    return math.nan if value is None else float(value)


def plot(reports: Sequence[SimulationReport], axis: str, path: Path, title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise GatewayValidationError(
            "plotting needs matplotlib; install it with: pip install 'dp-gateway[simulate]'"
        ) from None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs_all: list[float] = []
    for policy in dict.fromkeys(r.policy for r in reports):
        mine = [r for r in reports if r.policy == policy]
        xs = [_x(r.n if axis == "n" else r.lifetime or r.n) for r in mine]
        ax.plot(xs, [r.granted for r in mine], marker="o", label=policy)
        xs_all.extend(x for x in xs if x > 0)
    if xs_all and max(xs_all) / min(xs_all) >= 100:
        ax.set_xscale("log")  # N spans orders of magnitude (1 ... 10,000)
    ax.set_xlabel("N (arrivals that unlock a block)" if axis == "n" else "T (seconds)")
    ax.set_ylabel("granted tasks")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
