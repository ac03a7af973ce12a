"""A small team on an in-memory ledger: two analysts and an operator, a launcher whose runs are files."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.service import Gateway
from gateway.team import Analysts
from tests.ledger.support import FileRunLauncher, gateway_for, setup_ledger

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's deprecation note about httpx versions
    from fastapi.testclient import TestClient

from gateway.api import create_app


@dataclass
class Team:
    store: object
    launcher: FileRunLauncher
    tokens: dict[str, str]

    def gateway(self) -> Gateway:
        return gateway_for(self.store, self.launcher)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def make_team(tmp_path: Path, store=None, policy: str = "fcfs") -> Team:
    from gateway.ledger import InMemoryLedgerStore

    store = store or InMemoryLedgerStore()
    setup_ledger(store, policy=policy)
    launcher = FileRunLauncher(tmp_path / "runs")
    team = Team(store, launcher, {})
    analysts = Analysts(team.gateway())
    for name, operator in (("ann", False), ("bob", False), ("ops", True)):
        team.tokens[name] = analysts.add(name, operator=operator)[1]
    return team


@pytest.fixture
def team(tmp_path: Path) -> Team:
    return make_team(tmp_path)


@pytest.fixture
def client(team: Team) -> TestClient:
    with TestClient(create_app(team.gateway)) as test_client:
        yield test_client


def spec_doc(eps: float = 0.5, client_id: str | None = None, **extra) -> dict:
    doc = {
        "engine": "tumult",
        "dataset": "events",
        "blocks": {"last": 2},
        "budget": {"epsilon": eps},
        "privacy_unit": "row",
        "aggregate": {"function": "count"},
        **extra,
    }
    if client_id:
        doc["client_id"] = client_id
    return doc
