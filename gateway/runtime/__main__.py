"""``python -m gateway.runtime --request PATH --submission-id ID``: run one DP job."""

from __future__ import annotations

import sys

from gateway.runtime.entrypoint import main

if __name__ == "__main__":
    sys.exit(main())
