"""``dpgw package`` uploads exactly the artifacts the Glue job and EMR clusters point at."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.cli.main import main
from gateway.cli.package import build_lambda_zip, build_wheel, upload_artifacts
from gateway.errors import GatewayValidationError
from gateway.launchers.glue import job_definition
from gateway.launchers.glue_modules import EMR_7_MODULES
from tests.launchers.conftest import BUCKET

ROOT = Path(__file__).resolve().parents[2]


def test_upload_puts_scripts_settings_and_wheel_where_the_launchers_look(aws, settings, tmp_path) -> None:
    wheel = tmp_path / settings.wheel_name
    wheel.write_bytes(b"PK fake wheel")
    uploaded = upload_artifacts(settings, ROOT, wheel, s3=aws["s3"])
    assert uploaded["dp_query_job.py"] == job_definition(settings)["Command"]["ScriptLocation"]
    keys = {o["Key"] for o in aws["s3"].list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {
        f"team/dpgw/artifacts/0.1.0/{n}"
        for n in (
            "dp_query_job.py",
            "dp_query_step.py",
            "emr_bootstrap.sh",
            "software_settings.json",
            "emr_modules.txt",
            settings.wheel_name,
        )
    }
    body = aws["s3"].get_object(Bucket=BUCKET, Key="team/dpgw/artifacts/0.1.0/emr_bootstrap.sh")["Body"].read()
    assert body == (ROOT / "emr_bootstrap.sh").read_bytes()
    # Next to the wheel (the bootstrap looks there): the exact EMR pins, one a line, never pyspark or py4j.
    modules = aws["s3"].get_object(Bucket=BUCKET, Key="team/dpgw/artifacts/0.1.0/emr_modules.txt")["Body"].read()
    pins = [line for line in modules.decode().splitlines() if not line.startswith("#")]
    assert pins == list(EMR_7_MODULES) and all("==" in p for p in pins)
    assert not {p.split("==")[0].lower() for p in pins} & {"pyspark", "py4j"}


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
    assert (
        main(
            [
                "datasets",
                "add",
                "d",
                "--path",
                str(data),
                "--time-column",
                "day",
                "--format",
                "csv",
                "--launcher",
                "lambda",
            ]
        )
        == 2
    )
    assert "unknown launcher 'lambda'" in capsys.readouterr().err
    assert (
        main(
            [
                "datasets",
                "add",
                "d",
                "--path",
                str(data),
                "--time-column",
                "day",
                "--format",
                "csv",
                "--schema",
                "day:date,v:double",
                "--launcher",
                "emr",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["launcher"] == "emr"


def _fake_pip(files: dict[str, str], returncode: int = 0) -> Any:
    """A stand-in for pip that records its command and leaves ``files`` in the --target directory."""
    import subprocess

    calls: list[list[str]] = []

    def run(cmd: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        target = Path(cmd[cmd.index("--target") + 1])
        for rel, text in files.items():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_text(text)
        return subprocess.CompletedProcess(cmd, returncode, "", "no matching distribution" if returncode else "")

    run.calls = calls  # type: ignore[attr-defined]
    return run


def test_the_lambda_bundle_is_the_wheel_and_its_dependencies_for_lambdas_platform(tmp_path) -> None:
    import zipfile

    wheel = tmp_path / "dp_gateway-0.1.0-py3-none-any.whl"
    pip = _fake_pip({"gateway/api/aws_lambda.py": "handler = None", "boto3/__init__.py": "", "fastapi/__init__.py": ""})
    bundle = build_lambda_zip(wheel, tmp_path, run=pip)
    (cmd,) = pip.calls
    flags = dict(itertools.pairwise(cmd))
    assert (flags["--platform"], flags["--python-version"], flags["--implementation"]) == (
        "manylinux2014_x86_64", "3.12", "cp")  # fmt: skip
    assert "--only-binary=:all:" in cmd and f"{wheel}[aws]" in cmd
    assert any(c.startswith("fastapi") for c in cmd) and any(c.startswith("mangum") for c in cmd)
    assert not any(c.startswith(("pyspark", "tmlt", "pipeline")) for c in cmd)
    names = zipfile.ZipFile(bundle).namelist()
    assert names == sorted(names) and "gateway/api/aws_lambda.py" in names  # the handler at the zip's root
    (tmp_path / "again").mkdir()
    again = build_lambda_zip(wheel, tmp_path / "again", run=pip)
    assert again.read_bytes() == bundle.read_bytes()  # reproducible


def test_the_lambda_bundle_refuses_spark_and_reports_pip_failures(tmp_path) -> None:
    wheel = tmp_path / "dp_gateway-0.1.0-py3-none-any.whl"
    with pytest.raises(GatewayValidationError, match="must not hold Spark"):
        build_lambda_zip(wheel, tmp_path / "a", run=_fake_pip({"pyspark/__init__.py": ""}))
    with pytest.raises(GatewayValidationError, match="--no-lambda"):
        build_lambda_zip(wheel, tmp_path / "b", run=_fake_pip({}, returncode=1))


def test_lambda_zip_is_uploaded_where_the_api_stack_reads_it(aws, settings, tmp_path) -> None:
    bundle = tmp_path / "lambda.zip"
    bundle.write_bytes(b"PK zip")
    uploaded = upload_artifacts(settings, ROOT, None, s3=aws["s3"], lambda_zip=bundle)
    assert uploaded["lambda.zip"] == f"s3://{BUCKET}/team/dpgw/artifacts/0.1.0/lambda.zip"  # dpgw-api.yaml's S3Key


def _pypi_reachable() -> bool:
    import urllib.request

    try:
        urllib.request.urlopen("https://pypi.org/simple/mangum/", timeout=10).close()
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_the_real_lambda_bundle_fits_lambda_and_holds_no_spark(tmp_path) -> None:
    """Real pip against PyPI for Lambda's platform (about 45 s): the handler's package, no Spark, under 250 MiB."""
    import zipfile

    if not _pypi_reachable():
        pytest.skip("PyPI is unreachable: the Lambda bundle is built from PyPI's manylinux wheels")
    bundle = build_lambda_zip(build_wheel(ROOT, tmp_path), tmp_path)
    infos = zipfile.ZipFile(bundle).infolist()
    names = {i.filename.split("/")[0] for i in infos}
    assert {"gateway", "boto3", "pydantic", "fastapi", "mangum", "yaml"} <= names
    assert not {n for n in names if n.startswith(("pyspark", "tmlt", "pipeline_dp", "pydp"))}
    assert sum(i.file_size for i in infos) < 250 * 2**20
    assert any(i.filename.startswith("pydantic_core/") and "cpython-312-x86_64-linux-gnu" in i.filename for i in infos)
