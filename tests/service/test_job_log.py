"""Gateway.job_log: where a launched job's log is, as its launcher reports it (nothing before a launch)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from gateway.core.budget import Budget
from gateway.core.claims import Claim, ClaimState
from gateway.core.spec import parse_spec
from gateway.launchers import LocalSparkLauncher
from gateway.ledger import InMemoryLedgerStore
from gateway.service import Gateway

NOW = dt.datetime(2026, 10, 31, tzinfo=dt.UTC)


def test_job_log_of_a_local_job_is_its_job_dir_log(tmp_path):
    gateway = Gateway(InMemoryLedgerStore(), {"local": LocalSparkLauncher(tmp_path / "jobs")}, inspect=dict)
    spec = parse_spec(
        {
            "engine": "tumult",
            "dataset": "events",
            "analyst": "ann",
            "blocks": {"last": 1},
            "budget": {"epsilon": 0.1},
            "privacy_unit": "row",
            "aggregate": {"function": "count"},
        }
    )
    pending = Claim("q-9", spec, ("events/2026-10-01",), Budget.demand(0.1), ClaimState.PENDING, NOW, NOW)
    assert gateway.job_log(pending) is None
    failed = dataclasses.replace(pending, state=ClaimState.FAILED, launcher="local", run_id="local-q-9")
    assert gateway.job_log(failed) == str(tmp_path / "jobs" / "q-9" / "job.log")
