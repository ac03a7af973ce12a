"""EMR step script: ``spark-submit --deploy-mode cluster dp_query_step.py --request s3://... --submission-id ...``.

The step's arguments are already the entry point's (``--request``, ``--submission-id``, ``--output``,
``--blocks``, ``--epsilon``, ``--delta``, ``--request-sha256``), so this wrapper only calls it: local, Glue
and EMR run the same code. The gateway wheel and the DP libraries come from ``emr_bootstrap.sh``.
"""

from __future__ import annotations

import sys

from gateway.runtime.entrypoint import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
