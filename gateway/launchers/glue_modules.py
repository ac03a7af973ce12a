"""What the Glue job installs on Glue 5.0 and the EMR bootstrap on EMR 7.5, and how: exact pins with ``--no-deps``.

Glue 5.0 ships pandas 2.2.2, numpy 1.26.4, pyarrow 17.0.0 and Spark's own pyspark 3.5.4 (not a pip
package). Letting pip resolve ``tmlt.analytics`` there builds pyspark from its source archive on every
run and rewrites Glue's packages. Instead the job lists every module it needs at the version pip
resolves *against Glue's own pins* (``tests/launchers/replica/resolve_glue_modules.py``, output in
``glue-5.0-modules.txt`` beside it) and installs exactly those with ``--no-deps``: pyspark and py4j are
never installed, and Glue's packages change only where a DP library requires it:

- pandas 2.2.2 -> 1.5.3: tmlt.analytics 0.21.0 requires ``pandas>=1.5,<2`` on Python 3.11;
- pyarrow 17.0.0 -> 18.1.0: tmlt.core 0.19.1 requires ``pyarrow>=18,<19``;
- setuptools 59.6.0 -> 70.3.0: tmlt.core 0.19.1 requires ``setuptools>=70``; 70.3 still has pkg_resources.

Everything else (numpy, boto3/botocore, s3fs, matplotlib, ...) stays Glue's. The gateway wheel is
appended by the launcher; its ``[aws]`` extra is Glue's boto3.

EMR 7.5.0 has the same problem: Spark's pyspark 3.5.2 is under ``/usr/lib/spark/python``, not a pip
package, and its ``python3.11`` has no documented packages (``tests/launchers/replica/emr-7.5-python.txt``
cites the release guide). ``EMR_7_MODULES`` is pip's resolution of the same libraries plus the gateway's
``[aws]`` extra (``--no-deps`` does not follow extras) against that Spark; ``dpgw package`` uploads it as
``emr_modules.txt`` beside the wheel, and ``emr_bootstrap.sh`` installs exactly it with ``--no-deps
--only-binary=:all:``.
"""

from __future__ import annotations

# pip's resolution for tmlt.analytics==0.21.0, pipeline-dp==0.3.1 and the gateway's dependencies on
# CPython 3.11, constrained by Glue 5.0's pins (with the three changes above), less what Glue already
# has at that version, less pyspark and py4j (Spark's own). Every entry has a cp311 manylinux wheel.
GLUE_5_MODULES: tuple[str, ...] = (
    "annotated-doc==0.0.7",
    "annotated-types==0.8.0",
    "dill==0.4.1",
    "markdown-it-py==4.3.0",
    "mdurl==0.1.2",
    "mpmath==1.3.0",
    "pandas==1.5.3",
    "pipeline-dp==0.3.1",
    "pyarrow==18.1.0",
    "pydantic==2.14.4",
    "pydantic_core==2.50.5",
    "Pygments==2.21.0",
    "python-dp==1.1.5",
    "PyYAML==6.0.4",
    "randomgen==2.3.0",
    "rich==15.0.0",
    "scipy==1.17.1",
    "setuptools==70.3.0",
    "shellingham==1.5.4",
    "sympy==1.12.1",
    "tabulate==0.8.10",
    "tmlt.analytics==0.21.0",
    "tmlt.core==0.19.1",
    "tqdm==4.70.1",
    "typeguard==4.6.1",
    "typer==0.29.2",
    "types-tabulate==0.8.11",
    "typing-inspection==0.4.5",
    "typing_extensions==4.16.0",
)

# Glue passes this to pip (``--python-modules-installer-option``): install exactly the list above.
GLUE_INSTALLER_OPTION = "--no-deps"

# Glue's preinstalled versions the list replaces, and why (checked by the replica test).
CHANGED_GLUE_PACKAGES: dict[str, tuple[str, str]] = {
    "pandas": ("2.2.2", "1.5.3"),
    "pyarrow": ("17.0.0", "18.1.0"),
    "setuptools": ("59.6.0", "70.3.0"),
}


# pip's resolution for the same requirements plus boto3 (the gateway's [aws] extra) on CPython 3.11 with
# EMR 7.5.0's Spark (pyspark 3.5.2, py4j 0.10.9.7) as constraints, less pyspark and py4j
# (``resolve_glue_modules.py emr``, output in ``emr-7.5-modules.txt``). Every entry has a cp311 wheel.
EMR_7_MODULES: tuple[str, ...] = (
    "annotated-doc==0.0.7",
    "annotated-types==0.8.0",
    "boto3==1.44.8",
    "botocore==1.44.8",
    "dill==0.4.1",
    "jmespath==1.1.0",
    "markdown-it-py==4.3.0",
    "mdurl==0.1.2",
    "mpmath==1.3.0",
    "numpy==1.26.4",
    "pandas==1.5.3",
    "pipeline-dp==0.3.1",
    "pyarrow==18.1.0",
    "pydantic==2.14.4",
    "pydantic_core==2.50.5",
    "Pygments==2.21.0",
    "python-dateutil==2.9.0.post0",
    "python-dp==1.1.5",
    "pytz==2026.6",
    "PyYAML==6.0.4",
    "randomgen==2.3.0",
    "rich==15.0.0",
    "s3transfer==0.19.3",
    "scipy==1.17.1",
    "setuptools==84.2.1",
    "shellingham==1.5.4",
    "six==1.17.0",
    "sympy==1.12.1",
    "tabulate==0.8.10",
    "tmlt.analytics==0.21.0",
    "tmlt.core==0.19.1",
    "tqdm==4.70.1",
    "typeguard==4.6.1",
    "typer==0.29.2",
    "types-tabulate==0.8.11",
    "typing-inspection==0.4.5",
    "typing_extensions==4.16.0",
    "urllib3==2.8.0",
)

# The artifact ``dpgw package`` writes next to the wheel; ``emr_bootstrap.sh`` reads it from there.
EMR_MODULES_ARTIFACT = "emr_modules.txt"


def requirements_text(modules: tuple[str, ...], source: str) -> str:
    """A pip requirements file of exact pins, headed by where it came from."""
    return f"# {source}: installed with pip --no-deps --only-binary=:all:\n" + "".join(f"{m}\n" for m in modules)
