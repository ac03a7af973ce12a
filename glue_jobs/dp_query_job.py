"""AWS Glue entry script: resolve the job run's arguments and run the gateway's job entry point.

Glue calls ``dp_query_job.py --key value ...`` with the job's default arguments merged with the run's
(``--submission_id``, ``--request``, ``--output``, ``--granted_blocks``, ``--granted_epsilon``,
``--granted_delta``, ``--request_sha256``; Glue argument names use underscores). On Glue
``awsglue.utils.getResolvedOptions`` reads them; elsewhere plain argument parsing does, ignoring Glue's
own arguments, so local, Glue and EMR run the same code.

The job's default argument ``--warehouse_dir`` is Spark's SQL warehouse (Tumult writes intermediate
tables there; on a cluster it must be shared storage). It is set in the SparkConf before Glue's
SparkContext starts: a static setting that ``--conf`` on Glue is not guaranteed to reach.
"""

from __future__ import annotations

import argparse
import sys

from gateway.runtime.entrypoint import main

# Glue argument -> entry point option.
OPTIONS = {
    "submission_id": "--submission-id",
    "request": "--request",
    "output": "--output",
    "granted_blocks": "--blocks",
    "granted_epsilon": "--epsilon",
    "granted_delta": "--delta",
    "request_sha256": "--request-sha256",
}


def _resolve(argv: list[str]) -> dict[str, str]:
    try:
        from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    except ImportError:  # not on Glue
        parser = argparse.ArgumentParser(prog="dp_query_job.py")
        for name in OPTIONS:
            parser.add_argument(f"--{name}", required=True)
        known, _glue_own = parser.parse_known_args(argv)
        return vars(known)
    return dict(getResolvedOptions(["dp_query_job.py", *argv], list(OPTIONS)))


def resolve_arguments(argv: list[str]) -> list[str]:
    """The entry point's argv for a Glue run's argv."""
    options = _resolve(argv)
    resolved: list[str] = []
    for name, option in OPTIONS.items():
        resolved += [option, options[name]]
    return resolved


def warehouse_dir(argv: list[str]) -> str | None:
    """The run's ``--warehouse_dir`` (a default argument of the job), if any."""
    parser = argparse.ArgumentParser(prog="dp_query_job.py", add_help=False)
    parser.add_argument("--warehouse_dir")
    known, _others = parser.parse_known_args(argv)
    return known.warehouse_dir


def start_glue_session(warehouse: str | None = None) -> None:
    """On Glue, start Glue's own Spark session first, so the entry point reuses it (never ``local[*]``).

    The warehouse goes into the SparkConf the context starts with; the entry point's session inherits it.
    """
    try:
        from awsglue.context import GlueContext  # type: ignore[import-not-found]
        from pyspark import SparkConf
        from pyspark.context import SparkContext
    except ImportError:  # not on Glue: the entry point builds its session
        return
    conf = SparkConf()
    if warehouse:
        conf.set("spark.sql.warehouse.dir", warehouse)
    GlueContext(SparkContext.getOrCreate(conf))


if __name__ == "__main__":
    argv = resolve_arguments(sys.argv[1:])
    start_glue_session(warehouse_dir(sys.argv[1:]))
    sys.exit(main(argv))
