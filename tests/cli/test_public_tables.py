"""Public tables: registered with --public (no time column, blocks or budget), a source of group-by keys
read by the job, and refused as a query target or a home for blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from gateway.cli.main import main
from gateway.demo import generate_purchases
from tests.cli.support import run_json

pytestmark = pytest.mark.slow


def test_keys_come_from_a_public_table_and_the_table_itself_has_no_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    generate_purchases(data, days=2, users=200)
    regions = tmp_path / "regions.parquet"
    # "atlantis" has no purchases: a key from the public table is answered anyway (with noise only).
    pq.write_table(pa.table({"region": ["north", "south", "atlantis", "north", None]}), regions)
    monkeypatch.setenv("DPGW_LEDGER", str(tmp_path / "ledger"))
    run_json(capsys, "init", "--policy", "fcfs")
    table = run_json(capsys, "datasets", "add", "regions", "--path", str(regions), "--public")
    assert table["public"] is True and table["time_column"] is None
    run_json(
        capsys,
        "datasets",
        "add",
        "purchases",
        "--path",
        str(data),
        "--time-column",
        "day",
        "--add-blocks",
        "--epsilon",
        "1",
    )

    capsys.readouterr()
    assert main(["blocks", "add", "regions", "--from", "2026-10-01", "--to", "2026-10-01", "--epsilon", "1"]) == 2
    assert "public table: it has no blocks" in capsys.readouterr().err

    def spec(name: str, **fields: Any) -> str:
        path = tmp_path / f"{name}.yaml"
        doc = {
            "engine": "pipelinedp",
            "analyst": "ana",
            "privacy_unit": "row",
            "blocks": {"last": 2},
            "budget": {"epsilon": 0.5},
            "aggregate": {"function": "count"},
            **fields,
        }
        path.write_text(yaml.safe_dump(doc))
        return str(path)

    capsys.readouterr()
    assert main(["submit", spec("on-public", dataset="regions")]) == 2
    assert "is a public table: it has no budget" in capsys.readouterr().err
    assert (
        main(
            [
                "submit",
                spec("no-table", dataset="purchases", group_by={"column": "region", "keys": {"from": "nowhere"}}),
            ]
        )
        == 2
    )
    assert "'nowhere' is not a registered public table" in capsys.readouterr().err

    done = run_json(
        capsys,
        "submit",
        spec("keys", dataset="purchases", group_by={"column": "region", "keys": {"from": "regions"}}),
        "--wait",
    )
    assert done["state"] == "succeeded", done
    assert [row["key"] for row in done["result"]["values"]] == ["atlantis", "north", "south"]
    assert done["result"]["values"][1]["value"] > 100  # north holds ~30% of ~6000 purchases
