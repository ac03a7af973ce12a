"""AWS Glue entry script: resolve the job run's arguments and run the gateway's job entry point.

Glue calls ``dp_query_job.py --key value ...`` with the job's default arguments merged with the run's
(``--submission_id``, ``--request``, ``--output``, ``--granted_blocks``, ``--granted_epsilon``,
``--granted_delta``, ``--request_sha256``; Glue argument names use underscores). On Glue
``awsglue.utils.getResolvedOptions`` reads them; elsewhere plain argument parsing does, ignoring Glue's
own arguments, so local, Glue and EMR run the same code.
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


def start_glue_session() -> None:
    """On Glue, start Glue's own Spark session first, so the entry point reuses it (never ``local[*]``)."""
    try:
        from awsglue.context import GlueContext  # type: ignore[import-not-found]
        from pyspark.context import SparkContext
    except ImportError:  # not on Glue: the entry point builds its session
        return
    GlueContext(SparkContext.getOrCreate())


if __name__ == "__main__":
    argv = resolve_arguments(sys.argv[1:])
    start_glue_session()
    sys.exit(main(argv))
