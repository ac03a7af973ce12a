"""``dpgw submit`` killed inside a ledger commit, at each write it makes, on S3 and DynamoDB (moto server).

The scenario: query ``a`` is running and its job has just ended; ``dpgw submit b`` then records ``b``,
charges ``a``, admits ``b`` and launches it: five commits. For K = 1, 2, ... on a fresh ledger, that
submit dies (``os._exit``, as a kill) right before its K-th writing AWS call: on S3 between the read and
the conditional put (or before copying the last commit's history out), on DynamoDB at the transaction.
The user then retries it; the first retry is killed too, before its first write (when the launch was
left half-way, that is the recovery recording the run), and the next one completes. The books balance
to the last decimal after every kill and every retry; at the end each client id is one submission, ``a``
is charged exactly once, and ``b``'s grant was launched and answered once. K grows until the submit no
longer reaches its K-th write. (A directory ledger killed between its temp file and the rename:
``tests/ledger/test_faults.py``.)
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from gateway.cli.main import main
from gateway.core.claims import ClaimState
from gateway.ledger import open_store
from gateway.ledger.base import full_view
from tests.cli.subprocess_site import DIED, DPGW, child_env
from tests.ledger.conftest import BUCKET, aws_env, moto_server, server_env  # noqa: F401 - fixtures by name
from tests.ledger.support import check_books

pytestmark = pytest.mark.slow

DAYS = ["--from", "2026-10-01", "--to", "2026-10-02", "--epsilon", "1"]


@pytest.fixture(params=["s3", "dynamodb"])
def ledger_url(request: pytest.FixtureRequest, server_env: str) -> str:  # noqa: F811
    name = f"kills-{uuid.uuid4().hex[:8]}"
    return f"s3://{BUCKET}/{name}" if request.param == "s3" else f"dynamodb://{name}"


def write_spec(root: Path, client_id: str, epsilon: str, last: int) -> str:
    path = root / f"{client_id}.yaml"
    doc = {
        "engine": "tumult",
        "dataset": "events",
        "analyst": "ann",
        "client_id": client_id,
        "blocks": {"last": last},
        "budget": {"epsilon": epsilon},
        "privacy_unit": "row",
        "aggregate": {"function": "count"},
    }
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def balanced(url: str):
    """Check the books (per block: granted - released = allocated + consumed, to the last decimal)."""
    store = open_store(url)
    state = full_view(store)
    check_books(state, store.audit())
    ids = [c.spec.client_id for c in state.claims.values()]
    assert len(ids) == len(set(ids)), ids  # a client id is one submission, however often it was retried
    return state


def test_a_dpgw_submit_killed_before_each_write_keeps_the_books_and_converges(ledger_url, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    pq.write_table(pa.table({"day": [dt.date(2026, 10, 1)], "v": [1.0]}), data / "part-0.parquet")
    env = child_env(tmp_path / "site")
    a, b = write_spec(tmp_path, "a", "0.5", 2), write_spec(tmp_path, "b", "0.4", 1)
    kills = 0
    for die_at in itertools.count(1):
        url, cwd = f"{ledger_url}-{die_at}", tmp_path / f"k{die_at}"  # a fresh ledger and job directory
        cwd.mkdir()
        assert main(["init", "--ledger", url, "--policy", "fcfs", "--json"]) == 0
        assert main(["datasets", "add", "events", "--path", str(data), "--time-column", "day", "--ledger", url]) == 0
        assert main(["blocks", "add", "events", *DAYS, "--ledger", url]) == 0

        def dpgw(*args: str, die: int | None = None, cwd: Path = cwd, url: str = url) -> int:
            extra = {"DPGW_TEST_DIE_AT_WRITE": str(die)} if die else {}
            proc = subprocess.run(
                [*DPGW, *args, "--ledger", url, "--json"],
                cwd=cwd,  # the local launcher's job records go to ./.dpgw-jobs
                env={**env, **extra},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            balanced(url)
            if proc.returncode != DIED:
                assert proc.returncode == 0 and "Traceback" not in proc.stderr, (args, die, proc.stderr)
                assert json.loads(proc.stdout)["state"] in ("running", "succeeded")  # one JSON document
            return proc.returncode

        assert dpgw("submit", a) == 0
        wait_for_outcomes(cwd / ".dpgw-jobs")
        if dpgw("submit", b, die=die_at) != DIED:
            break  # this submit makes fewer writes than die_at: every write has been a kill point
        kills += 1
        kills += dpgw("submit", b, die=1) == DIED  # the retry killed in turn, at its first write
        assert dpgw("submit", b) == 0  # and the next retry completes

        state = balanced(url)
        by_client = {c.spec.client_id: c for c in state.claims.values()}
        assert sorted(by_client) == ["a", "b"]
        assert by_client["a"].state is ClaimState.SUCCEEDED  # charged exactly once (check_books)
        launched = sorted(c.id for c in state.claims.values() if c.run_id is not None)
        assert launched == sorted(c.id for c in state.claims.values())
        wait_for_outcomes(cwd / ".dpgw-jobs")
        assert sorted(p.parent.name for p in (cwd / ".dpgw-jobs").glob("*/claimed.json")) == launched  # ran once
        block = state.blocks["events/2026-10-01"]
        assert (str(block.consumed.epsilon), str(block.allocated.epsilon)) == ("0.5", "0")
    assert die_at >= 5 and kills >= die_at - 1  # every write of the submit (five commits) was a kill point


def wait_for_outcomes(jobs: Path, timeout: float = 60) -> None:
    """Until every launched job has written its outcome (they take a fraction of a second)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = list(jobs.glob("*/run.json"))
        if runs and all((r.parent / "outcome.json").exists() for r in runs):
            return
        time.sleep(0.1)
    raise AssertionError(f"no outcome from the jobs under {jobs}")
