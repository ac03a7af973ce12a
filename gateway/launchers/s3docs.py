"""The launcher's side of the job documents in S3: put the request, read (and discard) the outcome.

Layout (see ``AwsSettings``): ``s3://<bucket>/<prefix>/jobs/<submission_id>/request.json`` and
``outcome.json`` beside it. The job reads and writes them with ``gateway.runtime.documents``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import ValidationError

from gateway.core.jobs import JobOutcome, JobRequest, request_text
from gateway.errors import LaunchError
from gateway.launchers.aws import LazyClient, Sleep, call, error_code
from gateway.launchers.settings import split_s3_uri


class S3Documents:
    def __init__(self, s3: LazyClient, sleep: Sleep = time.sleep) -> None:
        self._s3 = s3
        self._sleep = sleep

    def put_request(self, request: JobRequest, uri: str) -> None:
        bucket, key = split_s3_uri(uri)
        call(
            f"upload the job request to {uri}",
            self._s3.get().put_object,
            sleep=self._sleep,
            Bucket=bucket,
            Key=key,
            Body=request_text(request).encode(),
            ContentType="application/json",
        )

    def delete(self, uri: str) -> None:
        """Delete the object (no error when it is already gone)."""
        bucket, key = split_s3_uri(uri)
        call(f"delete {uri}", self._s3.get().delete_object, sleep=self._sleep, Bucket=bucket, Key=key)

    def get_text(self, uri: str) -> str | None:
        """The object's text, or None when there is no such key."""
        bucket, key = split_s3_uri(uri)
        return call(f"read {uri}", self._get_or_none, sleep=self._sleep, bucket=bucket, key=key)

    def _get_or_none(self, bucket: str, key: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            response: Any = self._s3.get().get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise
        return bytes(response["Body"].read()).decode("utf-8")

    def read_outcome(self, uri: str) -> JobOutcome | None:
        text = self.get_text(uri)
        if text is None:
            return None
        try:
            return JobOutcome.model_validate(json.loads(text))
        except (ValueError, ValidationError) as exc:
            raise LaunchError(f"the job's outcome at {uri} is unreadable: {exc}") from exc
