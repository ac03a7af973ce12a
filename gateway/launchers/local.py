"""Runs jobs on this machine: one Spark (local mode) process per job, started asynchronously.

The child runs ``python -m gateway.runtime`` (the same entry point Glue and EMR call), so local
status polling behaves like the cloud launchers: the CLI can exit and a later ``dpgw status`` finds
the run again from its pid and its outcome file.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from pydantic import ValidationError

from gateway.core.jobs import JobOutcome, JobRequest
from gateway.errors import LaunchError
from gateway.launchers.base import RunState, RunStatus, check_start_deadline


class LocalSparkLauncher:
    name = "local"

    def __init__(self, workdir: str | os.PathLike[str]) -> None:
        self.workdir = Path(workdir)
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def _job_dir(self, submission_id: str) -> Path:
        return self.workdir / submission_id

    def output_for(self, submission_id: str) -> str:
        return str((self._job_dir(submission_id) / "outcome.json").resolve())

    def launch(self, request: JobRequest, start_by: float = math.inf) -> str:
        job_dir = self._job_dir(request.submission_id)
        try:
            job_dir.mkdir(parents=True, exist_ok=True)
            request_path = job_dir / "request.json"
            request_path.write_text(request.model_dump_json(indent=2))
            Path(request.output).unlink(missing_ok=True)
            env = {**os.environ, "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable)}
            check_start_deadline(start_by, f"start the local Spark job of {request.submission_id}")
            with open(job_dir / "job.log", "ab") as log:
                child = subprocess.Popen(
                    [sys.executable, "-m", "gateway.runtime", "--request", str(request_path),
                     "--submission-id", request.submission_id],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env=env, start_new_session=True,
                )
        except OSError as exc:
            raise LaunchError(f"could not start the local Spark job: {exc}") from exc
        self._children[child.pid] = child
        run_id = f"local-{child.pid}"
        (job_dir / "run.json").write_text(json.dumps({"run_id": run_id}))
        return run_id

    def find_run(self, submission_id: str) -> str | None:
        """The run recorded at launch, else a live job process for this submission (a stop in between)."""
        try:
            return str(json.loads((self._job_dir(submission_id) / "run.json").read_text())["run_id"])
        except FileNotFoundError:
            pass
        except (ValueError, KeyError) as exc:
            raise LaunchError(f"the run record of {submission_id} is unreadable: {exc}") from exc
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                args = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"gateway.runtime" in args and submission_id.encode() in args:
                return f"local-{proc.name}"
        return None

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

    def _outcome(self, submission_id: str) -> JobOutcome | None:
        path = Path(self.output_for(submission_id))
        try:
            return JobOutcome.model_validate(json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, ValidationError) as exc:
            raise LaunchError(f"the job's outcome file {path} is unreadable: {exc}") from exc

    def _alive(self, run_id: str, submission_id: str) -> bool:
        pid = int(run_id.removeprefix("local-"))
        child = self._children.get(pid)
        if child is not None:
            return child.poll() is None
        proc = Path(f"/proc/{pid}")
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return False
        # Guard against pid reuse: the process must be our job for this submission, and not a zombie.
        return submission_id in cmdline and state != "Z"
