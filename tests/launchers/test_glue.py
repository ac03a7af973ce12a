"""The Glue launcher against moto (job definition, runs, reconciliation) and botocore's Stubber (update,
failure details, throttling), where moto has no implementation."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.core import DEFAULT_ACCOUNT_ID
from moto.glue.models import glue_backends
from moto.moto_api import state_manager

from gateway.core.jobs import request_text, sha256_hex
from gateway.errors import LaunchError, LaunchRejectedError
from gateway.launchers.base import RunState
from gateway.launchers.glue import GlueLauncher, job_definition
from tests.launchers.conftest import BUCKET, REGION
from tests.launchers.jobs import failed, s3_request, succeeded, write


def launcher_for(aws: dict[str, Any], settings: Any, sleeps: Any, **kwargs: Any) -> GlueLauncher:
    return GlueLauncher(settings, glue=aws["glue"], s3=aws["s3"], sleep=sleeps, **kwargs)


def set_run_state(run_id: str, state: str) -> None:
    job = glue_backends[DEFAULT_ACCOUNT_ID][REGION].jobs["dpgw-query"]
    run = next(r for r in job.job_runs if r.job_run_id == run_id)
    run.status = state


def test_launch_creates_the_job_once_and_reuses_it(aws, settings, sleeps, make_request) -> None:
    launcher = launcher_for(aws, settings, sleeps)
    first = launcher.launch(s3_request(make_request, launcher, "sub-1"))
    second = launcher.launch(s3_request(make_request, launcher, "sub-2"))
    assert first != second
    assert [j["Name"] for j in aws["glue"].get_jobs()["Jobs"]] == ["dpgw-query"]
    assert launcher.ensure_job() == "unchanged"
    job = aws["glue"].get_job(JobName="dpgw-query")["Job"]
    assert job["Command"] == {
        "Name": "glueetl",
        "ScriptLocation": f"s3://{BUCKET}/team/dpgw/artifacts/0.1.0/dp_query_job.py",
        "PythonVersion": "3",
    }
    assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"]) == ("5.0", "G.1X", 3)
    modules = job["DefaultArguments"]["--additional-python-modules"].split(",")
    assert modules[-1] == f"s3://{BUCKET}/team/dpgw/artifacts/0.1.0/dp_gateway-0.1.0-py3-none-any.whl"
    assert {"tmlt.analytics==0.21.0", "pipeline-dp==0.3.1"} <= set(modules)
    assert all("==" in m for m in modules[:-1])  # exact pins only: pip resolves nothing on Glue
    assert not any(m.lower().startswith(("pyspark", "py4j")) for m in modules)  # Glue's Spark, never pip's
    assert job["DefaultArguments"]["--python-modules-installer-option"] == "--no-deps"
    assert job["DefaultArguments"]["--warehouse_dir"] == f"s3://{BUCKET}/team/dpgw/warehouse/"
    assert "--conf" not in job["DefaultArguments"]
    assert job["MaxRetries"] == 0


def test_the_run_carries_the_submission_and_the_grant(aws, settings, sleeps, make_request) -> None:
    launcher = launcher_for(aws, settings, sleeps)
    request = s3_request(make_request, launcher, "sub-args")
    run_id = launcher.launch(request)
    args = aws["glue"].get_job_run(JobName="dpgw-query", RunId=run_id)["JobRun"]["Arguments"]
    prefix = f"s3://{BUCKET}/team/dpgw/jobs/sub-args"
    defaults = ("--job-", "--add", "--python-", "--warehouse", "--Temp", "--enable")
    assert {k: args[k] for k in args if not k.startswith(defaults)} == {
        "--submission_id": "sub-args",
        "--request": f"{prefix}/request.json",
        "--output": f"{prefix}/outcome.json",
        "--granted_blocks": "2026-10-02,2026-10-03,2026-10-05",
        "--granted_epsilon": "0.5",
        "--granted_delta": "0",
        "--request_sha256": sha256_hex(request_text(request)),
    }
    body = aws["s3"].get_object(Bucket=BUCKET, Key="team/dpgw/jobs/sub-args/request.json")["Body"].read()
    assert sha256_hex(body.decode()) == args["--request_sha256"]  # the digest of what the job will read
    assert json.loads(body)["submission_id"] == "sub-args"
    assert json.loads(body)["output"] == f"{prefix}/outcome.json"


def test_a_differing_job_is_updated_and_only_then(settings, sleeps) -> None:
    glue = boto3.client("glue", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    desired = job_definition(settings)
    stale = {
        **desired,
        "Name": "dpgw-query",
        "NumberOfWorkers": 2,
        "CreatedOn": "2026-01-01",
        "Command": {**desired["Command"], "Runtime": "whatever AWS adds"},
    }
    current = {**desired, "Name": "dpgw-query", "Command": {**desired["Command"], "Runtime": "x"}}
    launcher = GlueLauncher(settings, glue=glue, s3=object(), sleep=sleeps)
    with Stubber(glue) as stub:
        stub.add_response("get_job", {"Job": stale}, {"JobName": "dpgw-query"})
        stub.add_response("update_job", {"JobName": "dpgw-query"}, {"JobName": "dpgw-query", "JobUpdate": desired})
        stub.add_response("get_job", {"Job": current}, {"JobName": "dpgw-query"})
        assert launcher.ensure_job() == "updated"
        assert launcher.ensure_job() == "unchanged"  # fields AWS adds are not a difference
        stub.assert_no_pending_responses()


def test_a_removed_default_argument_is_a_difference(settings, sleeps) -> None:
    glue = boto3.client("glue", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    desired = job_definition(settings)
    extra = {**desired, "Name": "dpgw-query", "DefaultArguments": {**desired["DefaultArguments"], "--old": "1"}}
    with Stubber(glue) as stub:
        stub.add_response("get_job", {"Job": extra}, {"JobName": "dpgw-query"})
        stub.add_response("update_job", {"JobName": "dpgw-query"}, {"JobName": "dpgw-query", "JobUpdate": desired})
        assert GlueLauncher(settings, glue=glue, s3=object(), sleep=sleeps).ensure_job() == "updated"


def test_a_succeeded_run_returns_the_outcome(aws, settings, sleeps, make_request) -> None:
    launcher = launcher_for(aws, settings, sleeps)
    request = s3_request(make_request, launcher)
    run_id = launcher.launch(request)
    write(succeeded(request), request)
    status = launcher.poll(run_id, request.submission_id)
    assert status.state is RunState.SUCCEEDED
    assert status.outcome is not None and status.outcome.result is not None
    assert status.outcome.result.values[0].value == 42.0


def test_a_succeeded_run_without_an_outcome_failed(aws, settings, sleeps, make_request) -> None:
    launcher = launcher_for(aws, settings, sleeps)
    request = s3_request(make_request, launcher)
    status = launcher.poll(launcher.launch(request), request.submission_id)
    assert status.state is RunState.FAILED
    assert "without writing an outcome" in (status.message or "")


@pytest.mark.parametrize("state", ["FAILED", "TIMEOUT", "ERROR", "STOPPED"])
def test_failed_states_fail_with_the_jobs_reason(aws, settings, sleeps, make_request, state) -> None:
    launcher = launcher_for(aws, settings, sleeps)
    request = s3_request(make_request, launcher)
    run_id = launcher.launch(request)
    set_run_state(run_id, state)
    write(failed(request, "the data moved"), request)
    status = launcher.poll(run_id, request.submission_id)
    assert status.state is RunState.FAILED
    assert status.message == "DataNotFoundError: the data moved"
    assert status.log_uri == f"cloudwatch:test/log/error/{run_id}"


@pytest.fixture
def slow_runs() -> Any:
    """Runs advance STARTING -> RUNNING -> SUCCEEDED one step per three reads instead of at once."""
    state_manager.set_transition(model_name="glue::job_run", transition={"progression": "manual", "times": 3})
    yield
    state_manager.unset_transition(model_name="glue::job_run")


def test_a_run_that_is_still_going_is_running(aws, settings, sleeps, make_request, slow_runs) -> None:
    launcher = launcher_for(aws, settings, sleeps)
    request = s3_request(make_request, launcher)
    run_id = launcher.launch(request)
    write(succeeded(request), request)  # even with an outcome, the service decides when the run is over
    seen = [launcher.poll(run_id, request.submission_id) for _ in range(8)]
    assert [s.state for s in seen[:3]] == [RunState.RUNNING] * 3
    assert seen[0].message == "STARTING" and "RUNNING" in [s.message for s in seen]
    assert seen[-1].state is RunState.SUCCEEDED


def test_failure_and_timeout_report_glues_message_and_log_group(settings, sleeps) -> None:
    glue = boto3.client("glue", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    s3 = boto3.client("s3", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    launcher = GlueLauncher(settings, glue=glue, s3=s3, sleep=sleeps)
    with Stubber(glue) as glue_stub, Stubber(s3) as s3_stub:
        for state, message in (("TIMEOUT", "Job run timed out"), ("FAILED", "OutOfMemoryError")):
            glue_stub.add_response(
                "get_job_run",
                {
                    "JobRun": {
                        "Id": "jr_1",
                        "JobRunState": state,
                        "ErrorMessage": message,
                        "LogGroupName": "/aws-glue/jobs",
                    }
                },
                {"JobName": "dpgw-query", "RunId": "jr_1", "PredecessorsIncluded": False},
            )
            s3_stub.add_client_error("get_object", "NoSuchKey", http_status_code=404)
            status = launcher.poll("jr_1", "sub-1")
            assert status.state is RunState.FAILED
            assert status.message is not None and status.message.endswith(
                f"without writing an outcome to s3://{BUCKET}/team/dpgw/jobs/sub-1/outcome.json: {message}"
            )
            assert state in status.message
            assert status.log_uri == "cloudwatch:/aws-glue/jobs/error/jr_1"


def test_throttled_start_is_retried(settings, sleeps, aws, make_request) -> None:
    launcher = launcher_for(aws, settings, sleeps)
    launcher.ensure_job()
    request = s3_request(make_request, launcher)
    with Stubber(aws["glue"]) as stub:
        stub.add_response("get_job", {"Job": {**job_definition(settings), "Name": "dpgw-query"}})
        stub.add_client_error("start_job_run", "ThrottlingException")
        stub.add_response("start_job_run", {"JobRunId": "jr_after_throttle"})
        assert launcher.launch(request) == "jr_after_throttle"
    assert len(sleeps.delays) == 1


def test_a_refused_start_raises_launch_rejected(aws, settings, sleeps, make_request, slow_runs) -> None:
    launcher = launcher_for(
        aws, settings.model_copy(update={"glue": settings.glue.model_copy(update={"max_concurrent_runs": 1})}), sleeps
    )
    launcher.launch(s3_request(make_request, launcher, "sub-1"))  # stays STARTING: it holds the one slot
    with pytest.raises(LaunchRejectedError, match="ConcurrentRunsExceededException"):
        launcher.launch(s3_request(make_request, launcher, "sub-2"))
    assert len(sleeps.delays) == 5  # retried: Glue needs a few seconds to free a slot


def test_no_run_is_started_after_the_start_deadline(aws, settings, sleeps, make_request) -> None:
    launcher = launcher_for(aws, settings, sleeps)
    with pytest.raises(LaunchRejectedError, match="launch deadline passed"):
        launcher.launch(s3_request(make_request, launcher, "sub-1"), start_by=time.monotonic() - 1)
    assert launcher.find_run("sub-1") is None


def test_a_missing_role_is_a_launch_error(aws, settings, sleeps, make_request) -> None:
    no_role = settings.model_copy(update={"glue": settings.glue.model_copy(update={"role_arn": None})})
    launcher = launcher_for(aws, no_role, sleeps)
    with pytest.raises(LaunchError, match="DPGW_GLUE_ROLE_ARN"):
        launcher.launch(s3_request(make_request, launcher))


def test_find_run_matches_the_submission_id(aws, settings, sleeps, make_request) -> None:
    launcher = launcher_for(aws, settings, sleeps)
    assert launcher.find_run("sub-1") is None  # no job yet
    runs = {sid: launcher.launch(s3_request(make_request, launcher, sid)) for sid in ("sub-1", "sub-2", "sub-3")}
    assert launcher.find_run("sub-2") == runs["sub-2"]
    assert launcher.find_run("sub-9") is None


def test_no_client_is_created_before_first_use(settings) -> None:
    launcher = GlueLauncher(settings)
    assert launcher._glue._client is None
    assert launcher.output_for("s-1") == f"s3://{BUCKET}/team/dpgw/jobs/s-1/outcome.json"
