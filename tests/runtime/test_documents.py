"""The job reads its request from and writes its outcome to S3 on Glue/EMR, and local files elsewhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gateway.core.jobs import JobOutcome, request_text, sha256_hex
from gateway.errors import GatewayValidationError
from gateway.runtime import documents
from gateway.runtime.entrypoint import main

BUCKET = "dpgw-docs"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    fake = {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": "us-east-1"}
    for name, value in fake.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_s3_documents_round_trip(s3: Any) -> None:
    uri = f"s3://{BUCKET}/jobs/s-1/outcome.json"
    with pytest.raises(documents.DocumentNotFoundError):
        documents.read_text(uri)
    documents.write_text(uri, '{"a": 1}')
    assert documents.read_text(uri) == '{"a": 1}'
    assert s3.get_object(Bucket=BUCKET, Key="jobs/s-1/outcome.json")["ContentType"] == "application/json"


def test_local_and_file_uris_are_files(tmp_path: Path) -> None:
    documents.write_text(f"file://{tmp_path}/a/b.json", "x")
    assert documents.read_text(str(tmp_path / "a" / "b.json")) == "x"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.json"]


def test_other_schemes_are_refused() -> None:
    with pytest.raises(GatewayValidationError, match="s3://bucket/key"):
        documents.read_text("gs://bucket/key")


def test_a_request_in_s3_whose_run_arguments_disagree_is_refused_in_s3(s3: Any, make_request: Any) -> None:
    """The grant in the run's arguments must match the request document (no Spark needed to refuse)."""
    request = make_request(submission_id="sub-s3", epsilon="0.5")
    request = request.model_copy(update={"output": f"s3://{BUCKET}/jobs/sub-s3/outcome.json"})
    text = request_text(request)
    s3.put_object(Bucket=BUCKET, Key="jobs/sub-s3/request.json", Body=text.encode())
    argv = [
        "--request",
        f"s3://{BUCKET}/jobs/sub-s3/request.json",
        "--submission-id",
        "sub-s3",
        "--blocks",
        "2026-10-02,2026-10-03,2026-10-05",
        "--epsilon",
        "5",
        "--delta",
        "0",
        "--request-sha256",
        sha256_hex(text),
    ]
    assert main(argv) == 1
    body = s3.get_object(Bucket=BUCKET, Key="jobs/sub-s3/outcome.json")["Body"].read()
    outcome = JobOutcome.model_validate(json.loads(body))
    assert outcome.error is not None and outcome.error.type == "request-refused"
    assert "--epsilon '5'" in (outcome.detail or "")


def test_s3_claims_and_outcomes_are_create_only(s3: Any) -> None:
    uri = f"s3://{BUCKET}/jobs/s-2/claimed.json"
    documents.create_text(uri, "first")
    with pytest.raises(documents.DocumentExistsError):
        documents.create_text(uri, "second")
    assert documents.read_text(uri) == "first"
    assert documents.sibling(f"s3://{BUCKET}/jobs/s-2/outcome.json", "claimed.json") == uri


def test_a_request_in_s3_is_claimed_once(s3: Any, make_request: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """A second run finds ``claimed.json`` (made create-only by the first) and stops before reading data."""
    request = make_request(submission_id="sub-c")
    request = request.model_copy(update={"output": f"s3://{BUCKET}/jobs/sub-c/outcome.json"})
    text = request_text(request)
    s3.put_object(Bucket=BUCKET, Key="jobs/sub-c/request.json", Body=text.encode())
    s3.put_object(Bucket=BUCKET, Key="jobs/sub-c/claimed.json", Body=b"{}")  # an earlier run's claim
    argv = [
        "--request",
        f"s3://{BUCKET}/jobs/sub-c/request.json",
        "--submission-id",
        "sub-c",
        "--request-sha256",
        sha256_hex(text),
    ]
    assert main(argv) == 1
    assert "already run" in capsys.readouterr().err
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="jobs/sub-c/")["Contents"]]
    assert sorted(keys) == ["jobs/sub-c/claimed.json", "jobs/sub-c/request.json"]


def test_a_missing_request_in_s3_writes_nothing(s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "--request",
        f"s3://{BUCKET}/jobs/nope/request.json",
        "--submission-id",
        "nope",
        "--request-sha256",
        "0" * 64,
    ]
    assert main(argv) == 1
    assert "cannot read the request" in capsys.readouterr().err
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def _glue_script() -> Any:
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("dp_query_job", root / "glue_jobs" / "dp_query_job.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_on_glue_the_script_uses_get_resolved_options(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    asked: list[Any] = []

    def get_resolved_options(argv: list[str], names: list[str]) -> dict[str, str]:
        asked.append((argv, names))
        return {name: f"<{name}>" for name in names}

    utils = types.ModuleType("awsglue.utils")
    utils.getResolvedOptions = get_resolved_options  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "awsglue", types.ModuleType("awsglue"))
    monkeypatch.setitem(sys.modules, "awsglue.utils", utils)
    resolved = _glue_script().resolve_arguments(["--submission_id", "s-1"])
    assert asked == [
        (
            ["dp_query_job.py", "--submission_id", "s-1"],
            [
                "submission_id",
                "request",
                "output",
                "granted_blocks",
                "granted_epsilon",
                "granted_delta",
                "request_sha256",
            ],
        )
    ]
    assert resolved[:4] == ["--submission-id", "<submission_id>", "--request", "<request>"]


def test_glue_and_emr_scripts_pass_the_same_arguments() -> None:
    module = _glue_script()
    glue_argv = [
        "--job-language",
        "python",
        "--conf",
        "spark.sql.warehouse.dir=s3://b/w/",  # Glue's own, ignored
        "--submission_id",
        "s-1",
        "--request",
        "s3://b/r.json",
        "--output",
        "s3://b/o.json",
        "--granted_blocks",
        "2026-10-02",
        "--granted_epsilon",
        "0.5",
        "--granted_delta",
        "0",
        "--request_sha256",
        "ab" * 32,
        "--JOB_ID",
        "j_1",
        "--JOB_RUN_ID",
        "jr_1",
    ]
    assert module.resolve_arguments(glue_argv) == [
        "--submission-id",
        "s-1",
        "--request",
        "s3://b/r.json",
        "--output",
        "s3://b/o.json",
        "--blocks",
        "2026-10-02",
        "--epsilon",
        "0.5",
        "--delta",
        "0",
        "--request-sha256",
        "ab" * 32,
    ]
