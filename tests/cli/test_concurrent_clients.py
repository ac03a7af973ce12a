"""32 ``dpgw`` processes on one shared ledger, through the command line, while jobs finish.

Each client is a sequence of real ``dpgw ... --json`` processes: it submits oversubscribing queries
(about five times what the blocks hold, under DPF-N so every arrival unlocks budget), retries a
submission as a user would, and runs ``dpgw schedule``. The jobs are launched by the real local launcher
(run record, pid, ``python -m gateway.runtime``, create-only claim and outcome) and end a fraction of a
second later, so ``submit``/``schedule`` passes in other processes charge them while they admit and
launch. Once on a directory ledger (many processes on one host: the file lock) and once on a DynamoDB
ledger on the serialized moto server (``tests/ledger/conftest.py``).

Only Spark is left out: ``sitecustomize.py`` on the children's ``PYTHONPATH`` (``subprocess_site.py``)
swaps the job's Spark session and DP computation for an instant answer that spends exactly the grant,
in ``gateway.runtime`` processes only. Everything the gateway trusts of a job (its request digest, its
create-only claim and outcome documents, the outcome read back by a poll) is the production code;
nothing in ``gateway/`` knows about the test.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from gateway.core.claims import ClaimState
from gateway.ledger import open_store
from gateway.ledger.base import full_view
from tests.cli.subprocess_site import DPGW, child_env
from tests.ledger.conftest import aws_env, moto_server, server_env  # noqa: F401 - fixtures used by name
from tests.ledger.support import check_books

pytestmark = pytest.mark.slow

CLIENTS, PER_CLIENT = 32, 1  # CLI start-up costs ~0.6 s of CPU per call (pandas, pyarrow)

# A ledger that kept changing under an update (or a throttled store) is exit 3 with this error: retried.
RETRIED = {"LedgerConflictError", "LedgerUnavailableError"}


class Clients:
    """Runs ``dpgw`` processes and keeps every call: arguments, exit code, stdout, stderr."""

    def __init__(self, ledger: str, cwd: Path, env: dict[str, str]) -> None:
        self.ledger, self.cwd, self.env = ledger, cwd, env
        self.calls: list[tuple[list[str], int, str, str]] = []
        self._lock = threading.Lock()

    def run(self, *args: str) -> tuple[int, Any]:
        argv = [*args, "--ledger", self.ledger, "--json"]
        proc = subprocess.run(
            [*DPGW, *argv], cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=240, check=False
        )
        with self._lock:
            self.calls.append((argv, proc.returncode, proc.stdout, proc.stderr))
        try:
            doc = json.loads(proc.stdout)  # exactly one JSON document, or this raises
        except ValueError:
            doc = None
        return proc.returncode, doc

    def retrying(self, *args: str) -> tuple[int, Any]:
        """A user's retry loop: run again while the ledger reports a conflict (the same client id)."""
        for _ in range(10):
            code, doc = self.run(*args)
            if not (code == 3 and isinstance(doc, dict) and doc.get("error", {}).get("type") in RETRIED):
                return code, doc
        return code, doc


def spec_file(root: Path, client: int, i: int) -> Path:
    path = root / "specs" / f"c{client}-{i}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "engine": "tumult",
        "dataset": "events",
        "analyst": "team",
        "client_id": f"c{client}-{i}",
        "blocks": {"last": 1 + (client + i) % 2},
        "budget": {"epsilon": ["0.1", "0.2", "0.3"][(client + i) % 3]},
        "privacy_unit": "row",
        "aggregate": {"function": "count"},
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def client(clients: Clients, root: Path, number: int, ids: dict[str, list[str]], errors: list[BaseException]) -> None:
    try:
        for i in range(PER_CLIENT):
            spec = str(spec_file(root, number, i))
            _, doc = clients.retrying("submit", spec)
            if isinstance(doc, dict) and "id" in doc:
                ids.setdefault(f"c{number}-{i}", []).append(doc["id"])
            if number % 4 == i:  # a user who is unsure it went through submits the same file again
                _, doc = clients.retrying("submit", spec)
                if isinstance(doc, dict) and "id" in doc:
                    ids[f"c{number}-{i}"].append(doc["id"])
        clients.retrying("schedule")  # charges what ended, admits what now fits
    except BaseException as exc:  # noqa: BLE001 - re-raised by the test
        errors.append(exc)


@pytest.fixture
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return str(tmp_path / "ledger")
    request.getfixturevalue("server_env")  # AWS_ENDPOINT_URL and fake credentials, inherited by the clients
    return f"dynamodb://cli-race-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("ledger_url", ["file", "dynamodb"], indirect=True)
def test_32_cli_clients_with_jobs_finishing_keep_the_books(ledger_url, tmp_path):
    env = child_env(tmp_path / "site")
    data = tmp_path / "data"
    data.mkdir()
    pq.write_table(pa.table({"day": [dt.date(2026, 10, 1)], "v": [1.0]}), data / "part-0.parquet")
    clients = Clients(ledger_url, tmp_path, env)  # one working directory: the local launcher's job records
    assert clients.run("init", "--policy", "dpf-n", "--n", "3")[0] == 0
    assert clients.run("datasets", "add", "events", "--path", str(data), "--time-column", "day")[0] == 0
    blocks = ("blocks", "add", "events", "--from", "2026-10-01", "--to", "2026-10-02", "--epsilon", "1")
    assert clients.run(*blocks)[0] == 0
    clients.calls.clear()

    ids: dict[str, list[str]] = {}
    errors: list[BaseException] = []
    started = time.monotonic()
    pool = [
        threading.Thread(target=client, args=(clients, tmp_path, n, ids, errors), daemon=True) for n in range(CLIENTS)
    ]
    for t in pool:
        t.start()
    for t in pool:
        t.join(600)
    assert not errors, errors[0]
    assert not any(t.is_alive() for t in pool)
    racing = time.monotonic() - started

    store = open_store(ledger_url)
    charged_while_racing = sum(e.kind == "charged" for e in store.audit())
    # Then single passes until no job is left running, as an operator's `dpgw schedule` would.
    live = (ClaimState.ADMITTED, ClaimState.LAUNCHING, ClaimState.RUNNING)
    deadline = time.monotonic() + 120
    while any(c.state in live for c in full_view(store).claims.values()) and time.monotonic() < deadline:
        time.sleep(0.3)
        assert clients.run("schedule")[0] == 0

    # Every call: a documented exit code, one JSON document on stdout, no traceback.
    for argv, code, out, err in clients.calls:
        doc = json.loads(out)  # one document: json.loads refuses a second one
        assert "Traceback" not in err and "Traceback" not in out, (argv, err)
        if code == 3 and "error" in doc:
            assert doc["error"]["type"] in RETRIED, (argv, doc)
        elif argv[0] == "submit":
            assert (code, doc["state"] == "rejected") in ((0, False), (3, True)), (argv, code, doc)
        else:
            assert code == 0 and not doc["errors"], (argv, code, doc)

    state, events = full_view(store), store.audit()
    check_books(state, events)  # per block, to the last decimal: granted - released = allocated + consumed
    expected = {f"c{n}-{i}" for n in range(CLIENTS) for i in range(PER_CLIENT)}
    assert sorted(c.spec.client_id for c in state.claims.values()) == sorted(expected)  # each id once
    assert set(ids) == expected
    for client_id, seen in ids.items():
        assert len(set(seen)) == 1, (client_id, seen)  # a retried submission is the same submission
    assert sum(len(seen) > 1 for seen in ids.values()) >= CLIENTS // 4  # and retries did happen

    by_id = state.claims
    assert {c.state for c in by_id.values()} <= {ClaimState.SUCCEEDED, ClaimState.PENDING, ClaimState.REJECTED}
    launched = sorted(c.id for c in by_id.values() if c.run_id is not None)
    jobs = tmp_path / "ledger" / "jobs" if not ledger_url.startswith("dynamodb://") else tmp_path / ".dpgw-jobs"
    assert sorted(p.parent.name for p in jobs.glob("*/run.json")) == launched  # one launch per grant
    assert sorted(p.parent.name for p in jobs.glob("*/claimed.json")) == launched  # each job ran once
    succeeded = [c for c in by_id.values() if c.state is ClaimState.SUCCEEDED]
    assert succeeded and all(c.result is not None for c in succeeded)
    assert charged_while_racing > 0  # jobs ended, and were charged, while other clients were admitting
    demanded = sum(c.demand.epsilon * len(c.blocks) for c in by_id.values())
    assert demanded > 3 * sum(b.capacity.epsilon for b in state.blocks.values())  # really oversubscribed
    print(f"{len(clients.calls)} dpgw calls; the 32 clients took {racing:.1f} s")
