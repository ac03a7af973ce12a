"""A snapshot data set end to end through ``dpgw``: registered with --no-time-column, a block per version,
queries on the versions by both engines through ``dpgw submit`` on local Spark.

Each version's table is different (and a third, unregistered version sits beside them), so an answer
within 5 noise standard deviations of its own version's true counts and sums, and far from the other
version's, shows the job read only the granted version.
"""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tests.cli.support import run_json

pytestmark = pytest.mark.slow

# version -> (rows in north, rows in south); amount is 10 in v1, 30 in v2, 1000 in the unregistered v3
VERSIONS = {"v1": (40, 80, 10.0), "v2": (150, 20, 30.0), "v3": (900, 900, 1000.0)}
EPS = 4  # per query; two aggregates of 2 each


def write_versions(root: Path) -> None:
    for label, (north, south, amount) in VERSIONS.items():
        folder = root / f"version={label}"
        folder.mkdir(parents=True)
        regions = ["north"] * north + ["south"] * south
        table = pa.table(
            {
                "user": [f"{label}-u{i}" for i in range(len(regions))],
                "region": regions,
                "amount": [amount] * len(regions),
            }
        )
        pq.write_table(table, folder / "part-0.parquet")


def test_each_query_reads_only_its_version_on_both_engines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "people"
    write_versions(data)
    monkeypatch.setenv("DPGW_LEDGER", str(tmp_path / "ledger"))
    run_json(capsys, "init", "--policy", "fcfs")
    registered = run_json(capsys, "datasets", "add", "people", "--path", str(data), "--no-time-column")
    assert registered["block_period"] == "version" and registered["time_column"] is None
    assert set(registered["columns"]) == {"user", "region", "amount"}  # the version= directories are no column
    added = run_json(capsys, "blocks", "add", "people", "--version", "v1", "--epsilon", "10")
    assert [(b["block"], b["day"], b["data_version"]) for b in added] == [("people/version=v1", None, "v1")]
    run_json(capsys, "blocks", "add", "people", "--version", "v2", "--epsilon", "10")
    assert run_json(capsys, "blocks", "add", "people", "--version", "v2", "--epsilon", "10") == []  # again: no-op
    missing = run_json(capsys, "blocks", "add", "people", "--version", "v9", "--epsilon", "10", code=2)
    assert "no data at" in missing["error"]["message"]  # no version=v9 directory: no block for it

    def spec(name: str, engine: str, blocks: object) -> str:
        path = tmp_path / f"{name}.yaml"
        doc = {
            "engine": engine,
            "dataset": "people",
            "analyst": "ana",
            "blocks": blocks,
            "budget": {"epsilon": EPS},
            "privacy_unit": "row",
            "aggregates": [
                {"function": "count", "budget_share": 0.5},
                {"function": "sum", "column": "amount", "low": 0, "high": 50, "budget_share": 0.5},
            ],
            "group_by": {"column": "region", "keys": ["north", "south"]},
        }
        path.write_text(yaml.safe_dump(doc))
        return str(path)

    wrong = run_json(capsys, "submit", spec("days", "tumult", {"last": 1}), code=2)
    assert "blocks: {version: LABEL} or blocks: latest" in wrong["error"]["message"]

    # One local Spark job per engine (each takes about half a minute): Tumult on v1 by name, PipelineDP on
    # v2 as the latest; together they cover both engines and both forms of selection.
    for engine, label, blocks in (("tumult", "v1", {"version": "v1"}), ("pipelinedp", "v2", "latest")):
        done = run_json(capsys, "submit", spec(f"{engine}-{label}", engine, blocks), "--wait")
        assert done["state"] == "succeeded", done
        result = done["result"]
        assert result["version"] == label and result["blocks"] == []
        north, south, amount = VERSIONS[label]
        other_north = VERSIONS["v2" if label == "v1" else "v1"][0]
        count, total = result["answers"]
        for answer, truths in ((count, (north, south)), (total, (north * amount, south * amount))):
            sd = answer["noise_sd"]
            sensitivity = 1 if answer is count else 50
            if engine == "pipelinedp" or answer is total:  # Laplace; Tumult's integer count is geometric
                assert sd == pytest.approx(math.sqrt(2) * sensitivity / (EPS / 2), rel=1e-6)
            for got, truth in zip(answer["values"], truths, strict=True):
                assert abs(got["value"] - truth) <= 5 * sd, (engine, label, answer["name"], got, truth)
        assert abs(count["values"][0]["value"] - other_north) > 50  # not the other version's answer

    blocks = {b["block"]: b for b in run_json(capsys, "blocks", "list", "people")}
    assert set(blocks) == {"people/version=v1", "people/version=v2"}
    for block in blocks.values():
        assert block["consumed"]["epsilon"] == "4"  # one query of ε = 4, on this version only
