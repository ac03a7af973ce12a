"""The CLI behaves the same on a directory, ``s3://`` and ``dynamodb://`` ledgers (moto server)."""

from __future__ import annotations

import uuid

import pytest
import yaml

from gateway.cli.main import main
from gateway.demo import generate_purchases
from tests.cli.support import run_json
from tests.ledger.conftest import BUCKET

TOO_BIG = {
    "engine": "tumult",
    "dataset": "purchases",
    "analyst": "alice",
    "client_id": "q1",
    "blocks": {"from": "2026-10-01", "to": "2026-10-02"},
    "budget": {"epsilon": 5},
    "privacy_unit": "row",
    "aggregate": {"function": "count"},
}


def session(ledger: str, data, spec, capsys) -> dict[str, object]:
    assert main(["init", "--ledger", ledger, "--policy", "fcfs"]) == 0
    assert main(["init", "--ledger", ledger]) == 3  # one ledger per location
    assert main(["datasets", "add", "purchases", "--path", str(data), "--time-column", "day", "--ledger", ledger]) == 0
    assert (
        main(
            [
                "blocks",
                "add",
                "purchases",
                "--from",
                "2026-10-01",
                "--to",
                "2026-10-03",
                "--epsilon",
                "1",
                "--ledger",
                ledger,
            ]
        )
        == 0
    )
    submitted = run_json(capsys, "submit", str(spec), "--ledger", ledger, code=3)  # rejected: exit 3
    again = run_json(capsys, "submit", str(spec), "--ledger", ledger, code=3)
    assert again["id"] == submitted["id"]  # the same client id: the same submission
    audit = run_json(capsys, "audit", "--ledger", ledger)
    capsys.readouterr()
    assert main(["audit", "--ledger", ledger]) == 0
    assert "rejected" in capsys.readouterr().out
    return {
        "blocks": run_json(capsys, "blocks", "list", "--ledger", ledger),
        "state": submitted["state"],
        "audit": [(e["kind"], e["submission_id"], e["blocks"], e["amount"]) for e in audit],
    }


def test_the_cli_is_the_same_on_every_ledger(server_env, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    generate_purchases(data, days=3, users=20)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(TOO_BIG))
    name = f"cli-{uuid.uuid4().hex[:8]}"
    outcomes = [
        session(ledger, data, spec, capsys)
        for ledger in (str(tmp_path / "dir"), f"s3://{BUCKET}/{name}", f"dynamodb://{name}")
    ]
    assert outcomes[0]["state"] == "rejected"
    assert [e[0] for e in outcomes[0]["audit"]] == ["dataset-added", "blocks-added", "submitted", "rejected"]
    assert outcomes[1] == outcomes[0] and outcomes[2] == outcomes[0]


@pytest.mark.parametrize("url", ["s3://", "dynamodb://a/b"])
def test_malformed_aws_urls_are_refused(url, capsys):
    assert main(["audit", "--ledger", url]) == 2
