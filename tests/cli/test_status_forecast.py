"""``dpgw status ID`` says when a waiting query can run if nothing else competes, or why it never will."""

from __future__ import annotations

import json

from gateway.cli.main import main
from tests.cli.test_bad_input import GOOD, ledger, write_spec  # noqa: F401 - the ledger fixture


def submit_json(tmp_path, capsys, **budget) -> dict:
    capsys.readouterr()
    assert main(["submit", write_spec(tmp_path, {**GOOD, "budget": budget}), "--json"]) in (0, 3)
    return json.loads(capsys.readouterr().out)


def test_waiting_query_gets_an_estimate_and_a_rejected_one_the_reason(ledger, tmp_path, capsys):  # noqa: F811
    waiting = submit_json(tmp_path, capsys, epsilon=0.5)  # N = 5: one arrival unlocks 0.2 < 0.5
    assert waiting["state"] == "pending"
    assert main(["status", waiting["id"], "--json"]) == 0
    forecast = json.loads(capsys.readouterr().out)["forecast"]
    assert forecast["outlook"] == "estimate" and forecast["at"] is not None
    assert "needs 2 more" in forecast["basis"]  # 0.2 -> 0.6 after two more arrivals
    assert main(["status", waiting["id"]]) == 0
    assert "when: estimate" in capsys.readouterr().out

    rejected = submit_json(tmp_path, capsys, epsilon=5)  # above a block's capacity of 1
    assert rejected["state"] == "rejected"
    assert main(["status", rejected["id"], "--json"]) == 0
    forecast = json.loads(capsys.readouterr().out)["forecast"]
    assert forecast["outlook"] == "never" and "exceeds the capacity" in forecast["basis"]
