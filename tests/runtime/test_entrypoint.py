"""The job entry point: one result per request, spend checked, exactly one outcome file per run."""

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
from gateway.core.jobs import GroupValue, JobOutcome, JobRequest
from gateway.engines import EngineAnswer
from gateway.errors import BudgetExceededError
from gateway.runtime import entrypoint
from gateway.runtime.entrypoint import build_spark, main, run_job, write_outcome


class FakeEngine:
    """Stands in for a DP library to exercise the runtime's own checks."""

    name = "fake"

    def __init__(
        self, spent: Budget | None = None, value: float = 1.0, error: Exception | None = None
    ) -> None:
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
    path.write_text(request.model_dump_json(indent=2))
    return path


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
    code = main(["--request", str(_write_request(request, tmp_path)), "--submission-id", "sub-ok"])
    assert code == 0
    outcome = _outcome(request)
    assert outcome.status == "succeeded" and outcome.error is None and outcome.result is not None
    assert outcome.result.submission_id == "sub-ok"
    assert [v.key for v in outcome.result.values] == sales.keys
    assert outcome.result.spent == request.granted
    assert [p.name for p in Path(request.output).parent.iterdir()] == ["outcome.json"]  # no temp file left


@pytest.mark.spark
def test_main_writes_a_failed_outcome_for_missing_data(
    spark: Any, make_request: Any, tmp_path: Path, sales: Any
) -> None:
    gone = sales.parquet.model_copy(update={"path": str(tmp_path / "deleted")})
    request = make_request(dataset=gone, submission_id="sub-gone")
    code = main(["--request", str(_write_request(request, tmp_path)), "--submission-id", "sub-gone"])
    assert code == 1
    outcome = _outcome(request)
    assert outcome.status == "failed" and outcome.result is None and outcome.error is not None
    assert outcome.error.type == "DataNotFoundError"
    assert "deleted" in outcome.error.message


@pytest.mark.spark
def test_main_records_unexpected_errors(
    spark: Any, make_request: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = make_request(submission_id="sub-bug")
    monkeypatch.setattr(entrypoint, "engine_for", lambda name: FakeEngine(error=ZeroDivisionError("boom")))
    code = main(["--request", str(_write_request(request, tmp_path)), "--submission-id", "sub-bug"])
    assert code == 1
    outcome = _outcome(request)
    assert outcome.error is not None
    assert (outcome.error.type, outcome.error.message) == ("ZeroDivisionError", "boom")


@pytest.mark.spark
def test_main_keeps_nan_values_readable(
    spark: Any, make_request: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = make_request(submission_id="sub-nan")
    monkeypatch.setattr(entrypoint, "engine_for", lambda name: FakeEngine(value=math.nan))
    assert main(["--request", str(_write_request(request, tmp_path)), "--submission-id", "sub-nan"]) == 0
    outcome = _outcome(request)
    assert outcome.result is not None and math.isnan(outcome.result.values[0].value)
    via_json = JobOutcome.model_validate(json.loads(Path(request.output).read_text()))  # the launcher's way
    assert via_json.result is not None and math.isnan(via_json.result.values[0].value)


def test_main_refuses_a_request_for_another_submission(
    make_request: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = make_request(submission_id="sub-a")
    code = main(["--request", str(_write_request(request, tmp_path)), "--submission-id", "sub-b"])
    assert code == 1
    assert not Path(request.output).exists()  # that output may belong to another submission
    assert "refusing" in capsys.readouterr().err


def test_main_reports_an_invalid_request_to_its_output(make_request: Any, tmp_path: Path) -> None:
    request = make_request(submission_id="sub-bad")
    doc = json.loads(request.model_dump_json())
    doc["granted"]["epsilon"] = "999"  # differs from the spec's budget
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    assert main(["--request", str(path), "--submission-id", "sub-bad"]) == 1
    outcome = _outcome(request)
    assert outcome.error is not None and outcome.error.type == "GatewayValidationError"


def test_outcome_write_replaces_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "outcome.json"
    for message in ("first", "second"):
        write_outcome(
            JobOutcome(submission_id="s", status="failed", error={"type": "X", "message": message}),
            str(target),
        )
    assert JobOutcome.model_validate_json(target.read_text()).error.message == "second"  # type: ignore[union-attr]
    assert [p.name for p in target.parent.iterdir()] == ["outcome.json"]


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
        [sys.executable, "-m", "gateway.runtime", "--request", str(path), "--submission-id", "sub-y"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "'sub-x', not 'sub-y'" in proc.stderr


def test_local_master_only_when_nothing_else_chose_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
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
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
