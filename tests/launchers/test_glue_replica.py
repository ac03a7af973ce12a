"""A replica of Glue 5.0's Python: install the job's modules the way Glue does, then import the job there.

The replica is a CPython 3.11 venv holding Glue 5.0's published base requirements (cached under
``~/.cache/dpgw-replica``), with pyspark and py4j on the path as Spark's own python is on Glue. The job's
modules are installed as Glue's ``--additional-python-modules`` with ``--python-modules-installer-option``
does (pip, the options, the list), into a directory ahead of the base on the path, so the cached base
stays pristine. Then the job's entry module and both DP libraries must import there, pip must not have
installed pyspark, and Glue's packages must be unchanged except the three the DP libraries require.

The same check on the previous job definition (the DP libraries unpinned, no --no-deps) fails: pip plans
to build pyspark from source and to rewrite Glue's packages; that is shown with pip's dry-run report.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from gateway.cli.package import build_wheel
from gateway.launchers.glue_modules import CHANGED_GLUE_PACKAGES, GLUE_5_MODULES, GLUE_INSTALLER_OPTION
from tests.launchers.replica.resolve_glue_modules import BASE, canonical, glue_pins

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("DPGW_REPLICA_CACHE", Path.home() / ".cache" / "dpgw-replica"))
PREVIOUS_MODULES = ("tmlt.analytics==0.21.0", "pipeline-dp==0.3.1")  # the job definition before the fix

PROBE = """
import importlib.metadata as md, json, sys
import gateway.runtime.entrypoint, tmlt.analytics, pipeline_dp, pkg_resources, pyspark, botocore.session
put = botocore.session.get_session().get_service_model("s3").operation_model("PutObject").input_shape.members
versions = {}
for d in md.distributions():  # in sys.path order: the first one found is the one imported
    versions.setdefault(d.metadata["Name"], d.version)
print(json.dumps({
    "versions": versions,
    "pyspark_file": pyspark.__file__,
    "put_object_if_none_match": "IfNoneMatch" in put,
}))
"""


def _python311() -> str:
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    found = shutil.which("python3.11")
    if found is None:
        pytest.skip("no CPython 3.11 here: Glue 5.0 runs 3.11")
    return found


def _pypi_reachable() -> bool:
    try:
        urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10).close()
    except OSError:
        return False
    return True


def _run(*cmd: str | Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, f"{cmd[:4]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def glue_base() -> Path:
    """The cached venv of Glue 5.0's base requirements (its pip too: 23.0.1), plus Spark's pyspark/py4j."""
    if not _pypi_reachable():
        pytest.skip("PyPI is unreachable: the replica installs Glue's base requirements from it")
    digest = hashlib.sha256(BASE.read_bytes()).hexdigest()[:12]
    venv = CACHE / f"glue-5.0-{digest}"
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        _run(_python311(), "-m", "venv", venv)
        _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", BASE)
        # Glue puts Spark's python (pyspark, py4j) on the path; pip never installed them. Reuse this
        # environment's pyspark 3.5 in a directory of its own, named by a .pth file.
        import py4j
        import pyspark

        spark = venv / "spark-python"
        spark.mkdir()
        for module in (pyspark, py4j):
            os.symlink(Path(module.__file__).parent, spark / module.__name__)
        site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
        (site / "glue-spark.pth").write_text(f"{spark}\n")
        (venv / ".complete").touch()
    return python


def _violations(changed: dict[str, tuple[str, str]], installed_names: set[str], sources: list[str]) -> list[str]:
    """What an install did to Glue that the DP libraries do not require."""
    found = [f"pip installs {n} (Glue's Spark provides it)" for n in sorted(installed_names & {"pyspark", "py4j"})]
    found += [f"builds {s} from source (Glue compiles no native code)" for s in sources]
    found += [
        f"changes Glue's {name} {old} -> {new}"
        for name, (old, new) in sorted(changed.items())
        if CHANGED_GLUE_PACKAGES.get(name) != (old, new)
    ]
    return found


def test_the_job_imports_on_glue_and_glue_keeps_its_packages(glue_base: Path, tmp_path: Path) -> None:
    wheel = build_wheel(ROOT, tmp_path / "dist")
    target = tmp_path / "glue-modules"
    _run(glue_base, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", GLUE_INSTALLER_OPTION,
         "--only-binary=:all:", "--target", target, *GLUE_5_MODULES, wheel)  # fmt: skip
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(target)}
    probe = json.loads(_run(glue_base, "-c", PROBE, env=env))
    versions = {canonical(k): v for k, v in probe["versions"].items()}
    glue = glue_pins()
    changed = {n: (glue[n], versions[n]) for n in glue if n in versions and versions[n] != glue[n]}
    installed = {canonical(p.name.split("-")[0]) for p in target.glob("*.dist-info")}
    assert _violations(changed, installed, []) == []
    assert changed == CHANGED_GLUE_PACKAGES  # exactly pandas, pyarrow and setuptools move
    assert "spark-python" in probe["pyspark_file"]  # Spark's own pyspark, not pip's
    assert versions["tmlt-analytics"] == "0.21.0" and versions["pipeline-dp"] == "0.3.1"
    # Glue's botocore 1.34.131 predates S3 conditional writes: a create-only put from the job must send
    # the If-None-Match header itself (a before-sign hook), not PutObject's IfNoneMatch parameter.
    assert versions["botocore"] == glue["botocore"] and probe["put_object_if_none_match"] is False


def test_the_previous_job_definition_would_rewrite_glue(glue_base: Path, tmp_path: Path) -> None:
    """Unpinned and with dependencies, pip plans to build pyspark and to move Glue's packages."""
    wheel = build_wheel(ROOT, tmp_path / "dist")
    report = tmp_path / "report.json"
    _run(glue_base, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--dry-run",
         "--report", report, *PREVIOUS_MODULES, wheel)  # fmt: skip
    plan = json.loads(report.read_text())["install"]
    planned = {canonical(i["metadata"]["name"]): i["metadata"]["version"] for i in plan}
    sources = [
        i["download_info"]["url"].rsplit("/", 1)[-1]
        for i in plan
        if not i["download_info"]["url"].endswith(".whl") and not i["download_info"]["url"].startswith("file:")
    ]
    glue = glue_pins()
    changed = {n: (glue[n], v) for n, v in planned.items() if n in glue and v != glue[n]}
    violations = _violations(changed, set(planned), sources)
    assert "pip installs pyspark (Glue's Spark provides it)" in violations
    assert any(v.startswith("builds pyspark-") for v in violations)
