"""``LocalSparkLauncher.find_run``: the run of a submission after a gateway stopped mid-launch."""

from __future__ import annotations

import subprocess
import sys

from gateway.launchers import LocalSparkLauncher


def test_finds_the_recorded_run_or_a_live_job_process_or_nothing(tmp_path):
    launcher = LocalSparkLauncher(tmp_path)
    assert launcher.find_run("c-never") is None
    (tmp_path / "c-recorded").mkdir()
    (tmp_path / "c-recorded" / "run.json").write_text('{"run_id": "local-4242"}')
    assert launcher.find_run("c-recorded") == "local-4242"
    # Stopped after the process started but before run.json was written: found from the process table.
    job = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "-m", "gateway.runtime", "--submission-id", "c-live"]
    )
    try:
        assert launcher.find_run("c-live") == f"local-{job.pid}"
        assert launcher.find_run("c-other") is None
    finally:
        job.kill()
        job.wait()
