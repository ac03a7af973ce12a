"""Resolve what the Glue job (and the EMR bootstrap) must install, with real pip; print it one ``name==version`` a line.

Usage: ``python3.11 tests/launchers/replica/resolve_glue_modules.py > tests/launchers/replica/glue-5.0-modules.txt``
and ``python3.11 tests/launchers/replica/resolve_glue_modules.py emr > tests/launchers/replica/emr-7.5-modules.txt``.

pip resolves the DP libraries and the gateway's dependencies for CPython 3.11 with Glue 5.0's
preinstalled versions as constraints (``glue-5.0-base-requirements.txt``) plus Spark's pyspark 3.5.4,
except the pins a DP library provably conflicts with (``OVERRIDES``: pip reports ResolutionImpossible
on each original pin). The output leaves out what Glue already has at that version and pyspark/py4j.
``gateway.launchers.glue_modules.GLUE_5_MODULES`` must equal it (``test_glue_modules.py``).

With ``emr``: the same for EMR 7.5.0's ``python3.11``. EMR documents no Python packages for it (its
release notes list Python 3.9 and 3.11, Spark 3.5.2; see ``emr-7.5-python.txt``), so nothing is assumed
preinstalled but Spark's own pyspark 3.5.2 and py4j, which are constraints and never in the output; the
gateway's ``[aws]`` extra (boto3) is resolved too, because ``--no-deps`` does not follow extras.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE = HERE / "glue-5.0-base-requirements.txt"
EMR_BASE = HERE / "emr-7.5-python.txt"  # EMR 7.5.0's python3.11 and Spark, with the documents that say so
# Glue's own pyspark: a constraint so pip resolves against it; never installed.
SPARK = {"pyspark": "3.5.4", "py4j": "0.10.9.7"}
# pip: "tmlt-analytics 0.21.0 depends on pandas<2,>=1.5.0", "tmlt-core 0.19.1 depends on pyarrow<19,>=18.0.0",
# "tmlt-core 0.19.1 depends on setuptools>=70.0.0" (70.3 is the last 70.x and still ships pkg_resources).
OVERRIDES = {"pandas": "1.5.3", "pyarrow": "18.1.0", "setuptools": "70.3.0"}
REQUIREMENTS = [
    "tmlt.analytics==0.21.0",
    "pipeline-dp==0.3.1",
    # dp-gateway's own dependencies (pyproject.toml); its [aws] extra is Glue's boto3.
    "pydantic>=2.6,<3",
    "pyyaml>=6",
    "typer>=0.12",
    "rich>=13",
    "pyarrow>=14",
    "numpy>=1.24",
]
# The gateway's [aws] extra (pyproject.toml): Glue has boto3; EMR's python3.11 is not documented to.
AWS_EXTRA = ["boto3>=1.44,<1.45"]


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def glue_pins() -> dict[str, str]:
    return _pins(BASE)


def emr_spark() -> dict[str, str]:
    """Spark's pyspark and py4j on EMR 7.5.0: constraints for the resolver, never installed."""
    return _pins(EMR_BASE)


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonical(name)] = version.strip()
    return pins


def constraints() -> list[str]:
    pins = glue_pins() | {canonical(k): v for k, v in OVERRIDES.items()} | SPARK
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def emr_constraints() -> list[str]:
    return [f"{name}=={version}" for name, version in sorted(emr_spark().items())]


def resolve(python: str = sys.executable) -> list[str]:
    """Glue 5.0: what to install beside Glue's packages."""
    return _resolve(python, constraints(), REQUIREMENTS, glue_pins())


def resolve_emr(python: str = sys.executable) -> list[str]:
    """EMR 7.5.0's python3.11: everything but Spark's pyspark and py4j."""
    return _resolve(python, emr_constraints(), REQUIREMENTS + AWS_EXTRA, {})


def _resolve(python: str, pins: list[str], requirements: list[str], present: dict[str, str]) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        constraints_file = Path(tmp) / "constraints.txt"
        constraints_file.write_text("\n".join(pins) + "\n")
        report = Path(tmp) / "report.json"
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--dry-run",
                "--ignore-installed",
                "--report",
                str(report),
                "-c",
                str(constraints_file),
                *requirements,
            ],
            check=True,
        )
        installed = json.loads(report.read_text())["install"]
    keep = []
    for item in installed:
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        if canonical(name) in SPARK or present.get(canonical(name)) == version:
            continue
        url = item["download_info"]["url"]
        if not url.endswith(".whl"):  # no native builds on the nodes: every module must come as a wheel
            raise SystemExit(f"{name} {version} resolves to a source archive ({url}); pin a version with a wheel")
        keep.append(f"{name}=={version}")
    return sorted(keep, key=str.lower)


if __name__ == "__main__":
    print("\n".join(resolve_emr() if sys.argv[1:] == ["emr"] else resolve()))
