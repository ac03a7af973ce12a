"""EMR step script (``spark-submit dp_query_step.py --request ... --submission-id ...``).

A thin wrapper: the gateway's job entry point does the work, exactly as on Glue and locally.
"""

from __future__ import annotations

import sys

from gateway.runtime.entrypoint import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
