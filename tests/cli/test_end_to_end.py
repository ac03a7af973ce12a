"""The whole path through the CLI: real ledger files, real Spark jobs in subprocesses, both engines."""

from __future__ import annotations

import json

import pytest
import yaml

from gateway.cli.main import main
from gateway.demo import REGIONS, generate_purchases
from tests.cli.support import run_json

pytestmark = pytest.mark.slow


def test_submit_schedule_run_and_charge(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    generate_purchases(data, days=6, users=300)
    monkeypatch.setenv("DPGW_LEDGER", str(tmp_path / "ledger"))
    run_json(capsys, "init", "--n", "4")
    run_json(capsys, "datasets", "add", "purchases", "--path", str(data), "--time-column", "day")
    run_json(capsys, "blocks", "add", "purchases", "--from", "2026-10-01", "--to", "2026-10-06", "--epsilon", "1")

    def spec(name, **fields):
        path = tmp_path / f"{name}.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "dataset": "purchases",
                    "analyst": name,
                    "privacy_unit": "row",
                    **fields,
                }
            )
        )
        return str(path)

    tumult = spec(
        "tina",
        engine="tumult",
        blocks={"last": 3},
        budget={"epsilon": 0.25},
        client_id="t1",
        aggregate={"function": "count"},
        group_by={"column": "region", "keys": REGIONS},
    )
    pdp = spec(
        "paul",
        engine="pipelinedp",
        blocks={"from": "2026-10-01", "to": "2026-10-02"},
        budget={"epsilon": 0.25},
        aggregate={"function": "mean", "column": "amount", "low": 0, "high": 200},
    )
    waiting = spec("wes", engine="tumult", blocks={"last": 6}, budget={"epsilon": 0.9}, aggregate={"function": "count"})

    first = run_json(capsys, "submit", tumult, "--wait")
    assert first["state"] == "succeeded", first
    counts = {row["key"]: row["value"] for row in first["result"]["values"]}
    assert set(counts) == set(REGIONS)
    assert first["result"]["spent"] == {"epsilon": "0.25", "delta": "0"}
    assert first["result"]["blocks"] == ["2026-10-04", "2026-10-05", "2026-10-06"]

    second = run_json(capsys, "submit", pdp, "--wait")
    assert second["state"] == "succeeded", second
    assert 0 <= second["result"]["values"][0]["value"] <= 200

    third = run_json(capsys, "submit", waiting)
    assert third["state"] == "pending"  # its arrival unlocked only 0.25 more per block (N=4)

    retry = run_json(capsys, "submit", tumult)
    assert retry["id"] == first["id"]  # same client id: the same submission, not a new charge

    blocks = {b["day"]: b for b in run_json(capsys, "blocks", "list", "purchases")}
    assert blocks["2026-10-06"]["consumed"]["epsilon"] == "0.25"
    assert blocks["2026-10-06"]["remaining"]["epsilon"] == "0.75"
    assert blocks["2026-10-01"]["consumed"]["epsilon"] == "0.25"
    assert blocks["2026-10-03"]["consumed"]["epsilon"] == "0"

    result = run_json(capsys, "result", second["id"])
    assert result["engine"] == "pipelinedp" and result["submission_id"] == second["id"]
    status = run_json(capsys, "status")
    assert {s["state"] for s in status} == {"succeeded", "pending"}
    capsys.readouterr()
    assert main(["result", third["id"]]) == 5

    segments = sorted((tmp_path / "ledger").glob("history-*.jsonl"))
    audit = [json.loads(line) for path in segments for line in path.read_text().splitlines()]
    kinds = [e["kind"] for line in audit for e in line.get("events", [])]
    assert kinds.count("charged") == 2 and kinds.count("submitted") == 3
