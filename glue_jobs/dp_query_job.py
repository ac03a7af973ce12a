"""AWS Glue entry script: resolve the job arguments and run the gateway's job entry point.

Glue passes ``--request`` and ``--submission_id`` (Glue argument names use underscores); locally the
same script runs with plain argument parsing, so local, Glue and EMR execute the same code.
"""

from __future__ import annotations

import sys

from gateway.runtime.entrypoint import main


def resolve_arguments(argv: list[str]) -> list[str]:
    try:
        from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    except ImportError:  # not on Glue: the arguments are already the entry point's
        return argv
    options = getResolvedOptions(["prog", *argv], ["request", "submission_id"])
    return ["--request", options["request"], "--submission-id", options["submission_id"]]


if __name__ == "__main__":
    sys.exit(main(resolve_arguments(sys.argv[1:])))
