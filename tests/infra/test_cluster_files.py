"""The EMR bootstrap script and software settings: valid, pinned, idempotent, loud on failure."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.errors import GatewayValidationError
from gateway.launchers.emr_config import check_configurations

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = ROOT / "emr_bootstrap.sh"


def test_software_settings_have_the_emr_configurations_shape() -> None:
    settings = json.loads((ROOT / "software_settings.json").read_text())
    check_configurations(settings)
    by_class = {c["Classification"]: c for c in settings}
    exports = by_class["spark-env"]["Configurations"][0]
    assert exports["Classification"] == "export"
    assert exports["Properties"]["PYSPARK_PYTHON"] == "/usr/bin/python3.11"
    defaults = by_class["spark-defaults"]["Properties"]
    assert defaults["spark.yarn.appMasterEnv.PYSPARK_PYTHON"] == "/usr/bin/python3.11"  # cluster deploy mode
    assert defaults["spark.sql.execution.arrow.pyspark.enabled"] == "true"
    assert defaults["spark.sql.session.timeZone"] == "UTC"


@pytest.mark.parametrize(
    "bad",
    [
        {"Classification": "spark-defaults"},  # not a list
        [{"Properties": {}}],
        [{"Classification": "spark-defaults", "Properties": {"spark.x": 1}}],
        [{"Classification": "spark-env", "Configurations": [{"Classification": "export", "Props": {}}]}],
    ],
)
def test_malformed_configurations_are_refused(bad: object) -> None:
    with pytest.raises(GatewayValidationError):
        check_configurations(bad)


def test_bootstrap_parses() -> None:
    subprocess.run(["bash", "-n", str(BOOTSTRAP)], check=True)


def test_bootstrap_passes_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    proc = subprocess.run(["shellcheck", str(BOOTSTRAP)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout


@pytest.fixture
def fake_node(tmp_path: Path) -> dict[str, str]:
    """A PATH with stand-ins for aws, sudo, uname and python3.11 that log what they were asked to do.

    ``aws s3 cp URI DIR`` writes a file named like the URI; the module list gets ``FAKE_MODULES``.
    (``tests/launchers/test_emr_replica.py`` runs the script for real: real pip, awscli and Spark.)
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    scripts = {
        "aws": (
            f'echo "aws $*" >> {log}; out="$5/$(basename "$4")"; '
            'if [ "$(basename "$4")" = emr_modules.txt ]; then printf "%b" "$FAKE_MODULES" > "$out"; '
            'else touch "$out"; fi'
        ),
        "sudo": '"$@"',
        "uname": 'echo "${FAKE_ARCH:-x86_64}"',
        "python3.11": (
            f'echo "python $*" >> {log}; '
            'if [ "$*" = "-m pip --version" ]; then exit "${FAKE_NO_PIP:-0}"; fi; exit "${FAKE_PIP_STATUS:-0}"'
        ),
        "dnf": f'echo "dnf $*" >> {log}',
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!/usr/bin/env bash\n{body}\n")
        path.chmod(0o755)
    modules = "# list\\ntmlt.analytics==0.21.0\\npipeline-dp==0.3.1\\n"
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "LOG": str(log), "FAKE_MODULES": modules}


def _bootstrap(env: dict[str, str], *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(BOOTSTRAP), *args], env={**env, **extra}, capture_output=True, text=True, check=False
    )


WHEEL = "s3://b/dp/artifacts/0.1.0/dp_gateway-0.1.0-py3-none-any.whl"


def test_bootstrap_installs_exactly_the_module_list_and_the_wheel_idempotently(fake_node: dict[str, str]) -> None:
    for _ in range(2):
        proc = _bootstrap(fake_node, WHEEL)
        assert proc.returncode == 0, proc.stderr
    calls = Path(fake_node["LOG"]).read_text().splitlines()
    fetched = [c.split()[4] for c in calls if c.startswith("aws s3 cp")]
    # The module list comes from beside the wheel: the artifacts `dpgw package` uploaded together.
    assert fetched == [WHEEL, "s3://b/dp/artifacts/0.1.0/emr_modules.txt"] * 2
    installs = [
        " ".join(Path(w).name if "/" in w else w for w in c.split())
        for c in calls
        if c.startswith("python -m pip install")
    ]
    assert len(installs) == 2 and installs[0] == installs[1]  # a re-run asks for exactly the same
    # pip never resolves (so never fetches or builds pyspark) and builds nothing: the list and the wheel only.
    assert installs[0] == (
        "python -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: "
        "-r emr_modules.txt dp_gateway-0.1.0-py3-none-any.whl"
    )
    checks = [c for c in calls if c.startswith("python -c ")]
    imported = set(checks[0].removeprefix("python -c import ").split(", "))
    assert imported >= {"boto3", "pipeline_dp"}
    # Spark is installed after bootstrap actions: what imports pyspark is only looked up, the step's entry among it.
    assert set(checks[1].split()[-3:]) == {"tmlt.analytics", "tmlt.core"} | _step_imports()


def test_a_python_without_pip_gets_pip_from_dnf(fake_node: dict[str, str]) -> None:
    assert _bootstrap(fake_node, WHEEL, FAKE_NO_PIP="1").returncode == 0
    calls = Path(fake_node["LOG"]).read_text().splitlines()
    assert "dnf install -y python3.11-pip" in calls
    assert calls.index("dnf install -y python3.11-pip") < min(i for i, c in enumerate(calls) if "pip install" in c)


def test_a_module_list_naming_pyspark_is_refused(fake_node: dict[str, str]) -> None:
    for listed in ("pyspark==3.5.2", "py4j==0.10.9.7", "PySpark==3.5.2"):
        proc = _bootstrap(fake_node, WHEEL, FAKE_MODULES=f"tmlt.analytics==0.21.0\\n{listed}\\n")
        assert proc.returncode == 4 and "EMR's Spark provides them" in proc.stderr
    assert not [c for c in Path(fake_node["LOG"]).read_text().splitlines() if "pip install" in c]
    assert _bootstrap(fake_node, WHEEL, FAKE_MODULES="pyspark-stubs==0.1\\n").returncode == 0  # another name


def _step_imports() -> set[str]:
    """The modules the EMR step script imports: the bootstrap's self-check must find them all."""
    tree = ast.parse((ROOT / "emr_scripts" / "dp_query_step.py").read_text())
    found = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    found |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return {m for m in found if m.startswith("gateway")}


def test_bootstrap_fails_loudly(fake_node: dict[str, str]) -> None:
    assert _bootstrap(fake_node).returncode != 0  # no wheel argument
    assert _bootstrap(fake_node, "/local/file.whl").returncode == 2
    arm = _bootstrap(fake_node, WHEEL, FAKE_ARCH="aarch64")
    assert arm.returncode == 3 and "x86_64" in arm.stderr
    broken = _bootstrap(fake_node, WHEEL, FAKE_PIP_STATUS="1")
    assert broken.returncode != 0 and "dpgw bootstrap: failed at line" in broken.stderr
    assert os.access(BOOTSTRAP, os.X_OK)
