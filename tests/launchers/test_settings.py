"""Launcher settings: defaults < dpgw.toml [aws] table < DPGW_* variables, one naming rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import GatewayValidationError
from gateway.launchers.settings import AwsSettings, load_settings


def test_defaults_target_glue_5_and_emr_7() -> None:
    settings = load_settings(environ={})
    assert settings.glue.glue_version == "5.0" and settings.emr.release_label.startswith("emr-7.")
    with pytest.raises(GatewayValidationError, match="DPGW_AWS_BUCKET"):
        settings.request_uri("s-1")


def test_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "dpgw.toml"
    config.write_text(
        '[aws]\nbucket = "from-file"\nregion = "eu-west-1"\n'
        '[aws.glue]\njob_name = "team-dp"\nnumber_of_workers = 4\n[aws.emr]\ncluster_id = "j-FILE"\n'
    )
    env = {
        "DPGW_CONFIG": str(config),
        "DPGW_AWS_BUCKET": "from-env",
        "DPGW_GLUE_NUMBER_OF_WORKERS": "6",
        "DPGW_EMR_EXECUTION_ROLE_ARN": "arn:aws:iam::1:role/r",
    }
    settings = load_settings(environ=env)
    assert (settings.bucket, settings.region) == ("from-env", "eu-west-1")
    assert (settings.glue.job_name, settings.glue.number_of_workers) == ("team-dp", 6)
    assert (settings.emr.cluster_id, settings.emr.execution_role_arn) == ("j-FILE", "arn:aws:iam::1:role/r")
    assert settings.outcome_uri("s-1") == "s3://from-env/dpgw/jobs/s-1/outcome.json"


def test_bad_settings_say_which_field(tmp_path: Path) -> None:
    with pytest.raises(GatewayValidationError, match=r"glue\.number_of_workers"):
        load_settings(environ={"DPGW_GLUE_NUMBER_OF_WORKERS": "1"})
    with pytest.raises(GatewayValidationError, match="cannot read launcher settings"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_the_s3_layout() -> None:
    settings = AwsSettings(bucket="b", prefix="/team/dp/")
    assert settings.request_uri("s") == "s3://b/team/dp/jobs/s/request.json"
    assert settings.artifact_uri("x.py") == "s3://b/team/dp/artifacts/0.1.0/x.py"
    assert settings.warehouse_uri == "s3://b/team/dp/warehouse/"
