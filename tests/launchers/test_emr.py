"""The EMR launcher against moto (steps, transient clusters, reconciliation) and botocore's Stubber
(FailureDetails, ExecutionRoleArn), since moto's steps never progress by themselves."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.core import DEFAULT_ACCOUNT_ID
from moto.emr.models import emr_backends

from gateway.core.jobs import request_text, sha256_hex
from gateway.errors import LaunchError, LaunchRejectedError
from gateway.launchers.base import RunState
from gateway.launchers.emr import EmrStepLauncher, step_definition
from gateway.launchers.settings import AwsSettings
from tests.launchers.conftest import BUCKET, REGION
from tests.launchers.jobs import failed, s3_request, succeeded, write

ROOT = Path(__file__).resolve().parents[2]


def a_cluster(aws: dict[str, Any]) -> str:
    return aws["emr"].run_job_flow(
        Name="team-cluster",
        ReleaseLabel="emr-7.5.0",
        Applications=[{"Name": "Spark"}],
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]


def on_cluster(settings: AwsSettings, cluster_id: str, **emr: Any) -> AwsSettings:
    return settings.model_copy(update={"emr": settings.emr.model_copy(update={"cluster_id": cluster_id, **emr})})


def set_step_state(run_id: str, state: str) -> None:
    cluster_id, step_id = run_id.split("/")
    cluster = emr_backends[DEFAULT_ACCOUNT_ID][REGION].clusters[cluster_id]
    next(s for s in cluster.steps if s.id == step_id).state = state


def test_a_step_is_added_with_spark_submit_and_the_submission(aws, settings, sleeps, make_request) -> None:
    cluster_id = a_cluster(aws)
    launcher = EmrStepLauncher(on_cluster(settings, cluster_id), emr=aws["emr"], s3=aws["s3"], sleep=sleeps)
    request = s3_request(make_request, launcher, "sub-emr")
    run_id = launcher.launch(request)
    assert run_id.startswith(f"{cluster_id}/s-")
    step = aws["emr"].describe_step(ClusterId=cluster_id, StepId=run_id.split("/")[1])["Step"]
    assert step["Name"] == "dpgw:sub-emr" and step["ActionOnFailure"] == "CONTINUE"
    assert step["Config"]["Jar"] == "command-runner.jar"
    prefix = f"s3://{BUCKET}/team/dpgw"
    assert step["Config"]["Args"] == [
        "spark-submit",
        "--deploy-mode",
        "cluster",
        "--conf",
        f"spark.sql.warehouse.dir={prefix}/warehouse/",
        "--conf",
        "spark.yarn.maxAppAttempts=1",
        f"{prefix}/artifacts/0.1.0/dp_query_step.py",
        "--request",
        f"{prefix}/jobs/sub-emr/request.json",
        "--submission-id",
        "sub-emr",
        "--output",
        f"{prefix}/jobs/sub-emr/outcome.json",
        "--blocks",
        "2026-10-02,2026-10-03,2026-10-05",
        "--epsilon",
        "0.5",
        "--delta",
        "0",
        "--request-sha256",
        sha256_hex(request_text(request)),
    ]
    body = aws["s3"].get_object(Bucket=BUCKET, Key="team/dpgw/jobs/sub-emr/request.json")["Body"].read()
    assert sha256_hex(body.decode()) == step["Config"]["Args"][-1]  # the digest of what the job will read
    assert launcher.poll(run_id, "sub-emr").state is RunState.RUNNING  # moto: first step RUNNING forever


@pytest.mark.parametrize(
    ("state", "outcome", "expected"),
    [
        ("COMPLETED", "succeeded", RunState.SUCCEEDED),
        ("COMPLETED", None, RunState.FAILED),
        ("FAILED", "failed", RunState.FAILED),
        ("CANCELLED", None, RunState.FAILED),
        ("INTERRUPTED", None, RunState.FAILED),
        ("PENDING", None, RunState.RUNNING),
    ],
)
def test_step_states_map_through_the_table(aws, settings, sleeps, make_request, state, outcome, expected) -> None:
    launcher = EmrStepLauncher(on_cluster(settings, a_cluster(aws)), emr=aws["emr"], s3=aws["s3"], sleep=sleeps)
    request = s3_request(make_request, launcher)
    run_id = launcher.launch(request)
    set_step_state(run_id, state)
    if outcome is not None:
        write(succeeded(request) if outcome == "succeeded" else failed(request), request)
    status = launcher.poll(run_id, request.submission_id)
    assert status.state is expected
    if expected is RunState.SUCCEEDED:
        assert status.outcome is not None and status.outcome.result is not None
    if outcome is None and expected is RunState.FAILED:
        assert f"ended {state} without writing an outcome" in (status.message or "")


def test_a_failed_step_reports_its_failure_details(settings, sleeps) -> None:
    emr = boto3.client("emr", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    s3 = boto3.client("s3", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    launcher = EmrStepLauncher(on_cluster(settings, "j-1"), emr=emr, s3=s3, sleep=sleeps)
    log = "s3://logs/j-1/steps/s-1/stderr.gz"
    with Stubber(emr) as emr_stub, Stubber(s3) as s3_stub:
        emr_stub.add_response(
            "describe_step",
            {
                "Step": {
                    "Id": "s-1",
                    "Status": {
                        "State": "FAILED",
                        "FailureDetails": {
                            "Reason": "Unknown Error.",
                            "Message": "Exception in thread main",
                            "LogFile": log,
                        },
                    },
                }
            },
            {"ClusterId": "j-1", "StepId": "s-1"},
        )
        s3_stub.add_client_error("get_object", "NoSuchKey", http_status_code=404)
        status = launcher.poll("j-1/s-1", "sub-1")
    assert status.state is RunState.FAILED
    assert status.message is not None and status.message.endswith("Unknown Error.; Exception in thread main")
    assert status.log_uri == log


def test_the_execution_role_is_passed_only_when_set(settings, sleeps, aws, make_request) -> None:
    for role in (None, "arn:aws:iam::123456789012:role/dpgw-emr-runtime"):
        launcher = EmrStepLauncher(
            on_cluster(settings, "j-1", execution_role_arn=role), emr=aws["emr"], s3=aws["s3"], sleep=sleeps
        )
        request = s3_request(make_request, launcher)
        step = step_definition(launcher.settings, request, launcher.settings.request_uri("sub-1"), "CONTINUE")
        expected = {"JobFlowId": "j-1", "Steps": [step], **({"ExecutionRoleArn": role} if role else {})}
        with Stubber(aws["emr"]) as stub:
            stub.add_response("add_job_flow_steps", {"StepIds": ["s-9"]}, expected)
            assert launcher.launch(request) == "j-1/s-9"
            stub.assert_no_pending_responses()


def test_a_transient_cluster_gets_the_bootstrap_and_settings(aws, settings, sleeps, make_request) -> None:
    launcher = EmrStepLauncher(settings, emr=aws["emr"], s3=aws["s3"], sleep=sleeps)
    request = s3_request(make_request, launcher, "sub-t")
    with pytest.raises(LaunchError, match="dpgw package"):
        launcher.launch(request)
    software = json.loads((ROOT / "software_settings.json").read_text())
    aws["s3"].put_object(
        Bucket=BUCKET, Key="team/dpgw/artifacts/0.1.0/software_settings.json", Body=json.dumps(software).encode()
    )
    run_id = launcher.launch(request)
    cluster_id, step_id = run_id.split("/")
    cluster = aws["emr"].describe_cluster(ClusterId=cluster_id)["Cluster"]
    assert cluster["Name"] == "dpgw-sub-t" and cluster["ReleaseLabel"] == "emr-7.5.0"
    assert cluster["AutoTerminate"] is True  # KeepJobFlowAliveWhenNoSteps=False
    assert cluster["LogUri"] == f"s3://{BUCKET}/team/dpgw/logs/emr/"
    assert [a["Name"] for a in cluster["Applications"]] == ["Spark"]
    assert {t["Key"]: t["Value"] for t in cluster["Tags"]} == {
        "for-use-with-amazon-emr-managed-policies": "true",  # or AmazonEMRServicePolicy_v2 refuses to launch it
        "dpgw-gateway": f"{BUCKET}/team/dpgw",  # the gateway role's step actions are scoped by it
        "dpgw:submission": "sub-t",
    }
    assert {c["Classification"] for c in cluster["Configurations"]} == {c["Classification"] for c in software}
    actions = aws["emr"].list_bootstrap_actions(ClusterId=cluster_id)["BootstrapActions"]
    assert [(a["ScriptPath"], a["Args"]) for a in actions] == [
        (
            f"s3://{BUCKET}/team/dpgw/artifacts/0.1.0/emr_bootstrap.sh",
            [f"s3://{BUCKET}/team/dpgw/artifacts/0.1.0/dp_gateway-0.1.0-py3-none-any.whl"],
        )
    ]
    step = aws["emr"].describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]
    assert step["Name"] == "dpgw:sub-t" and step["ActionOnFailure"] == "TERMINATE_CLUSTER"
    assert launcher.find_run("sub-t") == run_id
    assert launcher.find_run("sub-other") is None


def test_find_run_on_a_configured_cluster(aws, settings, sleeps, make_request) -> None:
    launcher = EmrStepLauncher(on_cluster(settings, a_cluster(aws)), emr=aws["emr"], s3=aws["s3"], sleep=sleeps)
    runs = {sid: launcher.launch(s3_request(make_request, launcher, sid)) for sid in ("sub-1", "sub-2")}
    assert launcher.find_run("sub-2") == runs["sub-2"]
    assert launcher.find_run("sub-1") == runs["sub-1"]
    assert launcher.find_run("sub-3") is None


@pytest.mark.parametrize("transient", [False, True])
def test_no_step_or_cluster_is_started_after_the_start_deadline(aws, settings, sleeps, make_request, transient) -> None:
    configured = settings if transient else on_cluster(settings, a_cluster(aws))
    launcher = EmrStepLauncher(configured, emr=aws["emr"], s3=aws["s3"], sleep=sleeps)
    aws["s3"].put_object(
        Bucket=BUCKET,
        Key="team/dpgw/artifacts/0.1.0/software_settings.json",
        Body=(ROOT / "software_settings.json").read_bytes(),
    )
    clusters_before = len(aws["emr"].list_clusters()["Clusters"])
    with pytest.raises(LaunchRejectedError, match="launch deadline passed"):
        launcher.launch(s3_request(make_request, launcher, "sub-1"), start_by=time.monotonic() - 1)
    assert launcher.find_run("sub-1") is None
    assert len(aws["emr"].list_clusters()["Clusters"]) == clusters_before
