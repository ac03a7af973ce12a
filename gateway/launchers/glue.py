"""Runs jobs as AWS Glue job runs of one managed Glue job (Glue 5.0: Spark 3.5, Python 3.11).

``launch`` uploads the request document, makes the job definition match the settings (created when
missing, updated only when it differs), then starts a run whose arguments carry the submission id, the
request and outcome locations and the grant. ``start_job_run`` takes no idempotency token, so the
submission id in the arguments is what ``find_run`` matches after a crash.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from gateway.core.jobs import JobRequest, blocks_text, request_text, sha256_hex
from gateway.errors import LaunchError
from gateway.launchers.aws import LazyClient, Sleep, call, error_code, start_run
from gateway.launchers.base import RunStatus
from gateway.launchers.glue_modules import GLUE_5_MODULES, GLUE_INSTALLER_OPTION
from gateway.launchers.outcomes import run_status
from gateway.launchers.s3docs import S3Documents
from gateway.launchers.settings import AwsSettings
from gateway.launchers.states import GLUE_JOB_RUN_STATES, classify

SUBMISSION_ARG = "--submission_id"
DEFAULT_LOG_GROUP = "/aws-glue/jobs"

# Called after AWS accepted a start, with the run id and the run's full arguments; see LocalRunExecutor.
Executor = Callable[[str, Mapping[str, str]], None]


def run_arguments(request: JobRequest, request_uri: str) -> dict[str, str]:
    """The run's arguments: the documents' locations, the submission id and a readable copy of the grant."""
    return {
        SUBMISSION_ARG: request.submission_id,
        "--request": request_uri,
        "--output": request.output,
        "--granted_blocks": blocks_text(request),
        "--granted_epsilon": str(request.granted.epsilon),
        "--granted_delta": str(request.granted.delta),
        "--request_sha256": sha256_hex(request_text(request)),  # the job refuses any other request document
    }


def job_definition(settings: AwsSettings) -> dict[str, Any]:
    """The Glue job as the settings describe it (the ``JobUpdate`` shape; ``create_job`` adds ``Name``)."""
    glue = settings.glue
    if not glue.role_arn:
        raise LaunchError(
            "no Glue role configured: set DPGW_GLUE_ROLE_ARN (the GlueJobRoleArn output of the infra stack)"
        )
    # Exact pins resolved against Glue 5.0's own packages, installed with --no-deps (see glue_modules).
    modules = [*GLUE_5_MODULES, settings.artifact_uri(settings.wheel_name)]
    return {
        "Description": "dp-gateway DP query job; managed by dpgw, edits are overwritten",
        "Role": glue.role_arn,
        "Command": {
            "Name": "glueetl",
            "ScriptLocation": settings.artifact_uri("dp_query_job.py"),
            "PythonVersion": "3",
        },
        "DefaultArguments": {
            "--job-language": "python",
            "--additional-python-modules": ",".join(modules),
            "--python-modules-installer-option": GLUE_INSTALLER_OPTION,
            "--warehouse_dir": settings.warehouse_uri,  # set in the SparkConf by dp_query_job.py
            "--TempDir": settings.uri("tmp", "glue") + "/",
            "--enable-continuous-cloudwatch-log": "true",
            "--enable-metrics": "true",
        },
        "ExecutionProperty": {"MaxConcurrentRuns": glue.max_concurrent_runs},
        "MaxRetries": 0,  # a retry would answer the same grant twice
        "Timeout": glue.timeout_minutes,
        "GlueVersion": glue.glue_version,
        "WorkerType": glue.worker_type,
        "NumberOfWorkers": glue.number_of_workers,
    }


def differs(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """True when a field we manage differs; fields AWS adds (CreatedOn, Command.Runtime, ...) are ignored.

    ``DefaultArguments`` must match exactly, so an argument we stopped setting is removed.
    """
    for key, want in desired.items():
        have = current.get(key)
        if key == "DefaultArguments":
            if dict(have or {}) != want:
                return True
        elif isinstance(want, dict):
            if not isinstance(have, dict) or differs(have, want):
                return True
        elif have != want:
            return True
    return False


class GlueLauncher:
    name = "glue"

    def __init__(
        self,
        settings: AwsSettings,
        *,
        glue: Any | None = None,
        s3: Any | None = None,
        executor: Executor | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.settings = settings
        self._glue = LazyClient("glue", settings.region, glue)
        self._docs = S3Documents(LazyClient("s3", settings.region, s3), sleep)
        self._executor = executor
        self._sleep = sleep

    def output_for(self, submission_id: str) -> str:
        return self.settings.outcome_uri(submission_id)

    def discard_outcome(self, submission_id: str) -> None:
        """Delete the outcome document (a withheld result must not stay readable)."""
        self._docs.delete(self.output_for(submission_id))

    def ensure_job(self) -> str:
        """Create the job if missing, update it if it differs; returns 'created', 'updated' or 'unchanged'."""
        glue = self._glue.get()
        name = self.settings.glue.job_name
        desired = job_definition(self.settings)
        current = call(f"read Glue job {name}", self._get_job_or_none, sleep=self._sleep, name=name)
        if current is None:
            call(f"create Glue job {name}", glue.create_job, sleep=self._sleep, Name=name, **desired)
            return "created"
        if differs(current, desired):
            call(f"update Glue job {name}", glue.update_job, sleep=self._sleep, JobName=name, JobUpdate=desired)
            return "updated"
        return "unchanged"

    def _get_job_or_none(self, name: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return dict(self._glue.get().get_job(JobName=name)["Job"])
        except ClientError as exc:
            if error_code(exc) == "EntityNotFoundException":
                return None
            raise

    def launch(self, request: JobRequest, start_by: float = math.inf) -> str:
        request_uri = self.settings.request_uri(request.submission_id)
        self._docs.put_request(request, request_uri)
        self.ensure_job()
        arguments = run_arguments(request, request_uri)
        name = self.settings.glue.job_name

        def started(response: dict[str, Any]) -> str:
            run_id = str(response["JobRunId"])
            if self._executor is not None:
                self._executor(run_id, self._run(run_id).get("Arguments", arguments))
            return run_id

        return start_run(
            f"start a run of Glue job {name}",
            self._glue.starter().start_job_run,
            sleep=self._sleep,
            run_id_of=started,
            find_run=lambda: self.find_run(request.submission_id),
            start_by=start_by,
            JobName=name,
            Arguments=arguments,
        )

    def _run(self, run_id: str) -> dict[str, Any]:
        name = self.settings.glue.job_name
        response = call(
            f"read run {run_id} of Glue job {name}",
            self._glue.get().get_job_run,
            sleep=self._sleep,
            JobName=name,
            RunId=run_id,
            PredecessorsIncluded=False,
        )
        return dict(response["JobRun"])

    def poll(self, run_id: str, submission_id: str) -> RunStatus:
        run = self._run(run_id)
        service_state = str(run.get("JobRunState", "UNKNOWN"))
        state = classify(GLUE_JOB_RUN_STATES, service_state)
        log_uri = self.log_location(run)
        outcome_uri = self.output_for(submission_id)
        outcome = None if not state.is_terminal else self._docs.read_outcome(outcome_uri)
        return run_status(
            state,
            service_state,
            outcome,
            service_message=run.get("ErrorMessage"),
            outcome_uri=outcome_uri,
            log_uri=log_uri,
            operator_detail=self.operator_detail(run) if state.is_terminal else None,
        )

    def log_location(self, run: Mapping[str, Any]) -> str:
        """The CloudWatch stream of the run's driver errors: ``aws logs tail <group> --log-stream-names <id>``."""
        group = run.get("LogGroupName") or DEFAULT_LOG_GROUP
        return f"cloudwatch:{group}/error/{run['Id']}"

    def operator_detail(self, run: Mapping[str, Any]) -> str:
        """Glue's account of the run and where its driver's errors are (operator only: may quote the job)."""
        group = run.get("LogGroupName") or DEFAULT_LOG_GROUP
        message = run.get("ErrorMessage") or "no error message"
        return (
            f"Glue run {run['Id']} of job {self.settings.glue.job_name} ended {run.get('JobRunState', 'UNKNOWN')}: "
            f"{message}; driver errors: aws logs tail {group}/error --log-stream-names {run['Id']}"
        )

    def cancel(self, run_id: str, submission_id: str) -> None:
        """``BatchStopJobRun`` of the one run; a run that already ended is left as it is."""
        name = self.settings.glue.job_name
        response = call(
            f"stop run {run_id} of Glue job {name}",
            self._glue.get().batch_stop_job_run,
            sleep=self._sleep,
            JobName=name,
            JobRunIds=[run_id],
        )
        errors = response.get("Errors") or []
        if not errors:
            return
        state = classify(GLUE_JOB_RUN_STATES, str(self._run(run_id).get("JobRunState", "UNKNOWN")))
        if state.is_terminal:
            return  # Glue refuses to stop a finished run: nothing to cancel
        detail = errors[0].get("ErrorDetail", {})
        raise LaunchError(
            f"Glue did not stop run {run_id} of job {name} ({detail.get('ErrorCode')}: {detail.get('ErrorMessage')}); "
            "try again, or stop it in the Glue console"
        )

    def find_run(self, submission_id: str) -> str | None:
        """The newest run of the job whose arguments carry this submission id, if any."""
        name = self.settings.glue.job_name
        matches: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"JobName": name, **({"NextToken": token} if token else {})}
            page = call(f"list runs of Glue job {name}", self._get_runs_or_none, sleep=self._sleep, **kwargs)
            if page is None:
                return None
            runs = page.get("JobRuns", [])
            matches += [r for r in runs if r.get("Arguments", {}).get(SUBMISSION_ARG) == submission_id]
            token = page.get("NextToken")
            if not token:
                break
        if not matches:
            return None
        return str(max(matches, key=lambda r: r["StartedOn"])["Id"])

    def _get_runs_or_none(self, **kwargs: Any) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return dict(self._glue.get().get_job_runs(**kwargs))
        except ClientError as exc:
            if error_code(exc) == "EntityNotFoundException":
                return None  # no job, so no run
            raise
