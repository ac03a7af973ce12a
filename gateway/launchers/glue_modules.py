"""What the Glue job installs on Glue 5.0, and how: exact pins with pip's ``--no-deps``.

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
