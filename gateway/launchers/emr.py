"""Runs jobs as EMR steps: ``command-runner.jar spark-submit --deploy-mode cluster dp_query_step.py ...``.

With ``emr.cluster_id`` set, each job is a step added to that (long-running) cluster. Without it, each
job gets a transient cluster (``run_job_flow`` with the bootstrap action and software settings that
``dpgw package`` uploaded) that runs the one step and terminates. ``add_job_flow_steps`` takes no
idempotency token: the step name carries the submission id, and ``find_run`` matches on it. The run id
is ``<cluster id>/<step id>``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import Any

from gateway.core.jobs import JobRequest, blocks_text, request_text, sha256_hex
from gateway.errors import LaunchError, LaunchOutcomeUnknownError
from gateway.launchers.aws import LazyClient, Sleep, call, start_run
from gateway.launchers.base import RunStatus
from gateway.launchers.outcomes import run_status
from gateway.launchers.s3docs import S3Documents
from gateway.launchers.settings import AwsSettings
from gateway.launchers.states import EMR_STEP_STATES, classify

STEP_PREFIX = "dpgw:"
CLUSTER_PREFIX = "dpgw-"
# AmazonEMRServicePolicy_v2 lets EMR act only on clusters (and subnets, security groups) with this tag.
MANAGED_POLICY_TAG = {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"}
# Which gateway a transient cluster belongs to: infra/dpgw-api.yaml scopes the gateway's step actions by it.
GATEWAY_TAG_KEY = "dpgw-gateway"


def step_name(submission_id: str) -> str:
    return STEP_PREFIX + submission_id


def step_definition(settings: AwsSettings, request: JobRequest, request_uri: str, on_failure: str) -> dict[str, Any]:
    args = [
        "spark-submit",
        "--deploy-mode",
        "cluster",
        "--conf",
        f"spark.sql.warehouse.dir={settings.warehouse_uri}",
        "--conf",
        "spark.yarn.maxAppAttempts=1",  # a second attempt would answer the same grant twice
        settings.artifact_uri("dp_query_step.py"),
        "--request",
        request_uri,
        "--submission-id",
        request.submission_id,
        "--output",
        request.output,
        "--blocks",
        blocks_text(request),
        "--epsilon",
        str(request.granted.epsilon),
        "--delta",
        str(request.granted.delta),
        "--request-sha256",
        sha256_hex(request_text(request)),
    ]
    return {
        "Name": step_name(request.submission_id),
        "ActionOnFailure": on_failure,
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": args},
    }


class EmrStepLauncher:
    name = "emr"

    def __init__(
        self, settings: AwsSettings, *, emr: Any | None = None, s3: Any | None = None, sleep: Sleep = time.sleep
    ) -> None:
        self.settings = settings
        self._emr = LazyClient("emr", settings.region, emr)
        self._docs = S3Documents(LazyClient("s3", settings.region, s3), sleep)
        self._sleep = sleep

    def output_for(self, submission_id: str) -> str:
        return self.settings.outcome_uri(submission_id)

    def discard_outcome(self, submission_id: str) -> None:
        """Delete the outcome document (a withheld result must not stay readable)."""
        self._docs.delete(self.output_for(submission_id))

    def launch(self, request: JobRequest, start_by: float = math.inf) -> str:
        request_uri = self.settings.request_uri(request.submission_id)
        self._docs.put_request(request, request_uri)
        cluster_id = self.settings.emr.cluster_id
        if cluster_id is None:
            return self._launch_transient(request, request_uri, start_by)
        step = step_definition(self.settings, request, request_uri, on_failure="CONTINUE")
        kwargs: dict[str, Any] = {"JobFlowId": cluster_id, "Steps": [step]}
        if self.settings.emr.execution_role_arn:
            kwargs["ExecutionRoleArn"] = self.settings.emr.execution_role_arn
        return start_run(
            f"add a step to EMR cluster {cluster_id}",
            self._emr.starter().add_job_flow_steps,
            sleep=self._sleep,
            run_id_of=lambda response: f"{cluster_id}/{response['StepIds'][0]}",
            find_run=lambda: self.find_run(request.submission_id),
            start_by=start_by,
            **kwargs,
        )

    def cluster_definition(self, request: JobRequest, request_uri: str) -> dict[str, Any]:
        """A transient cluster that installs the runtime, runs this one step and terminates."""
        emr = self.settings.emr
        configurations = self._docs.get_text(self.settings.artifact_uri("software_settings.json"))
        if configurations is None:
            raise LaunchError(
                f"no EMR software settings at {self.settings.artifact_uri('software_settings.json')}: "
                "run `dpgw package` first"
            )
        instances: dict[str, Any] = {
            "InstanceGroups": [
                {"Name": "primary", "InstanceRole": "MASTER", "InstanceType": emr.instance_type, "InstanceCount": 1},
                {
                    "Name": "core",
                    "InstanceRole": "CORE",
                    "InstanceType": emr.instance_type,
                    "InstanceCount": emr.core_instance_count,
                },
            ][: 2 if emr.core_instance_count else 1],
            "KeepJobFlowAliveWhenNoSteps": False,
            "TerminationProtected": False,
        }
        if emr.subnet_id:
            instances["Ec2SubnetId"] = emr.subnet_id
        return {
            "Name": CLUSTER_PREFIX + request.submission_id,
            "ReleaseLabel": emr.release_label,
            "LogUri": self.settings.uri("logs", "emr") + "/",
            "Applications": [{"Name": "Spark"}],
            "Instances": instances,
            "BootstrapActions": [
                {
                    "Name": "dpgw-install-runtime",
                    "ScriptBootstrapAction": {
                        "Path": self.settings.artifact_uri("emr_bootstrap.sh"),
                        "Args": [self.settings.artifact_uri(self.settings.wheel_name)],
                    },
                }
            ],
            "Configurations": json.loads(configurations),
            "Steps": [step_definition(self.settings, request, request_uri, on_failure="TERMINATE_CLUSTER")],
            "JobFlowRole": emr.job_flow_role,
            "ServiceRole": emr.service_role,
            "VisibleToAllUsers": True,
            "AutoTerminationPolicy": {"IdleTimeout": emr.idle_timeout_seconds},
            "Tags": [
                MANAGED_POLICY_TAG,
                {"Key": GATEWAY_TAG_KEY, "Value": f"{self.settings.bucket}/{self.settings.prefix}"},
                {"Key": "dpgw:submission", "Value": request.submission_id},
            ],
        }

    def _launch_transient(self, request: JobRequest, request_uri: str, start_by: float) -> str:
        definition = self.cluster_definition(request, request_uri)
        return start_run(
            "start a transient EMR cluster",
            self._emr.starter().run_job_flow,
            sleep=self._sleep,
            run_id_of=self._first_step,
            find_run=lambda: self.find_run(request.submission_id),
            start_by=start_by,
            **definition,
        )

    def _first_step(self, cluster: dict[str, Any]) -> str:
        cluster_id = str(cluster["JobFlowId"])
        try:
            steps = list(self._steps(cluster_id))
        except LaunchError as exc:  # the cluster and its step exist: keep the budget, reconcile later
            raise LaunchOutcomeUnknownError(
                f"EMR cluster {cluster_id} started but its step could not be read: {exc}; run `dpgw status`"
            ) from exc
        return f"{cluster_id}/{steps[0]['Id']}"

    def _steps(self, cluster_id: str) -> Iterator[dict[str, Any]]:
        marker: str | None = None
        while True:
            kwargs: dict[str, Any] = {"ClusterId": cluster_id, **({"Marker": marker} if marker else {})}
            page = call(
                f"list the steps of EMR cluster {cluster_id}", self._emr.get().list_steps, sleep=self._sleep, **kwargs
            )
            yield from page.get("Steps", [])
            marker = page.get("Marker")
            if not marker:
                return

    def _step(self, cluster_id: str, step_id: str) -> dict[str, Any]:
        """The step as ``DescribeStep`` reports it (state, failure details)."""
        response = call(
            f"read step {step_id} of EMR cluster {cluster_id}",
            self._emr.get().describe_step,
            sleep=self._sleep,
            ClusterId=cluster_id,
            StepId=step_id,
        )
        return dict(response["Step"])

    def poll(self, run_id: str, submission_id: str) -> RunStatus:
        cluster_id, step_id = run_id.split("/", 1)
        step = self._step(cluster_id, step_id)
        status = step.get("Status", {})
        service_state = str(status.get("State", "UNKNOWN"))
        state = classify(EMR_STEP_STATES, service_state)
        details = status.get("FailureDetails") or {}
        reason = "; ".join(str(details[k]) for k in ("Reason", "Message") if details.get(k)) or None
        log_uri = details.get("LogFile") or self.settings.uri("logs", "emr", cluster_id, "steps", step_id) + "/"
        outcome_uri = self.output_for(submission_id)
        outcome = None if not state.is_terminal else self._docs.read_outcome(outcome_uri)
        detail = None
        if state.is_terminal:
            detail = (
                f"EMR step {step_id} on cluster {cluster_id} ended {service_state}: "
                f"{reason or 'no failure details'}; logs: {log_uri}"
            )
        return run_status(
            state,
            service_state,
            outcome,
            service_message=reason,
            outcome_uri=outcome_uri,
            log_uri=log_uri,
            operator_detail=detail,
        )

    def cancel(self, run_id: str, submission_id: str) -> None:
        """``CancelSteps`` (interrupting a running step); a step that already ended is left as it is.

        A transient cluster then has no step left and terminates by itself (KeepJobFlowAliveWhenNoSteps).
        """
        cluster_id, step_id = run_id.split("/", 1)
        response = call(
            f"cancel step {step_id} of EMR cluster {cluster_id}",
            self._emr.get().cancel_steps,
            sleep=self._sleep,
            ClusterId=cluster_id,
            StepIds=[step_id],
            StepCancellationOption="SEND_INTERRUPT",
        )
        infos = [i for i in response.get("CancelStepsInfoList", []) if i.get("StepId") == step_id]
        if infos and infos[0].get("Status") == "SUBMITTED":
            return
        step = self._step(cluster_id, step_id)
        if classify(EMR_STEP_STATES, str(step.get("Status", {}).get("State", "UNKNOWN"))).is_terminal:
            return
        reason = infos[0].get("Reason") if infos else "no answer for the step"
        raise LaunchError(
            f"EMR did not cancel step {step_id} on cluster {cluster_id} ({reason}); try again, "
            f"or: aws emr cancel-steps --cluster-id {cluster_id} --step-ids {step_id}"
        )

    def find_run(self, submission_id: str) -> str | None:
        """The newest step named for this submission, on the configured cluster or its transient cluster."""
        if self.settings.emr.cluster_id is not None:
            clusters = [self.settings.emr.cluster_id]
        else:
            clusters = [c["Id"] for c in self._clusters() if c.get("Name") == CLUSTER_PREFIX + submission_id]
        matches = [
            (step.get("Status", {}).get("Timeline", {}).get("CreationDateTime"), f"{cluster}/{step['Id']}")
            for cluster in clusters
            for step in self._steps(cluster)
            if step.get("Name") == step_name(submission_id)
        ]
        if not matches:
            return None
        return max(matches, key=lambda m: (m[0] is not None, m[0]))[1]

    def _clusters(self) -> Iterator[dict[str, Any]]:
        marker: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Marker": marker} if marker else {}
            page = call("list EMR clusters", self._emr.get().list_clusters, sleep=self._sleep, **kwargs)
            yield from page.get("Clusters", [])
            marker = page.get("Marker")
            if not marker:
                return
