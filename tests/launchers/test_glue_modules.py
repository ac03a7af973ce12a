"""The Glue job's module list is pip's resolution against Glue 5.0's own packages, and the job's Spark
warehouse reaches the SparkConf before Glue's context starts."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from gateway.launchers.glue_modules import CHANGED_GLUE_PACKAGES, EMR_7_MODULES, GLUE_5_MODULES, GLUE_INSTALLER_OPTION
from tests.launchers.replica.resolve_glue_modules import OVERRIDES, canonical, emr_spark, glue_pins

ROOT = Path(__file__).resolve().parents[2]
REPLICA = ROOT / "tests" / "launchers" / "replica"


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_the_module_list_is_the_committed_resolution() -> None:
    assert list(GLUE_5_MODULES) == _lines(REPLICA / "glue-5.0-modules.txt")
    assert GLUE_INSTALLER_OPTION == "--no-deps"  # so pip installs exactly these, never pyspark


def test_the_emr_module_list_is_the_committed_resolution_and_leaves_spark_to_emr() -> None:
    assert list(EMR_7_MODULES) == _lines(REPLICA / "emr-7.5-modules.txt")
    names = {canonical(m.split("==")[0]) for m in EMR_7_MODULES}
    assert set(emr_spark()) == {"pyspark", "py4j"} and not names & set(emr_spark())
    # --no-deps installs no extras: the gateway's [aws] extra (boto3 and what it needs) is in the list.
    assert {"boto3", "botocore", "s3transfer", "jmespath"} <= names
    assert {"tmlt-analytics", "tmlt-core", "pipeline-dp", "python-dp"} <= names


def test_only_the_packages_the_dp_libraries_require_change_glue() -> None:
    glue = glue_pins()
    pins = {canonical(m.split("==")[0]): m.split("==")[1] for m in GLUE_5_MODULES}
    replaced = {name: (glue[name], version) for name, version in pins.items() if name in glue}
    assert replaced == CHANGED_GLUE_PACKAGES
    assert {name: new for name, (_, new) in replaced.items()} == OVERRIDES
    assert not {"pyspark", "py4j", "boto3", "botocore", "numpy"} & set(pins)


def _glue_script() -> Any:
    spec = importlib.util.spec_from_file_location("dp_query_job_under_test", ROOT / "glue_jobs" / "dp_query_job.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_warehouse_is_in_the_spark_conf_before_glue_starts_its_context(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyspark.context import SparkContext

    started: list[Any] = []
    context = types.ModuleType("awsglue.context")
    context.GlueContext = lambda sc: started.append(("glue", sc))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "awsglue", types.ModuleType("awsglue"))
    monkeypatch.setitem(sys.modules, "awsglue.context", context)
    monkeypatch.setattr(SparkContext, "getOrCreate", classmethod(lambda cls, conf=None: started.append(conf) or "sc"))
    script = _glue_script()
    argv = ["--job-language", "python", "--warehouse_dir", "s3://b/dp/warehouse/", "--submission_id", "s-1"]
    script.start_glue_session(script.warehouse_dir(argv))
    conf, glue = started
    assert conf.get("spark.sql.warehouse.dir") == "s3://b/dp/warehouse/"
    assert glue == ("glue", "sc")
    assert script.warehouse_dir(["--submission_id", "s-1"]) is None
