"""Job documents for launcher tests: requests aimed at S3, and the outcomes a job would write."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gateway.core.jobs import GroupValue, JobError, JobOutcome, JobRequest, JobResult
from gateway.runtime.entrypoint import write_outcome


def s3_request(make_request: Any, launcher: Any, submission_id: str = "sub-1") -> JobRequest:
    request = make_request(submission_id=submission_id, epsilon="0.5")
    return request.model_copy(update={"output": launcher.output_for(submission_id)})


def succeeded(request: JobRequest) -> JobOutcome:
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    result = JobResult(
        submission_id=request.submission_id,
        engine="pipelinedp",
        engine_version="0.3.1",
        dataset=request.dataset.name,
        blocks=request.blocks,
        granted=request.granted,
        spent=request.granted,
        aggregate="count",
        values=[GroupValue(key=None, value=42.0)],
        started_at=now,
        finished_at=now,
    )
    return JobOutcome(submission_id=request.submission_id, status="succeeded", result=result)


def failed(request: JobRequest, message: str = "no data") -> JobOutcome:
    return JobOutcome(
        submission_id=request.submission_id, status="failed", error=JobError(type="DataNotFoundError", message=message)
    )


def write(outcome: JobOutcome, request: JobRequest) -> None:
    write_outcome(outcome, request.output)
