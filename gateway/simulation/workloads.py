"""Workloads: the two microbenchmarks of PrivateKube's simulator (note section 9) and trace files.

A workload is a block schedule plus a list of tasks. A task asks for the most recent ``blocks`` blocks
at its arrival, with a demand given as epsilon (basic composition; turned into the curve of its
calibrated Gaussian mechanism under RDP) or as an RDP curve over an alpha list.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gateway.errors import GatewayValidationError

MICE_EPSILON, ELEPHANT_EPSILON = 0.01, 0.1


@dataclass(frozen=True, slots=True)
class Task:
    arrival: float
    epsilon: float | None  # basic demand (per block)
    blocks: int = 1  # the most recent k blocks
    weight: float = 1.0
    curve: tuple[float, ...] | None = None  # an explicit RDP demand over ``Workload.alphas``
    mice: bool = True  # demand class, for the per-class report


@dataclass(frozen=True)
class Workload:
    name: str
    tasks: tuple[Task, ...]
    duration: float  # the run ends here; still-waiting tasks count as not granted
    block_interval: float | None = None  # None: a static set of blocks
    initial_blocks: int = 1
    block_epsilon: float = 1.0
    block_delta: float = 1e-6  # RDP only
    timeout: float | None = None  # None: tasks wait until the end
    arrival_interval: float = 1.0  # mean, used for the default tick (0.5 x interval, as the artifact)
    alphas: tuple[float, ...] | None = None  # the alpha list of explicit curves

    def block_times(self) -> list[float]:
        times = [0.0] * self.initial_blocks
        if self.block_interval:
            t = self.block_interval
            while t < self.duration:
                times.append(t)
                t += self.block_interval
        return times


def _poisson(interval: float, duration: float, rng: random.Random) -> Iterable[float]:
    t = rng.expovariate(1 / interval)
    while t < duration:
        yield t
        t += rng.expovariate(1 / interval)


def _epsilon(mice: bool, rng: random.Random, jitter: bool) -> float:
    eps = MICE_EPSILON if mice else ELEPHANT_EPSILON
    return eps * rng.uniform(0.9999999, 1) if jitter else eps  # note Q10: the artifact's tie breaker


def pk_single_block(rdp: bool = False, seed: int = 3345, jitter: bool = False, mice_share: float = 0.75) -> Workload:
    """One static block, Poisson arrivals 1/s, 75 % mice, 300 s timeout (PrivateKube Figs 6, 7, 16, 17)."""
    rng = random.Random(seed)
    duration = (14514 if rdp else 100) * 2.3625
    tasks = []
    for t in _poisson(1.0, duration, rng):
        mice = rng.random() < mice_share
        tasks.append(Task(t, _epsilon(mice, rng, jitter), 1, mice=mice))
    return Workload("pk-single-block", tuple(tasks), duration, None, 1, timeout=300.0, arrival_interval=1.0)


def pk_multi_block(rdp: bool = False, seed: int = 3345, jitter: bool = False, mice_share: float = 0.75) -> Workload:
    """A block every 10 s (12 at t=0, Q13), tasks on the last 1 (p=.75) or 10 blocks, 300 s, no timeout (Figs 8-10)."""
    rng = random.Random(seed)
    interval = 0.004264781 if rdp else 0.078125
    tasks = []
    for t in _poisson(interval, 300.0, rng):
        mice = rng.random() < mice_share
        few = rng.random() < 0.75
        tasks.append(Task(t, _epsilon(mice, rng, jitter), 1 if few else 10, mice=mice))
    return Workload("pk-multi-block", tuple(tasks), 300.0, 10.0, 12, arrival_interval=interval)


BUILTIN = {"pk-single-block": pk_single_block, "pk-multi-block": pk_multi_block}

FIELDS = "arrival, epsilon | (rdp and alphas), blocks (most recent k, default 1), weight (default 1)"


def _task(record: dict[str, Any], where: str) -> tuple[Task, tuple[float, ...] | None]:
    try:
        arrival = float(record["arrival"])
        blocks = int(record.get("blocks") or 1)
        weight = float(record.get("weight") or 1)
        eps_raw = record.get("epsilon")
        curve = record.get("rdp")
        alphas = record.get("alphas")
        if isinstance(curve, str):
            curve, alphas = json.loads(curve), json.loads(alphas or "null")
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayValidationError(f"{where}: bad task record ({exc}); each record needs {FIELDS}") from None
    if (eps_raw in (None, "")) == (curve is None):
        raise GatewayValidationError(f"{where}: give exactly one of epsilon or rdp (with alphas)")
    if blocks < 1 or weight <= 0 or arrival < 0:
        raise GatewayValidationError(f"{where}: arrival must be >= 0, blocks >= 1 and weight > 0")
    if curve is not None:
        if not alphas or len(alphas) != len(curve):
            raise GatewayValidationError(f"{where}: an rdp curve needs an alphas list of the same length")
        cur = tuple(float(x) for x in curve)
        return Task(arrival, None, blocks, weight, curve=cur, mice=blocks == 1), tuple(float(a) for a in alphas)
    eps = float(eps_raw)  # type: ignore[arg-type]
    if eps <= 0:
        raise GatewayValidationError(f"{where}: epsilon must be > 0")
    return Task(arrival, eps, blocks, weight, mice=eps <= MICE_EPSILON * 1.0000001), None


def load_file(path: Path, **schedule: Any) -> Workload:
    """Read a CSV or JSONL trace (one task per line: {FIELDS}); ``schedule`` sets the block schedule."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise GatewayValidationError(f"cannot read workload file {path}: {exc.strerror}") from None
    if path.suffix == ".jsonl":
        try:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise GatewayValidationError(f"{path}: line {exc.lineno} is not JSON") from None
    elif path.suffix == ".csv":
        records = list(csv.DictReader(io.StringIO(text)))
    else:
        raise GatewayValidationError(f"workload file {path} must end in .csv or .jsonl")
    tasks, alphas = [], None
    for i, record in enumerate(records, 1):
        task, task_alphas = _task(record, f"{path}:{i}")
        if task_alphas is not None:
            if alphas not in (None, task_alphas):
                raise GatewayValidationError(f"{path}:{i}: every rdp curve must use the same alphas list")
            alphas = task_alphas
        tasks.append(task)
    if not tasks:
        raise GatewayValidationError(f"workload file {path} holds no tasks")
    tasks.sort(key=lambda t: t.arrival)
    last = tasks[-1].arrival
    interval = last / len(tasks) if last > 0 else 1.0
    defaults: dict[str, Any] = {"duration": last + 1.0, "arrival_interval": interval}
    defaults.update({k: v for k, v in schedule.items() if v is not None})
    return Workload(path.stem, tuple(tasks), alphas=alphas, **defaults)


def resolve(name_or_file: str, rdp: bool, seed: int, jitter: bool = False, **schedule: Any) -> Workload:
    if name_or_file in BUILTIN:
        workload = BUILTIN[name_or_file](rdp=rdp, seed=seed, jitter=jitter)
        extra = {k: v for k, v in schedule.items() if v is not None}
        return replace(workload, **extra) if extra else workload
    path = Path(name_or_file)
    if not path.exists():
        raise GatewayValidationError(
            f"no workload {name_or_file!r}: use {' or '.join(BUILTIN)}, or a .csv/.jsonl trace file"
        )
    return load_file(path, **schedule)
