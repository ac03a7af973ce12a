"""What the CLI subprocess tests put on a child's ``PYTHONPATH``: a ``sitecustomize.py`` that Python loads
at start-up in every process of the test (``dpgw`` and the jobs it launches), and nothing in ``gateway/``.

It acts only where asked:

- in ``python -m gateway.runtime`` (a job started by the real local launcher): the Spark session and the
  DP computation give way to an instant answer that spends exactly the grant. The rest of the job path
  (request digest check, create-only claim, create-only outcome, read back by the launcher's poll) is
  the production code.
- with ``DPGW_TEST_DIE_AT_WRITE=K``: the process dies (``os._exit(17)``, no clean-up, as a kill) right
  before its K-th writing AWS call (a conditional S3 put, a DynamoDB transaction, ...), that is inside a
  ledger commit, between its read and its conditional write.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DIED = 17

SITE = (
    """
import os
import sys

if sys.orig_argv[1:3] == ["-m", "gateway.runtime"]:
    import datetime as dt
    import random
    import time

    from gateway.core.jobs import GroupValue, JobResult
    from gateway.runtime import entrypoint

    def _no_spark(app_name):
        return None

    def _answer(spark, request):
        started = dt.datetime.now(dt.UTC)
        time.sleep(random.uniform(0.05, 0.5))
        return JobResult(
            submission_id=request.submission_id,
            engine="tumult",
            engine_version="test",
            dataset=request.dataset.name,
            blocks=request.blocks,
            granted=request.granted,
            spent=request.granted,
            aggregate=request.spec.first.function.value,
            values=[GroupValue(key=None, value=1.0)],
            started_at=started,
            finished_at=dt.datetime.now(dt.UTC),
        )

    entrypoint.build_spark = _no_spark
    entrypoint.run_job = _answer

elif os.environ.get("DPGW_TEST_DIE_AT_WRITE"):
    import botocore.client

    _WRITES = {
        "PutObject", "DeleteObject", "DeleteObjects", "CopyObject", "CreateBucket",
        "TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "CreateTable",
    }
    _die_at = int(os.environ["DPGW_TEST_DIE_AT_WRITE"])
    _seen = [0]
    _call = botocore.client.BaseClient._make_api_call

    def _make_api_call(self, operation_name, api_params):
        if operation_name in _WRITES:
            _seen[0] += 1
            if _seen[0] == _die_at:
                os._exit(DIED)
        return _call(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = _make_api_call
"""
).replace("DIED", str(DIED))


def child_env(site_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment with ``sitecustomize.py`` (written to ``site_dir``) and this worktree
    first on ``PYTHONPATH``; no ledger or team gateway inherited from the caller's shell."""
    site_dir.mkdir(parents=True, exist_ok=True)
    (site_dir / "sitecustomize.py").write_text(SITE)
    path = os.pathsep.join(p for p in (str(site_dir), str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "120", **extra}
    env.pop("DPGW_LEDGER", None)
    env.pop("DPGW_URL", None)
    return env


_SCRIPT = Path(sys.executable).with_name("dpgw")
DPGW = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "gateway.cli.main"]
