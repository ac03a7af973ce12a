"""Runs jobs on this machine: one Spark (local mode) process per job, started asynchronously.

The child runs ``python -m gateway.runtime`` (the same entry point Glue and EMR call), so local
status polling behaves like the cloud launchers: the CLI can exit and a later ``dpgw status`` finds
the run again from its run record and its outcome file.

The run record (``run.json``: run id, then the pid) is written *before* the process starts. A gateway
that stops in between leaves a record of a run that may not exist, which is then charged as a failed
run; the other order could release the budget of a job that did read data. ``find_run`` is the record.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gateway.core.jobs import JobOutcome, JobRequest, request_text, sha256_hex
from gateway.errors import LaunchError
from gateway.launchers.base import RunState, RunStatus, check_start_deadline

# How long a run record without a pid may stand for a start still under way (fork and exec of one
# process; generous for a loaded machine).
START_GRACE = 60.0


class LocalSparkLauncher:
    name = "local"

    def __init__(self, workdir: str | os.PathLike[str], start_grace: float = START_GRACE) -> None:
        self.workdir = Path(workdir)
        self.start_grace = start_grace
        self._children: dict[str, subprocess.Popen[bytes]] = {}  # run id -> the process this launcher started

    def _job_dir(self, submission_id: str) -> Path:
        return self.workdir / submission_id

    def output_for(self, submission_id: str) -> str:
        return str((self._job_dir(submission_id) / "outcome.json").resolve())

    def launch(self, request: JobRequest, start_by: float = math.inf) -> str:
        job_dir = self._job_dir(request.submission_id)
        try:
            job_dir.mkdir(parents=True, exist_ok=True)
            request_path = job_dir / "request.json"
            text = request_text(request)
            request_path.write_text(text, encoding="utf-8")
            # An outcome or claim already in the job directory is left alone: the job refuses to run
            # a claimed request, and only the first outcome ever counts (one grant, one answer).
            env = {**os.environ, "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable)}
            check_start_deadline(start_by, f"start the local Spark job of {request.submission_id}")
            run_id = f"local-{uuid.uuid4().hex[:12]}"
            self._write_record(request.submission_id, {"run_id": run_id})
            with open(job_dir / "job.log", "ab") as log:
                child = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gateway.runtime",
                        "--request",
                        str(request_path),
                        "--submission-id",
                        request.submission_id,
                        "--request-sha256",
                        sha256_hex(text),
                        "--output",
                        request.output,
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    start_new_session=True,
                )
        except OSError as exc:
            (job_dir / "run.json").unlink(missing_ok=True)  # Popen failed: the job provably never started
            raise LaunchError(f"could not start the local Spark job: {exc}") from exc
        self._children[run_id] = child
        self._write_record(request.submission_id, {"run_id": run_id, "pid": child.pid})
        return run_id

    def _write_record(self, submission_id: str, record: dict[str, Any]) -> None:
        path = self._job_dir(submission_id) / "run.json"
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(record))
        partial.replace(path)  # atomic: a reader sees the old record or the new one, never half of one

    def _record(self, submission_id: str) -> dict[str, Any] | None:
        path = self._job_dir(submission_id) / "run.json"
        try:
            record = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise LaunchError(f"the run record {path} is unreadable: {exc}") from exc
        if not isinstance(record, dict) or "run_id" not in record:
            raise LaunchError(f"the run record {path} has no run id; inspect it, then run `dpgw schedule`")
        return record

    def find_run(self, submission_id: str) -> str | None:
        """The run recorded for this submission; none means no start was ever attempted."""
        record = self._record(submission_id)
        return None if record is None else str(record["run_id"])

    def poll(self, run_id: str, submission_id: str) -> RunStatus:
        log_uri = str(self._job_dir(submission_id) / "job.log")
        outcome = self._outcome(submission_id)
        if outcome is None and self._alive(run_id, submission_id):
            return RunStatus(RunState.RUNNING, log_uri=log_uri)
        outcome = outcome or self._outcome(submission_id)  # it may have landed just before exit
        if outcome is None:
            return RunStatus(
                RunState.FAILED, "the job process ended without writing an outcome (killed?)", log_uri=log_uri
            )
        if outcome.status == "succeeded":
            return RunStatus(RunState.SUCCEEDED, outcome=outcome, log_uri=log_uri)
        assert outcome.error is not None
        return RunStatus(
            RunState.FAILED, f"{outcome.error.type}: {outcome.error.message}", outcome=outcome, log_uri=log_uri
        )

    def discard_outcome(self, submission_id: str) -> None:
        """Delete the outcome file (a withheld result must not stay readable)."""
        Path(self.output_for(submission_id)).unlink(missing_ok=True)

    def cancel(self, run_id: str, submission_id: str) -> None:
        """SIGTERM the job's process group (it runs in its own session); a finished job is left as it is."""
        child = self._children.get(run_id)
        if child is not None:
            pid: int | None = child.pid if child.poll() is None else None
        else:
            record = self._record(submission_id) or {}
            pid = record.get("pid") if record.get("run_id") == run_id else None
            if pid is not None and not _is_job_process(Path(f"/proc/{pid}"), submission_id):
                pid = None  # over, or the pid now belongs to another process
        if pid is None:
            return
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return  # it ended in between
        except OSError as exc:
            raise LaunchError(f"could not stop the local job of {submission_id} (pid {pid}): {exc}") from exc

    def _outcome(self, submission_id: str) -> JobOutcome | None:
        path = Path(self.output_for(submission_id))
        try:
            return JobOutcome.model_validate(json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, ValidationError) as exc:
            raise LaunchError(f"the job's outcome file {path} is unreadable: {exc}") from exc

    def _alive(self, run_id: str, submission_id: str) -> bool:
        child = self._children.get(run_id)
        if child is not None:
            return child.poll() is None
        record = self._record(submission_id)
        if record is not None and record.get("pid") is not None:
            return _is_job_process(Path(f"/proc/{record['pid']}"), submission_id)
        # The gateway stopped between starting the process and recording its pid: look for the job.
        if any(_is_job_process(proc, submission_id) for proc in Path("/proc").glob("[0-9]*")):
            return True
        return record is not None and self._starting(submission_id)

    def _starting(self, submission_id: str) -> bool:
        """A run record without a pid, younger than ``start_grace``: the launching gateway may still be
        between writing it and starting the process (until exec, /proc shows the parent's arguments), while
        another gateway, recovering the launch, already polls the run. Older, it was left by a gateway that
        stopped, and a run with no process and no outcome is charged as failed."""
        try:
            written = (self._job_dir(submission_id) / "run.json").stat().st_mtime
        except FileNotFoundError:
            return False
        return time.time() - written < self.start_grace


def _is_job_process(proc: Path, submission_id: str) -> bool:
    """A live, non-zombie ``gateway.runtime`` process of this submission (guards against pid reuse)."""
    try:
        args = (proc / "cmdline").read_bytes().split(b"\0")
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return b"gateway.runtime" in args and submission_id.encode() in args and state != "Z"
