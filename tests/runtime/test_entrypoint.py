"""The job entry point: one answer per grant, spend checked, digest checked, errors split by audience."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.core.budget import Budget
from gateway.core.jobs import FailureCategory, GroupValue, JobOutcome, JobRequest, request_text, sha256_hex
from gateway.engines import EngineAnswer
from gateway.errors import BudgetExceededError
from gateway.runtime import documents, entrypoint
from gateway.runtime.entrypoint import build_spark, main, run_job, write_outcome


class FakeEngine:
    """Stands in for a DP library to exercise the runtime's own checks."""

    name = "fake"

    def __init__(self, spent: Budget | None = None, value: float = 1.0, error: Exception | None = None) -> None:
        self.spent = spent
        self.value = value
        self.error = error

    def version(self) -> str:
        return "0"

    def run(self, df: Any, request: JobRequest) -> EngineAnswer:
        if self.error is not None:
            raise self.error
        spent = self.spent if self.spent is not None else request.granted.to_budget()
        return EngineAnswer(values=[GroupValue(key=None, value=self.value)], spent=spent, notes=["fake"])


def _write_request(request: JobRequest, tmp_path: Path) -> Path:
    path = tmp_path / f"{request.submission_id}-request.json"
    path.write_text(request_text(request))
    return path


def _argv(request: JobRequest, tmp_path: Path, **override: str) -> list[str]:
    """The run arguments the local launcher passes: request, submission id, digest and output."""
    path = _write_request(request, tmp_path)
    args = {
        "--request": str(path),
        "--submission-id": request.submission_id,
        "--request-sha256": sha256_hex(path.read_text()),
        "--output": request.output,
    }
    args.update({f"--{k.replace('_', '-')}": v for k, v in override.items()})
    return [item for pair in args.items() for item in pair if pair[1] is not None]


def _outcome(request: JobRequest) -> JobOutcome:
    return JobOutcome.model_validate_json(Path(request.output).read_text())


@pytest.mark.spark
def test_run_job_answers_with_a_receipt(spark: Any, make_request: Any, sales: Any) -> None:
    request = make_request(engine="pipelinedp", function="count")
    result = run_job(spark, request)
    assert (result.engine, result.engine_version) == ("pipelinedp", "0.3.1")
    assert result.dataset == "sales" and result.blocks == sales.granted
    assert result.spent == result.granted == request.granted
    assert result.aggregate == "count" and result.column is None and result.group_by is None
    assert abs(result.values[0].value - len(sales.granted_rows())) < 2
    assert result.started_at.tzinfo == dt.UTC and result.started_at <= result.finished_at


@pytest.mark.spark
def test_run_job_withholds_an_answer_that_overspent(
    spark: Any, make_request: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = make_request(epsilon="0.5")
    over = Budget(Decimal("0.5000000000000001"), Decimal(0))
    monkeypatch.setattr(entrypoint, "engine_for", lambda name: FakeEngine(spent=over))
    with pytest.raises(BudgetExceededError, match="withheld"):
        run_job(spark, request)


@pytest.mark.spark
def test_main_writes_a_succeeded_outcome(spark: Any, make_request: Any, tmp_path: Path, sales: Any) -> None:
    request = make_request(engine="pipelinedp", function="sum", grouped=True, submission_id="sub-ok")
    code = main(_argv(request, tmp_path))
    assert code == 0
    outcome = _outcome(request)
    assert outcome.status == "succeeded" and outcome.error is None and outcome.result is not None
    assert outcome.result.submission_id == "sub-ok"
    assert [v.key for v in outcome.result.values] == sales.keys
    assert outcome.result.spent == request.granted
    names = sorted(p.name for p in Path(request.output).parent.iterdir())
    assert names == ["claimed.json", "outcome.json"]  # no temp file left


@pytest.mark.spark
def test_a_second_run_of_one_request_is_refused_before_reading_data(
    spark: Any,
    make_request: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One grant, one answer: the second run finds the claim, reads nothing and overwrites nothing."""
    request = make_request(submission_id="sub-twice")
    monkeypatch.setattr(entrypoint, "engine_for", lambda name: FakeEngine(value=7.0))
    assert main(_argv(request, tmp_path)) == 0
    first = Path(request.output).read_bytes()
    reads: list[Any] = []
    monkeypatch.setattr(entrypoint, "read_granted_blocks", lambda *a, **k: reads.append(a))
    monkeypatch.setattr(entrypoint, "engine_for", lambda name: FakeEngine(value=8.0))
    assert main(_argv(request, tmp_path)) == 1
    assert "already run" in capsys.readouterr().err
    assert reads == []
    assert Path(request.output).read_bytes() == first


def test_a_second_run_cannot_overwrite_an_outcome_even_without_a_claim(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "outcome.json"
    write_outcome(JobOutcome(submission_id="s", status="failed", error={"type": "killed", "message": "a"}), str(target))
    with pytest.raises(documents.DocumentExistsError):
        write_outcome(
            JobOutcome(submission_id="s", status="failed", error={"type": "killed", "message": "b"}), str(target)
        )
    assert JobOutcome.model_validate_json(target.read_text()).error.message == "a"  # type: ignore[union-attr]
    assert [p.name for p in target.parent.iterdir()] == ["outcome.json"]


def test_a_request_changed_after_launch_is_refused(
    make_request: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = make_request(submission_id="sub-edit")
    argv = _argv(request, tmp_path)
    path = Path(argv[argv.index("--request") + 1])
    doc = json.loads(path.read_text())
    doc["spec"]["budget"]["epsilon"] = "50"
    doc["granted"]["epsilon"] = "50"
    path.write_text(json.dumps(doc))
    assert main(argv) == 1
    outcome = _outcome(request)
    assert outcome.error is not None and outcome.error.type == FailureCategory.REFUSED.value
    assert outcome.error.message == FailureCategory.REFUSED.text
    assert "sha256" in (outcome.detail or "") and "sha256" in capsys.readouterr().err
    assert not (Path(request.output).parent / "claimed.json").exists()


@pytest.mark.spark
def test_main_writes_a_failed_outcome_for_missing_data(
    spark: Any, make_request: Any, tmp_path: Path, sales: Any
) -> None:
    gone = sales.parquet.model_copy(update={"path": str(tmp_path / "deleted")})
    request = make_request(dataset=gone, submission_id="sub-gone")
    code = main(_argv(request, tmp_path))
    assert code == 1
    outcome = _outcome(request)
    assert outcome.status == "failed" and outcome.result is None and outcome.error is not None
    assert outcome.error.type == FailureCategory.DATA.value
    assert "deleted" not in outcome.error.message and "deleted" in (outcome.detail or "")


@pytest.mark.spark
def test_an_error_quoting_data_reaches_only_the_log_and_the_operator_detail(
    spark: Any,
    make_request: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    request = make_request(submission_id="sub-bug")
    secret = "alice@example.com earned 123456"
    monkeypatch.setattr(entrypoint, "engine_for", lambda name: FakeEngine(error=ValueError(secret)))
    code = main(_argv(request, tmp_path))
    assert code == 1
    outcome = _outcome(request)
    assert outcome.error is not None and outcome.error.ref
    assert (outcome.error.type, outcome.error.message) == ("engine-failure", FailureCategory.ENGINE.text)
    assert secret not in outcome.error.model_dump_json()
    assert secret in (outcome.detail or "") and "Traceback" in (outcome.detail or "")
    err = capsys.readouterr().err
    assert secret in err and outcome.error.ref in err  # the job log: for the operator, under the same ref


@pytest.mark.spark
def test_main_keeps_nan_values_readable(
    spark: Any, make_request: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = make_request(submission_id="sub-nan")
    monkeypatch.setattr(entrypoint, "engine_for", lambda name: FakeEngine(value=math.nan))
    assert main(_argv(request, tmp_path)) == 0
    outcome = _outcome(request)
    assert outcome.result is not None and math.isnan(outcome.result.values[0].value)
    via_json = JobOutcome.model_validate(json.loads(Path(request.output).read_text()))  # the launcher's way
    assert via_json.result is not None and math.isnan(via_json.result.values[0].value)


def test_main_refuses_a_request_for_another_submission(
    make_request: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = make_request(submission_id="sub-a")
    code = main(_argv(request, tmp_path, submission_id="sub-b", output=None))
    assert code == 1
    assert not Path(request.output).exists()  # that output may belong to another submission
    assert "refusing" in capsys.readouterr().err


def test_main_reports_an_invalid_request_to_its_output(make_request: Any, tmp_path: Path) -> None:
    request = make_request(submission_id="sub-bad")
    doc = json.loads(request.model_dump_json())
    doc["granted"]["epsilon"] = "999"  # differs from the spec's budget
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    argv = ["--request", str(path), "--submission-id", "sub-bad", "--request-sha256", sha256_hex(path.read_text())]
    assert main(argv) == 1
    outcome = _outcome(request)
    assert outcome.error is not None and outcome.error.type == FailureCategory.REFUSED.value


@pytest.mark.spark
def test_build_spark_reuses_the_session_in_utc(spark: Any) -> None:
    session = build_spark("dpgw-test")
    assert session.sparkContext is spark.sparkContext
    assert session.conf.get("spark.sql.session.timeZone") == "UTC"


def test_module_entry_point_runs_main(make_request: Any, tmp_path: Path) -> None:
    """``python -m gateway.runtime`` is wired to ``main`` (a refused request needs no Spark)."""
    request = make_request(submission_id="sub-x")
    path = _write_request(request, tmp_path)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.runtime",
            "--request",
            str(path),
            "--submission-id",
            "sub-y",
            "--request-sha256",
            sha256_hex(path.read_text()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "'sub-x', not 'sub-y'" in proc.stderr


def test_local_master_only_when_nothing_else_chose_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pyspark.sql import SparkSession

    monkeypatch.setattr(SparkSession, "getActiveSession", classmethod(lambda cls: None))
    for name in ("PYSPARK_GATEWAY_PORT", "MASTER", "PYSPARK_SUBMIT_ARGS", "SPARK_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    assert not entrypoint._master_configured()
    (tmp_path / "spark-defaults.conf").write_text("spark.executor.memory 2g\nspark.master   yarn\n")
    assert entrypoint._master_configured()  # EMR / Glue style
    monkeypatch.delenv("SPARK_CONF_DIR")
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "41234")  # the driver was started by spark-submit
    assert entrypoint._master_configured()


def test_runtime_imports_no_ledger_launcher_or_aws_code() -> None:
    code = (
        "import sys, gateway.runtime.entrypoint, gateway.runtime.__main__; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore') "
        "or m.startswith(('gateway.ledger', 'gateway.launchers', 'gateway.service', 'gateway.cli'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
