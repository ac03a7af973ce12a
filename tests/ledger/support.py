"""What the store contract, concurrency and fault tests share: a ledger set-up, a launcher whose runs
are files (so several processes see them), and the books-balance check."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

from gateway.core import ledger as core
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.datasets import ColumnType, DataFormat, Dataset
from gateway.core.jobs import GroupValue, JobOutcome, JobRequest, JobResult
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec
from gateway.launchers import RunState, RunStatus
from gateway.launchers.base import check_start_deadline
from gateway.service import Gateway, no_checkpoint

DATASET = Dataset(
    name="events",
    path="/data",
    format=DataFormat.PARQUET,
    time_column="day",
    columns={"day": ColumnType.DATE, "v": ColumnType.DOUBLE},
)
FIRST, LAST = dt.date(2026, 10, 1), dt.date(2026, 10, 2)
COLUMNS = dict(DATASET.columns)


def spec(eps, client_id=None, analyst="ann", last=2):
    data = {
        "engine": "tumult",
        "dataset": "events",
        "analyst": analyst,
        "blocks": {"last": last},
        "budget": {"epsilon": eps},
        "privacy_unit": "row",
        "aggregate": {"function": "count"},
    }
    if client_id:
        data["client_id"] = client_id
    return parse_spec(data)


class FileRunLauncher:
    """Runs are files under ``root``: ``runs/<submission>`` at launch, ``done/<submission>`` to finish."""

    name = "files"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        (self.root / "done").mkdir(parents=True, exist_ok=True)

    def output_for(self, submission_id: str) -> str:
        return str(self.root / "out" / submission_id)

    def launch(self, request: JobRequest, start_by: float = math.inf) -> str:
        check_start_deadline(start_by, f"start {request.submission_id}")
        path = self.root / "runs" / request.submission_id
        if path.exists():
            raise AssertionError(f"{request.submission_id} launched twice")
        record = {"run_id": f"run-{request.submission_id}", "request": request.model_dump(mode="json")}
        path.write_text(json.dumps(record))
        return f"run-{request.submission_id}"

    def find_run(self, submission_id: str) -> str | None:
        path = self.root / "runs" / submission_id
        return json.loads(path.read_text())["run_id"] if path.exists() else None

    def runs(self) -> list[str]:
        return sorted(p.name for p in (self.root / "runs").iterdir())

    def finish_all(self) -> None:
        for name in self.runs():
            (self.root / "done" / name).touch()

    def poll(self, run_id: str, submission_id: str) -> RunStatus:
        if not (self.root / "done" / submission_id).exists():
            return RunStatus(RunState.RUNNING)
        request = JobRequest.model_validate(json.loads((self.root / "runs" / submission_id).read_text())["request"])
        now = dt.datetime.now(dt.UTC)
        result = JobResult(
            submission_id=submission_id,
            engine="tumult",
            engine_version="x",
            dataset="events",
            blocks=request.blocks,
            granted=request.granted,
            spent=request.granted,
            aggregate="count",
            values=[GroupValue(key=None, value=1.0)],
            started_at=now,
            finished_at=now,
        )
        return RunStatus(
            RunState.SUCCEEDED, outcome=JobOutcome(submission_id=submission_id, status="succeeded", result=result)
        )


def gateway_for(store, launcher=None, checkpoint=no_checkpoint, clock=None, **kwargs) -> Gateway:
    launchers = {"files": launcher} if launcher is not None else {}
    extra = {"clock": clock} if clock is not None else {}
    return Gateway(
        store,
        launchers,
        inspect=lambda path, fmt: dict(COLUMNS),
        default_launcher="files",
        checkpoint=checkpoint,
        **extra,
        **kwargs,
    )


def setup_ledger(store, capacity="1", policy="fcfs") -> Gateway:
    store.create(PolicySettings(policy=policy, n=3))
    gw = gateway_for(store)
    gw._mutate(lambda s, now: core.add_dataset(s, DATASET, now))
    gw.add_blocks("events", FIRST, LAST, Budget.capacity(capacity))
    return gw


def check_books(state: core.LedgerState, events: list[core.AuditEvent]) -> None:
    """The privacy guarantee, read three ways: block accounts, claim states and the audit trail agree."""
    granted: dict[str, Budget] = defaultdict(Budget)
    released: dict[str, Budget] = defaultdict(Budget)
    charged: dict[str, Budget] = defaultdict(Budget)
    counts = Counter((e.kind, e.submission_id) for e in events)
    for (kind, sid), n in counts.items():
        assert kind not in ("granted", "charged", "released", "submitted") or n == 1, f"{n} x {kind} for {sid}"
    for e in events:
        target = {"granted": granted, "released": released, "charged": charged}.get(e.kind)
        if target is not None:
            assert e.amount is not None
            for key in e.blocks:
                target[key] = target[key] + e.amount
    for key, block in state.blocks.items():
        assert (block.allocated + block.consumed).fits_in(block.capacity), f"{key} overspent: {block.to_json()}"
        block.check()
        holding = [c for c in state.claims.values() if key in c.blocks and c.state.holds_allocation]
        spent = [
            c for c in state.claims.values() if key in c.blocks and c.state in (ClaimState.SUCCEEDED, ClaimState.FAILED)
        ]
        assert block.allocated == sum((c.demand for c in holding), Budget()), key
        assert block.consumed == sum((c.demand for c in spent), Budget()), key
        assert granted[key] - released[key] == block.allocated + block.consumed, key
        assert charged[key] == block.consumed, key
    for claim in state.claims.values():
        assert counts[("submitted", claim.id)] == 1
        was_granted = counts[("granted", claim.id)] == 1
        never_granted = (ClaimState.PENDING, ClaimState.REJECTED, ClaimState.CANCELLED)
        assert was_granted == (claim.state not in never_granted), claim.id


# --- workers run in child processes (spawned: they import this module by name) ---------------------


def submit_worker(url: str, runs: str, process: int, threads: int, per_thread: int, seed: int) -> None:
    """``threads`` gateways in this process, each submitting ``per_thread`` queries; ids collide across
    processes on purpose (every client id is submitted by two gateways at about the same time)."""
    from gateway.ledger import open_store

    errors: list[BaseException] = []

    def run(thread: int) -> None:
        gw = gateway_for(open_store(url), FileRunLauncher(runs), max_retries=100)  # safety, not liveness, on 2 cores
        try:
            for i in range(per_thread):
                client = (process * threads + thread) % (threads * 4)  # processes p and p+4 share ids
                eps = ["0.1", "0.2", "0.3"][(client * 7 + i + seed) % 3]  # the same query for the same id
                gw.submit(spec(eps, f"k{client}-{i}", analyst="team", last=1 + (client + i) % 2))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread below
            errors.append(exc)

    run_threads(run, threads, errors)


def run_threads(run: Callable[[int], None], threads: int, errors: list[BaseException]) -> None:
    """Run ``run(0)`` .. ``run(threads - 1)`` on threads; re-raise the first error they collected."""
    import threading

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]


def crashing_worker(url: str, runs: str, stop_at: str) -> None:
    """A gateway that dies (no clean-up, like a kill) at the step boundary ``stop_at``."""
    import os

    from gateway.ledger import open_store

    def checkpoint(name: str) -> None:
        if name == stop_at:
            os._exit(17)

    launcher = FileRunLauncher(runs)
    gw = gateway_for(open_store(url), launcher, checkpoint=checkpoint)
    gw.submit(spec("0.5", "first"))
    gw.submit(spec("0.3", "second"))
    launcher.finish_all()
    gw.schedule()
    os._exit(0)


def churn_worker(url: str, runs: str, process: int, threads: int, per_thread: int, seed: int) -> None:
    """``threads`` gateways that submit, finish their earlier jobs and run passes, so that jobs are charged
    on the same blocks, at the same time, as other gateways admit and launch."""
    from gateway.ledger import open_store

    errors: list[BaseException] = []

    def run(thread: int) -> None:
        launcher = FileRunLauncher(runs)
        gw = gateway_for(open_store(url), launcher, max_retries=100)
        mine: list[str] = []
        try:
            for i in range(per_thread + 1):
                for done in mine:  # the jobs before this submission end now
                    if (launcher.root / "runs" / done).exists():
                        (launcher.root / "done" / done).touch()
                if i == per_thread:
                    gw.schedule()  # a last pass charges what ended
                    break
                client = process * threads + thread
                eps = ["0.05", "0.1", "0.2"][(client + i + seed) % 3]
                # the submission's pass charges whatever ended (anyone's) and admits what now fits
                mine.append(gw.submit(spec(eps, f"c{client}-{i}", analyst="team", last=1 + (client + i) % 2)).id)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread below
            errors.append(exc)

    run_threads(run, threads, errors)
