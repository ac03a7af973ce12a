"""The local launcher: the start deadline, the run record written before the process, polling without a pid."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from gateway.errors import LaunchError, LaunchRejectedError
from gateway.launchers import LocalSparkLauncher
from gateway.launchers.base import RunState


def test_no_job_process_is_started_after_the_start_deadline(tmp_path, make_request) -> None:
    launcher = LocalSparkLauncher(tmp_path)
    request = make_request(submission_id="sub-late")
    request = request.model_copy(update={"output": launcher.output_for("sub-late")})
    with pytest.raises(LaunchRejectedError, match="launch deadline passed"):
        launcher.launch(request, start_by=time.monotonic() - 1)
    assert launcher.find_run("sub-late") is None


def test_the_run_record_is_what_find_run_reports(tmp_path) -> None:
    launcher = LocalSparkLauncher(tmp_path)
    assert launcher.find_run("c-never") is None  # no record: no start was ever attempted
    (tmp_path / "c-recorded").mkdir()
    (tmp_path / "c-recorded" / "run.json").write_text('{"run_id": "local-abc"}')
    assert launcher.find_run("c-recorded") == "local-abc"
    (tmp_path / "c-bad").mkdir()
    (tmp_path / "c-bad" / "run.json").write_text("[]")
    with pytest.raises(LaunchError, match="no run id"):
        launcher.find_run("c-bad")


def test_a_run_recorded_before_its_process_started_is_followed_without_its_pid(tmp_path) -> None:
    """A gateway that stopped between recording the run and recording its pid: the job is found by its
    arguments while it lives, and charged as failed if it never wrote an outcome."""
    launcher = LocalSparkLauncher(tmp_path, start_grace=0)  # the record is from a gateway that stopped
    (tmp_path / "c-live").mkdir()
    (tmp_path / "c-live" / "run.json").write_text('{"run_id": "local-live"}')
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "-m", "gateway.runtime", "c-live"])
    try:
        deadline = time.monotonic() + 10  # until the child has exec'd, /proc shows the parent's arguments
        while launcher.poll("local-live", "c-live").state is not RunState.RUNNING and time.monotonic() < deadline:
            time.sleep(0.05)
        assert launcher.poll("local-live", "c-live").state is RunState.RUNNING
        assert launcher.poll("local-live", "c-other").state is RunState.FAILED
    finally:
        job.kill()
        job.wait()
    status = launcher.poll("local-live", "c-live")
    assert status.state is RunState.FAILED and "without writing an outcome" in (status.message or "")


def test_a_run_recorded_but_not_yet_started_reads_running_while_its_launch_may_be_under_way(tmp_path) -> None:
    """Another gateway recovering the launch polls between the record and the start (32 CLI clients hit
    it: tests/cli/test_concurrent_clients.py): the job is starting, not failed, until the grace ends."""
    (tmp_path / "c-starting").mkdir()
    record = tmp_path / "c-starting" / "run.json"
    record.write_text('{"run_id": "local-s"}')
    assert LocalSparkLauncher(tmp_path).poll("local-s", "c-starting").state is RunState.RUNNING
    status = LocalSparkLauncher(tmp_path, start_grace=0).poll("local-s", "c-starting")
    assert status.state is RunState.FAILED and "without writing an outcome" in (status.message or "")
    record.write_text('{"run_id": "local-s", "pid": 1}')  # started (pid 1 is no job): no grace any more
    assert LocalSparkLauncher(tmp_path).poll("local-s", "c-starting").state is RunState.FAILED
