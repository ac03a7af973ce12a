"""``dpgw package`` uploads exactly the artifacts the Glue job and EMR clusters point at."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.cli.main import main
from gateway.cli.package import build_wheel, upload_artifacts
from gateway.errors import GatewayValidationError
from gateway.launchers.glue import job_definition
from tests.launchers.conftest import BUCKET

ROOT = Path(__file__).resolve().parents[2]


def test_upload_puts_scripts_settings_and_wheel_where_the_launchers_look(aws, settings, tmp_path) -> None:
    wheel = tmp_path / settings.wheel_name
    wheel.write_bytes(b"PK fake wheel")
    uploaded = upload_artifacts(settings, ROOT, wheel, s3=aws["s3"])
    assert uploaded["dp_query_job.py"] == job_definition(settings)["Command"]["ScriptLocation"]
    keys = {o["Key"] for o in aws["s3"].list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {f"team/dpgw/artifacts/0.1.0/{n}" for n in (
        "dp_query_job.py", "dp_query_step.py", "emr_bootstrap.sh", "software_settings.json", settings.wheel_name)}
    body = aws["s3"].get_object(Bucket=BUCKET, Key="team/dpgw/artifacts/0.1.0/emr_bootstrap.sh")["Body"].read()
    assert body == (ROOT / "emr_bootstrap.sh").read_bytes()


def test_a_malformed_software_settings_file_is_not_uploaded(aws, settings, tmp_path) -> None:
    project = tmp_path / "project"
    for rel in ("glue_jobs/dp_query_job.py", "emr_scripts/dp_query_step.py", "emr_bootstrap.sh"):
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text("x")
    (project / "software_settings.json").write_text(json.dumps([{"Classification": "spark", "Props": {}}]))
    with pytest.raises(GatewayValidationError, match="unknown keys"):
        upload_artifacts(settings, project, None, s3=aws["s3"])
    assert "Contents" not in aws["s3"].list_objects_v2(Bucket=BUCKET)


def test_the_cli_command_uses_the_configured_prefix(aws, monkeypatch, capsys: Any) -> None:
    monkeypatch.setenv("DPGW_AWS_BUCKET", BUCKET)
    monkeypatch.setenv("DPGW_AWS_PREFIX", "cli")
    assert main(["package", "--no-wheel", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dp_query_step.py"] == f"s3://{BUCKET}/cli/artifacts/0.1.0/dp_query_step.py"


@pytest.mark.slow
def test_the_wheel_builds_and_carries_the_runtime(tmp_path) -> None:
    import zipfile

    wheel = build_wheel(ROOT, tmp_path)
    assert wheel.name == "dp_gateway-0.1.0-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert "gateway/runtime/entrypoint.py" in names and "gateway/runtime/documents.py" in names


def test_a_data_set_names_a_known_launcher(tmp_path, monkeypatch, capsys: Any) -> None:
    monkeypatch.setenv("DPGW_LEDGER", str(tmp_path / "ledger"))
    assert main(["init"]) == 0
    data = tmp_path / "data.csv"
    data.write_text("day,v\n2026-10-01,1\n")
    assert main(["datasets", "add", "d", "--path", str(data), "--time-column", "day", "--format", "csv",
                 "--launcher", "lambda"]) == 2
    assert "unknown launcher 'lambda'" in capsys.readouterr().err
    assert main(["datasets", "add", "d", "--path", str(data), "--time-column", "day", "--format", "csv",
                 "--schema", "day:date,v:double", "--launcher", "emr", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["launcher"] == "emr"
