"""The local launcher honours the start deadline like the cloud ones: past it, no job process starts."""

from __future__ import annotations

import time

import pytest

from gateway.errors import LaunchRejectedError
from gateway.launchers import LocalSparkLauncher


def test_no_job_process_is_started_after_the_start_deadline(tmp_path, make_request) -> None:
    launcher = LocalSparkLauncher(tmp_path)
    request = make_request(submission_id="sub-late")
    request = request.model_copy(update={"output": launcher.output_for("sub-late")})
    with pytest.raises(LaunchRejectedError, match="launch deadline passed"):
        launcher.launch(request, start_by=time.monotonic() - 1)
    assert launcher.find_run("sub-late") is None
