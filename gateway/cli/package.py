"""``dpgw package``: build the gateway wheel and upload what Glue and EMR run to the configured S3 prefix.

Uploads, under ``s3://<bucket>/<prefix>/artifacts/<version>/``: the Glue script, the EMR step script,
the EMR bootstrap action, the EMR software settings (checked first) and the wheel. The Glue job and
the EMR launchers point at exactly these keys (``AwsSettings.artifact_uri``).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

import gateway
from gateway.cli import render
from gateway.errors import GatewayValidationError
from gateway.launchers.aws import LazyClient, call
from gateway.launchers.emr_config import check_configurations
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


def upload_artifacts(settings: AwsSettings, project: Path, wheel: Path | None, s3: Any | None = None) -> dict[str, str]:
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
    client = LazyClient("s3", settings.region, s3).get()
    uploaded = {}
    for name, path in sources.items():
        uri = settings.artifact_uri(name)
        bucket, key = split_s3_uri(uri)
        call(f"upload {path} to {uri}", client.put_object, Bucket=bucket, Key=key, Body=path.read_bytes())
        uploaded[name] = uri
    return uploaded


def package_command(
    project: Annotated[Path | None, typer.Option(help="Project directory (default: this gateway's source).")] = None,
    wheel: Annotated[Path | None, typer.Option(help="Upload this wheel instead of building one.")] = None,
    no_wheel: Annotated[bool, typer.Option("--no-wheel", help="Upload the scripts and settings only.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Build the wheel and upload scripts, wheel, bootstrap and settings to the configured S3 prefix."""
    settings = load_settings()
    root = project or default_project()
    with tempfile.TemporaryDirectory() as tmp:
        built = None if no_wheel else (wheel or build_wheel(root, Path(tmp)))
        uploaded = upload_artifacts(settings, root, built)
    if json_out:
        render.print_json(uploaded)
    else:
        for name, uri in uploaded.items():
            render.console.print(f"uploaded {name} -> {uri}")
