"""``dpgw package``: build the gateway wheel and upload what Glue, EMR and Lambda run to the configured S3 prefix.

Uploads, under ``s3://<bucket>/<prefix>/artifacts/<version>/``: the Glue script, the EMR step script,
the EMR bootstrap action, the EMR software settings (checked first), the EMR module list
(``emr_modules.txt``: the exact pins the bootstrap installs with ``--no-deps``), the wheel and
``lambda.zip`` (the team-mode function of ``infra/dpgw-api.yaml``). The Glue job, the EMR launchers and
the stack point at exactly these keys (``AwsSettings.artifact_uri``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

import gateway
from gateway.cli import render
from gateway.errors import GatewayValidationError
from gateway.launchers.aws import LazyClient, call
from gateway.launchers.emr_config import check_configurations
from gateway.launchers.glue_modules import EMR_7_MODULES, EMR_MODULES_ARTIFACT, requirements_text
from gateway.launchers.settings import AwsSettings, load_settings, split_s3_uri

# Artifact name -> path inside the project.
FILES = {
    "dp_query_job.py": "glue_jobs/dp_query_job.py",
    "dp_query_step.py": "emr_scripts/dp_query_step.py",
    "emr_bootstrap.sh": "emr_bootstrap.sh",
    "software_settings.json": "software_settings.json",
}


def default_project() -> Path:
    """The source tree this gateway runs from (an editable install), else the current directory."""
    source = Path(gateway.__file__).resolve().parents[1]
    return source if (source / "pyproject.toml").exists() else Path.cwd()


def build_wheel(project: Path, outdir: Path) -> Path:
    """``pip wheel`` of the project; offline with this environment's setuptools when it has them."""
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", *isolation, "-w", str(outdir), str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    wheels = sorted(outdir.glob("dp_gateway-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise GatewayValidationError(f"building the gateway wheel in {project} failed:\n{proc.stderr.strip()}")
    return wheels[0]


# The team-mode function (infra/dpgw-api.yaml): Lambda's python3.12 on x86_64. Lambda blocks new
# python3.11 functions since 2026-07-31; the gateway runs on 3.11 and 3.12 alike.
LAMBDA_PYTHON = "3.12"
LAMBDA_PLATFORM = "manylinux2014_x86_64"
# What the service needs beyond the wheel and its [aws] extra (boto3 is in Lambda, but ours is pinned):
# the HTTP app and its Lambda adapter. Never Spark or the DP libraries: jobs run on Glue and EMR.
LAMBDA_EXTRA_REQUIREMENTS = ("fastapi>=0.110,<1", "mangum>=0.17,<1")
LAMBDA_FORBIDDEN = ("pyspark", "tmlt", "pipeline_dp", "pydp")
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # Lambda's limit for a function's unzipped code
# Not needed at run time and large (C headers, test suites): left out of the bundle.
LAMBDA_PRUNED = {("pyarrow", "include"), ("pyarrow", "tests"), ("numpy", "tests"), ("numpy", "_core", "include")}

Runner = Callable[..., Any]


def lambda_install_command(wheel: Path, target: Path) -> list[str]:
    """pip installing the wheel and the service's dependencies as Lambda's manylinux x86_64 cp312 wheels."""
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--target", str(target), "--platform", LAMBDA_PLATFORM, "--implementation", "cp",
        "--python-version", LAMBDA_PYTHON, "--only-binary=:all:",
        f"{wheel}[aws]", *LAMBDA_EXTRA_REQUIREMENTS,
    ]  # fmt: skip


def build_lambda_zip(wheel: Path, outdir: Path, run: Runner = subprocess.run) -> Path:
    """``lambda.zip``: the wheel and its runtime dependencies at the zip's root (``gateway.api.aws_lambda``)."""
    target = outdir / "lambda"
    proc = run(lambda_install_command(wheel, target), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GatewayValidationError(
            f"installing the Lambda dependencies failed (pip needs PyPI): {proc.stderr.strip()}; "
            "or run dpgw package --no-lambda"
        )
    present = sorted(p.name for p in target.iterdir() if p.name.split("-")[0].split(".")[0] in LAMBDA_FORBIDDEN)
    if present:
        raise GatewayValidationError(f"the Lambda bundle must not hold Spark or the DP libraries, found {present}")
    files = sorted(p for p in target.rglob("*") if p.is_file() and not _pruned(p.relative_to(target).parts))
    size = sum(p.stat().st_size for p in files)
    if size > LAMBDA_UNZIPPED_LIMIT:
        raise GatewayValidationError(f"the Lambda bundle is {size / 2**20:.0f} MiB unzipped, above Lambda's 250 MiB")
    bundle = outdir / "lambda.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:  # sorted, fixed timestamps: the same inputs give the same zip
            info = zipfile.ZipInfo(str(path.relative_to(target)), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            zf.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return bundle


def _pruned(parts: tuple[str, ...]) -> bool:
    return "__pycache__" in parts or any(parts[: len(prefix)] == prefix for prefix in LAMBDA_PRUNED)


def upload_artifacts(
    settings: AwsSettings, project: Path, wheel: Path | None, s3: Any | None = None, lambda_zip: Path | None = None
) -> dict[str, str]:
    """Check and upload the artifacts; returns name -> S3 URI."""
    sources = {name: project / rel for name, rel in FILES.items()}
    missing = [str(p) for p in sources.values() if not p.is_file()]
    if missing:
        raise GatewayValidationError(f"missing {', '.join(missing)}: run dpgw package from the project directory")
    check_configurations(json.loads(sources["software_settings.json"].read_text()), "software_settings.json")
    if wheel is not None:
        if wheel.name != settings.wheel_name:
            raise GatewayValidationError(f"{wheel.name} is not this gateway's wheel ({settings.wheel_name})")
        sources[wheel.name] = wheel
    if lambda_zip is not None:
        sources["lambda.zip"] = lambda_zip
    bodies = {name: (str(path), path.read_bytes()) for name, path in sources.items()}
    # The bootstrap installs exactly these next to the wheel (never pyspark: EMR's Spark provides it).
    modules = requirements_text(EMR_7_MODULES, f"dp-gateway {gateway.__version__} for EMR 7.5 python3.11")
    bodies[EMR_MODULES_ARTIFACT] = ("the EMR module list", modules.encode())
    client = LazyClient("s3", settings.region, s3).get()
    uploaded = {}
    for name, (what, body) in bodies.items():
        uri = settings.artifact_uri(name)
        bucket, key = split_s3_uri(uri)
        call(f"upload {what} to {uri}", client.put_object, Bucket=bucket, Key=key, Body=body)
        uploaded[name] = uri
    return uploaded


def package_command(
    project: Annotated[Path | None, typer.Option(help="Project directory (default: this gateway's source).")] = None,
    wheel: Annotated[Path | None, typer.Option(help="Upload this wheel instead of building one.")] = None,
    no_wheel: Annotated[bool, typer.Option("--no-wheel", help="Upload the scripts and settings only.")] = False,
    no_lambda: Annotated[
        bool, typer.Option("--no-lambda", help="Skip lambda.zip (team mode's function; building it needs PyPI).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Build the wheel and lambda.zip; upload scripts, wheel, bootstrap, settings and lambda.zip to the S3 prefix."""
    settings = load_settings()
    root = project or default_project()
    with tempfile.TemporaryDirectory() as tmp:
        built = None if no_wheel else (wheel or build_wheel(root, Path(tmp)))
        bundle = None if built is None or no_lambda else build_lambda_zip(built, Path(tmp))
        uploaded = upload_artifacts(settings, root, built, lambda_zip=bundle)
    if json_out:
        render.print_json(uploaded)
    else:
        for name, uri in uploaded.items():
            render.console.print(f"uploaded {name} -> {uri}")
