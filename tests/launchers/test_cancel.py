"""Cancelling runs and the operator's failure details, on Glue, EMR and the local launcher.

moto implements neither Glue's BatchStopJobRun nor EMR's CancelSteps, so those calls are checked with
botocore's Stubber (request shape and each answer the services give); the local launcher stops a real
process.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from gateway.errors import LaunchError
from gateway.launchers import LocalSparkLauncher
from gateway.launchers.base import RunState
from gateway.launchers.emr import EmrStepLauncher
from gateway.launchers.glue import GlueLauncher
from tests.launchers.conftest import BUCKET, REGION


def _clients() -> tuple[Any, Any, Any]:
    kwargs = {"region_name": REGION, "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    return boto3.client("glue", **kwargs), boto3.client("emr", **kwargs), boto3.client("s3", **kwargs)


RUN = {"JobName": "dpgw-query", "RunId": "jr_1", "PredecessorsIncluded": False}


def test_glue_cancel_stops_the_one_run(settings, sleeps) -> None:
    glue, _, s3 = _clients()
    launcher = GlueLauncher(settings, glue=glue, s3=s3, sleep=sleeps)
    with Stubber(glue) as stub:
        stub.add_response(
            "batch_stop_job_run",
            {"SuccessfulSubmissions": [{"JobName": "dpgw-query", "JobRunId": "jr_1"}], "Errors": []},
            {"JobName": "dpgw-query", "JobRunIds": ["jr_1"]},
        )
        launcher.cancel("jr_1", "sub-1")
        stub.assert_no_pending_responses()


def _glue_refusal() -> dict[str, Any]:
    error = {"ErrorCode": "InvalidInputException", "ErrorMessage": "Job Run cannot be stopped in current state"}
    return {
        "SuccessfulSubmissions": [],
        "Errors": [{"JobName": "dpgw-query", "JobRunId": "jr_1", "ErrorDetail": error}],
    }


def test_glue_cancel_of_a_finished_run_is_a_no_op_and_a_refused_stop_raises(settings, sleeps) -> None:
    glue, _, s3 = _clients()
    launcher = GlueLauncher(settings, glue=glue, s3=s3, sleep=sleeps)
    with Stubber(glue) as stub:
        stub.add_response("batch_stop_job_run", _glue_refusal())
        stub.add_response("get_job_run", {"JobRun": {"Id": "jr_1", "JobRunState": "SUCCEEDED"}}, RUN)
        launcher.cancel("jr_1", "sub-1")  # already over: nothing to do
        stub.add_response("batch_stop_job_run", _glue_refusal())
        stub.add_response("get_job_run", {"JobRun": {"Id": "jr_1", "JobRunState": "RUNNING"}}, RUN)
        with pytest.raises(LaunchError, match=r"did not stop run jr_1.*InvalidInputException"):
            launcher.cancel("jr_1", "sub-1")


def test_a_failed_glue_run_gives_the_operator_glues_message_and_log_stream(settings, sleeps) -> None:
    glue, _, s3 = _clients()
    launcher = GlueLauncher(settings, glue=glue, s3=s3, sleep=sleeps)
    with Stubber(glue) as glue_stub, Stubber(s3) as s3_stub:
        run = {"Id": "jr_1", "JobRunState": "FAILED", "ErrorMessage": "ModuleNotFoundError: No module named 'x'"}
        glue_stub.add_response("get_job_run", {"JobRun": run}, RUN)
        s3_stub.add_client_error("get_object", "NoSuchKey", http_status_code=404)
        status = launcher.poll("jr_1", "sub-1")
        glue_stub.add_response("get_job_run", {"JobRun": {"Id": "jr_1", "JobRunState": "RUNNING"}}, RUN)
        running = launcher.poll("jr_1", "sub-1")
    assert status.state is RunState.FAILED
    assert status.operator_detail == (
        "Glue run jr_1 of job dpgw-query ended FAILED: ModuleNotFoundError: No module named 'x'; "
        "driver errors: aws logs tail /aws-glue/jobs/error --log-stream-names jr_1"
    )
    assert status.log_uri == "cloudwatch:/aws-glue/jobs/error/jr_1"
    assert running.state is RunState.RUNNING and running.operator_detail is None


STEP = {"ClusterId": "j-1", "StepId": "s-1"}


def _emr_launcher(settings: Any, sleeps: Any) -> tuple[EmrStepLauncher, Any, Any]:
    _, emr, s3 = _clients()
    configured = settings.model_copy(update={"emr": settings.emr.model_copy(update={"cluster_id": "j-1"})})
    return EmrStepLauncher(configured, emr=emr, s3=s3, sleep=sleeps), emr, s3


def test_emr_cancel_interrupts_the_step(settings, sleeps) -> None:
    launcher, emr, _ = _emr_launcher(settings, sleeps)
    with Stubber(emr) as stub:
        stub.add_response(
            "cancel_steps",
            {"CancelStepsInfoList": [{"StepId": "s-1", "Status": "SUBMITTED"}]},
            {"ClusterId": "j-1", "StepIds": ["s-1"], "StepCancellationOption": "SEND_INTERRUPT"},
        )
        launcher.cancel("j-1/s-1", "sub-1")
        stub.assert_no_pending_responses()


def test_emr_cancel_of_an_ended_step_is_a_no_op_and_a_refusal_raises(settings, sleeps) -> None:
    launcher, emr, _ = _emr_launcher(settings, sleeps)
    refused = {"CancelStepsInfoList": [{"StepId": "s-1", "Status": "FAILED", "Reason": "step is not cancellable"}]}
    with Stubber(emr) as stub:
        stub.add_response("cancel_steps", refused)
        stub.add_response("describe_step", {"Step": {"Id": "s-1", "Status": {"State": "COMPLETED"}}}, STEP)
        launcher.cancel("j-1/s-1", "sub-1")
        stub.add_response("cancel_steps", refused)
        stub.add_response("describe_step", {"Step": {"Id": "s-1", "Status": {"State": "RUNNING"}}}, STEP)
        with pytest.raises(LaunchError, match=r"did not cancel step s-1.*not cancellable.*aws emr cancel-steps"):
            launcher.cancel("j-1/s-1", "sub-1")


def test_a_failed_emr_step_gives_the_operator_its_failure_details(settings, sleeps) -> None:
    launcher, emr, s3 = _emr_launcher(settings, sleeps)
    with Stubber(emr) as emr_stub, Stubber(s3) as s3_stub:
        failure = {"Reason": "Unknown Error.", "Message": "ModuleNotFoundError: boto3", "LogFile": "s3://l/stderr.gz"}
        emr_stub.add_response("describe_step", {"Step": {"Id": "s-1", "Status": {
            "State": "FAILED", "FailureDetails": failure}}}, STEP)  # fmt: skip
        s3_stub.add_client_error("get_object", "NoSuchKey", http_status_code=404)
        status = launcher.poll("j-1/s-1", "sub-1")
        emr_stub.add_response("describe_step", {"Step": {"Id": "s-1", "Status": {"State": "CANCELLED"}}}, STEP)
        s3_stub.add_client_error("get_object", "NoSuchKey", http_status_code=404)
        cancelled = launcher.poll("j-1/s-1", "sub-1")
    assert status.operator_detail == (
        "EMR step s-1 on cluster j-1 ended FAILED: Unknown Error.; ModuleNotFoundError: boto3; logs: s3://l/stderr.gz"
    )
    assert cancelled.state is RunState.FAILED  # a cancelled run may have read data: charged, never a success
    assert cancelled.operator_detail == (
        f"EMR step s-1 on cluster j-1 ended CANCELLED: no failure details; "
        f"logs: s3://{BUCKET}/team/dpgw/logs/emr/j-1/steps/s-1/"
    )


def test_local_cancel_stops_the_job_process_group(tmp_path) -> None:
    launcher = LocalSparkLauncher(tmp_path)
    (tmp_path / "c-run").mkdir()
    job = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "-m", "gateway.runtime", "c-run"], start_new_session=True
    )
    try:
        (tmp_path / "c-run" / "run.json").write_text(f'{{"run_id": "local-1", "pid": {job.pid}}}')
        deadline = time.monotonic() + 10  # until the child has exec'd, /proc shows the parent's arguments
        while launcher.poll("local-1", "c-run").state is not RunState.RUNNING and time.monotonic() < deadline:
            time.sleep(0.05)
        launcher.cancel("local-other", "c-run")  # another run id: left alone
        assert job.poll() is None
        launcher.cancel("local-1", "c-run")
        assert job.wait(timeout=10) == -15  # SIGTERM
    finally:
        job.kill()
        job.wait()
    launcher.cancel("local-1", "c-run")  # over: a no-op
    assert launcher.poll("local-1", "c-run").state is RunState.FAILED
