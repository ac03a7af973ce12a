"""A replica of an EMR 7.5 node: ``emr_bootstrap.sh`` runs for real, then the EMR step under spark-submit.

The node's ``python3.11`` is a fresh CPython 3.11 venv with no pyspark in it. On PATH: a ``sudo`` that
runs its arguments, and the real AWS CLI (awscli from PyPI, in a cached venv of its own, as EMR's ``aws``
is not the job's Python) pointed at a moto server through ``AWS_ENDPOINT_URL``. ``dpgw package`` uploads
the artifacts to that moto S3. The bootstrap's pip is network-less: ``PIP_NO_INDEX`` with the cached
wheels of the module list as ``PIP_FIND_LINKS`` (under ``~/.cache/dpgw-replica``, like the Glue
replica), so a pip that tried to resolve pyspark would find no pyspark and fail, and nothing is ever
built. Then ``dpgw submit --launcher emr`` adds the step to a (moto) cluster, and the step's command, as
the EMR launcher wrote it, runs under the spark-submit of this environment's pyspark with
``PYSPARK_PYTHON`` set to the node's python3.11 (as ``software_settings.json`` does): Spark puts its own
``pyspark.zip`` and py4j on that python's path, as ``/usr/lib/spark/python`` on EMR. The step reads its
request from moto S3 and writes its outcome there; the outcome must hold a DP answer.

Three changes to the step's command, each because the replica is one machine and not a cluster:
``--deploy-mode cluster`` becomes ``--master local[2]`` (no YARN), the step script's ``s3://`` URI
becomes a local copy fetched with ``aws s3 cp`` (no EMRFS), and so does the warehouse (``s3://`` needs
EMRFS too). The data stays local (``file://``): pyspark's wheel has no s3a jars.

The bootstrap as it was before the exact list (pip resolving ``tmlt.analytics``) fails here: pip looks
for pyspark, which only Spark provides (``test_the_previous_bootstrap_install_needs_pyspark_from_pip``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from gateway import __version__
from gateway.cli.main import main
from gateway.cli.package import build_wheel
from gateway.demo import REGIONS, generate_purchases
from gateway.launchers.glue_modules import EMR_7_MODULES, EMR_MODULES_ARTIFACT
from tests.launchers.replica.resolve_glue_modules import canonical
from tests.launchers.test_glue_replica import CACHE, _pypi_reachable, _python311, _run

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BUCKET = "dpgw-emr-replica"
AWSCLI = "awscli==1.46.3"  # AWS CLI v1 from PyPI (EMR's own aws is v2; `aws s3 cp` is the same command)
# What the bootstrap installed before the exact list: pip resolved these (and so wanted pyspark).
PREVIOUS_INSTALL = ("tmlt.analytics==0.21.0", "pipeline-dp==0.3.1", "pyarrow>=14,<19")


def _cached(name: str, build: Any) -> Path:
    """A directory under the replica cache, built once (a ``.complete`` marker says it finished)."""
    path = CACHE / name
    if not (path / ".complete").exists():
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        build(path)
        (path / ".complete").touch()
    return path


@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    """The module list's wheels (cp311 manylinux), downloaded once: the only index the node's pip sees."""
    digest = hashlib.sha256("\n".join(EMR_7_MODULES).encode()).hexdigest()[:12]
    if not (CACHE / f"emr-7.5-wheels-{digest}" / ".complete").exists() and not _pypi_reachable():
        pytest.skip("PyPI is unreachable: the replica downloads the module list's wheels once")

    def download(path: Path) -> None:
        _run(_python311(), "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--only-binary=:all:", "-d", path, *EMR_7_MODULES)  # fmt: skip

    return _cached(f"emr-7.5-wheels-{digest}", download)


@pytest.fixture(scope="module")
def aws_cli() -> Path:
    """The real AWS CLI in a venv of its own (its botocore pin is not the gateway's)."""
    name = "awscli-" + AWSCLI.split("==")[1]
    if not (CACHE / name / ".complete").exists() and not _pypi_reachable():
        pytest.skip("PyPI is unreachable: the replica installs the AWS CLI once")

    def install(path: Path) -> None:
        _run(_python311(), "-m", "venv", path)
        _run(path / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", AWSCLI)

    return _cached(name, install) / "bin" / "aws"


def _node(tmp_path: Path, aws_cli: Path) -> tuple[Path, Path]:
    """A fresh python3.11 (no pyspark), and a bin directory with it, ``sudo`` and ``aws``."""
    venv = tmp_path / "node"
    _run(_python311(), "-m", "venv", venv)
    bin_dir = tmp_path / "node-bin"
    bin_dir.mkdir()
    for name, body in {"sudo": 'exec "$@"', "python3.11": f'exec "{venv}/bin/python" "$@"'}.items():
        (bin_dir / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    (bin_dir / "aws").symlink_to(aws_cli)
    return bin_dir, venv / "bin" / "python"


def _node_env(bin_dir: Path, home: Path, wheelhouse: Path) -> dict[str, str]:
    keep = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION")
    return {
        **{k: os.environ[k] for k in keep},
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(home),
        "PYTHONNOUSERSITE": "1",
        # pip without a network: only the list's wheels (a pyspark, wheel or source, is not among them).
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse),
    }


def _installed(python: Path) -> dict[str, str]:
    """What the node's pip sees installed (away from the source tree and its egg-info, as on a node)."""
    cmd = [python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"]
    env = {"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": os.devnull}
    out = subprocess.run(cmd, cwd=python.parent, env=env, capture_output=True, text=True, check=True).stdout
    return {canonical(p["name"]): p["version"] for p in json.loads(out)}


def _cli(capsys: Any, *args: str) -> Any:
    capsys.readouterr()
    code = main([*args, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_the_bootstrap_and_the_step_run_on_an_emr_node(
    moto_server: str, wheelhouse: Path, aws_cli: Path, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    cluster = boto3.client("emr").run_job_flow(
        Name="dpgw", ReleaseLabel="emr-7.5.0", Instances={"KeepJobFlowAliveWhenNoSteps": True, "InstanceCount": 1},
        JobFlowRole="EMR_EC2_DefaultRole", ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]  # fmt: skip
    for name, value in {
        "DPGW_AWS_BUCKET": BUCKET,
        "DPGW_AWS_PREFIX": "dp",
        "DPGW_AWS_REGION": "us-east-1",  # the moto_server fixture's
        "DPGW_EMR_CLUSTER_ID": cluster,
        "DPGW_LEDGER": str(tmp_path / "ledger"),
    }.items():
        monkeypatch.setenv(name, value)
    wheel = build_wheel(ROOT, tmp_path / "dist")
    uploaded = _cli(capsys, "package", "--wheel", str(wheel), "--no-lambda")
    assert EMR_MODULES_ARTIFACT in uploaded

    # The bootstrap action, for real, twice (a second run changes nothing).
    bin_dir, python = _node(tmp_path, aws_cli)
    env = _node_env(bin_dir, tmp_path, wheelhouse)
    before = _installed(python)
    # From a directory of its own, as on a node: the source tree must not be on the node's path.
    node_dir = tmp_path / "node-home"
    node_dir.mkdir()
    # The script EMR runs is the uploaded one, with the wheel's URI as its argument (EmrStepLauncher's).
    fetch = ["aws", "s3", "cp", "--only-show-errors", uploaded["emr_bootstrap.sh"], f"{node_dir}/"]
    subprocess.run(fetch, env=env, check=True)
    bootstrap = ["bash", str(node_dir / "emr_bootstrap.sh"), uploaded[wheel.name]]
    runs = [
        subprocess.run(bootstrap, cwd=node_dir, env=env, capture_output=True, text=True, check=False) for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr[-4000:]
    installed = _installed(python)
    assert "pyspark" not in installed and "py4j" not in installed  # Spark's own, never pip's
    pins = {canonical(m.split("==")[0]): m.split("==")[1] for m in EMR_7_MODULES}
    added_or_changed = {n: v for n, v in installed.items() if before.get(n) != v}
    assert added_or_changed == pins | {"dp-gateway": __version__}  # exactly the list and the wheel
    assert _installed(python) == installed

    # A submission through the gateway: the EMR launcher writes the request to S3 and adds the step.
    data = tmp_path / "data"
    generate_purchases(data, days=3, users=200)
    _cli(capsys, "init", "--n", "1")
    _cli(capsys, "datasets", "add", "purchases", "--path", str(data), "--time-column", "day")
    _cli(capsys, "blocks", "add", "purchases", "--from", "2026-10-01", "--to", "2026-10-03", "--epsilon", "1")
    spec = tmp_path / "count.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "dataset": "purchases",
                "analyst": "gina",
                "privacy_unit": "row",
                "engine": "tumult",
                "blocks": {"last": 2},
                "budget": {"epsilon": 0.5},
                "aggregate": {"function": "count"},
                "group_by": {"column": "region", "keys": REGIONS},
            }
        )
    )
    claim = _cli(capsys, "submit", str(spec), "--launcher", "emr")
    emr = boto3.client("emr")
    (step,) = [s for s in emr.list_steps(ClusterId=cluster)["Steps"] if s["Name"] == f"dpgw:{claim['id']}"]
    args = list(step["Config"]["Args"])

    # The step's command on this one machine (see the module docstring for the three changes).
    assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
    script_uri = next(a for a in args if a.endswith("/dp_query_step.py"))
    steps_dir = tmp_path / "step"
    subprocess.run(["aws", "s3", "cp", "--only-show-errors", script_uri, f"{steps_dir}/"], env=env, check=True)
    warehouse = next(i for i, a in enumerate(args) if a.startswith("spark.sql.warehouse.dir=s3://"))
    args[warehouse] = f"spark.sql.warehouse.dir={(tmp_path / 'warehouse').as_uri()}"
    import pyspark

    spark_home = Path(pyspark.__file__).parent
    command = [
        str(spark_home / "bin" / "spark-submit"),
        "--master",
        "local[2]",
        *[str(steps_dir / "dp_query_step.py") if a == script_uri else a for a in args[3:]],
    ]
    java = shutil.which("java")
    assert java is not None, "Spark needs a Java runtime"
    step_env = {
        **env,
        "PATH": f"{bin_dir}:{Path(java).parent}:/usr/bin:/bin",  # no other python with the DP libraries
        "SPARK_HOME": str(spark_home),
        "PYSPARK_PYTHON": str(bin_dir / "python3.11"),  # software_settings.json: /usr/bin/python3.11
        "PYSPARK_DRIVER_PYTHON": str(bin_dir / "python3.11"),
    }
    done = subprocess.run(command, cwd=node_dir, env=step_env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-6000:]

    body = s3.get_object(Bucket=BUCKET, Key=f"dp/jobs/{claim['id']}/outcome.json")["Body"].read()
    outcome = json.loads(body)
    assert outcome["status"] == "succeeded", outcome
    result = outcome["result"]
    assert result["submission_id"] == claim["id"] and result["engine"] == "tumult"
    assert result["blocks"] == ["2026-10-02", "2026-10-03"]
    counts = {row["key"]: row["value"] for row in result["values"]}
    assert set(counts) == set(REGIONS) and sum(counts.values()) > 1000  # a real (noisy) answer


def test_the_previous_bootstrap_install_needs_pyspark_from_pip(wheelhouse: Path, tmp_path: Path) -> None:
    """pip resolving the DP libraries (the bootstrap before the exact list) asks for pyspark, which EMR's
    python3.11 does not have as a package: on PyPI that is the 317 MB source archive, built on every node;
    here, with only the list's wheels, the install fails for want of it."""
    venv = tmp_path / "node"
    _run(_python311(), "-m", "venv", venv)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PIP_CONFIG_FILE": os.devnull}
    proc = subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "--disable-pip-version-check", "--no-index",
         "--find-links", wheelhouse, *PREVIOUS_INSTALL],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "No matching distribution found for pyspark" in proc.stderr, proc.stderr[-2000:]
