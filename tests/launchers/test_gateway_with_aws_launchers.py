"""The gateway's budget rules through the real Glue and EMR launchers (moto): a start AWS refused is
released, a start whose answer was lost keeps its reservation, a failed run is charged; launchers are
chosen per submission or per data set."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber

from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.datasets import ColumnType, DataFormat
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec
from gateway.errors import LaunchOutcomeUnknownError
from gateway.launchers import EmrStepLauncher, GlueLauncher, build_launchers
from gateway.launchers.executor import LocalRunExecutor
from gateway.ledger import InMemoryLedgerStore
from gateway.service import Gateway
from tests.launchers.test_glue import set_run_state

COLUMNS = {"day": ColumnType.DATE, "v": ColumnType.DOUBLE}


def spec(launcher_dataset: str = "events") -> Any:
    return parse_spec(
        {
            "engine": "tumult",
            "dataset": launcher_dataset,
            "analyst": "ann",
            "blocks": {"last": 2},
            "budget": {"epsilon": 0.25},
            "privacy_unit": "row",
            "aggregate": {"function": "count"},
        }
    )


@pytest.fixture
def gateway(aws: dict[str, Any], settings: Any, sleeps: Any) -> tuple[Gateway, GlueLauncher]:
    glue = GlueLauncher(settings, glue=aws["glue"], s3=aws["s3"], sleep=sleeps)
    emr = EmrStepLauncher(settings, emr=aws["emr"], s3=aws["s3"], sleep=sleeps)
    gw = Gateway(
        InMemoryLedgerStore(), {"glue": glue, "emr": emr}, inspect=lambda p, f: dict(COLUMNS), default_launcher="emr"
    )
    gw.init(PolicySettings(policy="fcfs"))
    gw.add_dataset("events", "s3://data/events/", DataFormat.PARQUET, "day", launcher="glue")
    gw.add_blocks("events", dt.date(2026, 10, 1), dt.date(2026, 10, 3), Budget.capacity(1))
    return gw, glue


def allocated(gw: Gateway) -> Budget:
    return gw.state().blocks["events/2026-10-03"].allocated


def test_the_data_sets_launcher_runs_it_and_a_failed_run_is_charged(gateway, aws) -> None:
    gw, _ = gateway
    claim = gw.submit(spec())
    assert (claim.state, claim.launcher) == (ClaimState.RUNNING, "glue")
    set_run_state(claim.run_id, "FAILED")
    claim = gw.status(claim.id)
    assert claim.state is ClaimState.FAILED and "timed out or killed" in (claim.reason or "")
    assert "without writing an outcome" in (claim.detail or "")  # the launcher's words: operator only
    block = gw.state().blocks["events/2026-10-03"]
    assert block.consumed == Budget.demand(0.25)  # it may have read data: charged


def test_a_refused_start_is_released(gateway, aws) -> None:
    gw, _ = gateway
    with Stubber(aws["glue"]) as stub:
        stub.add_client_error("get_job", "AccessDeniedException", "not allowed to read the job")
        claim = gw.submit(spec())
    assert claim.state is ClaimState.RELEASED and "AccessDeniedException" in (claim.reason or "")
    assert allocated(gw) == Budget() and gw.state().blocks["events/2026-10-03"].consumed == Budget()


def test_a_lost_start_answer_keeps_the_reservation(gateway, aws, monkeypatch) -> None:
    gw, glue = gateway
    glue.ensure_job()

    def lost(**kwargs: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://glue")

    monkeypatch.setattr(aws["glue"], "start_job_run", lost)
    with pytest.raises(LaunchOutcomeUnknownError, match="dpgw status"):
        gw.submit(spec())
    (claim,) = gw.state().claims.values()
    assert claim.state is ClaimState.LAUNCHING and allocated(gw) == Budget.demand(0.25)
    assert glue.find_run(claim.id) is None  # what reconciliation will ask


def test_the_submission_overrides_the_data_set(gateway) -> None:
    gw, _ = gateway
    claim = gw.submit(spec(), launcher="emr")
    assert claim.state is ClaimState.RELEASED  # no cluster and no uploaded software settings
    assert claim.launcher == "emr" and "dpgw package" in (claim.reason or "")


def test_the_registry_offers_three_launchers_and_the_local_executor_only_on_request(settings, tmp_path) -> None:
    launchers = build_launchers(tmp_path, settings)
    assert sorted(launchers) == ["emr", "glue", "local"]
    assert launchers["glue"]._executor is None  # type: ignore[attr-defined]
    testing = settings.model_copy(update={"glue": settings.glue.model_copy(update={"executor": "local"})})
    assert isinstance(build_launchers(tmp_path, testing)["glue"]._executor, LocalRunExecutor)  # type: ignore[attr-defined]
