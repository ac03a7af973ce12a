"""A one-to-many join with a public table through ``dpgw submit --wait`` on local Spark, both engines.

With rows as the privacy unit a product row meets up to M = 3 tag rows, so the noise must be calibrated
to 3 (the public table's largest key multiplicity, read from the public table only): the result says so
in its noise scale and caps, and the counts are the true joined counts within 5 of those noise standard
deviations. The same spec without ``matches: many`` is refused at submission, before any budget is taken.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tests.cli.support import run_json

pytestmark = pytest.mark.slow

DAY = dt.date(2026, 10, 1)
ROWS = {"p1": 60, "p2": 40, "p3": 30, "p9": 25}  # private rows per product (p9 has no tag)
TAGS = [("p1", "a"), ("p1", "b"), ("p1", "c"), ("p2", "a"), ("p3", "b"), ("p3", "c"), ("p4", "a")]
TRUE_COUNTS = [60 + 40, 60 + 30, 60 + 30]  # a: p1 + p2; b: p1 + p3; c: p1 + p3 (an inner join drops p9)
M, EPS = 3, 3.0


def test_a_one_to_many_join_is_answered_with_noise_for_the_largest_multiplicity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    orders = tmp_path / "orders" / f"day={DAY.isoformat()}"
    orders.mkdir(parents=True)
    products = [p for p, n in ROWS.items() for _ in range(n)]
    pq.write_table(
        pa.table({"user": [f"u{i}" for i in range(len(products))], "product": products}), orders / "0.parquet"
    )
    tags = tmp_path / "tags.parquet"
    pq.write_table(pa.table({"product": [p for p, _ in TAGS], "tag": [t for _, t in TAGS]}), tags)
    monkeypatch.setenv("DPGW_LEDGER", str(tmp_path / "ledger"))
    run_json(capsys, "init", "--policy", "fcfs")
    run_json(capsys, "datasets", "add", "tags", "--path", str(tags), "--public")
    path = str(tmp_path / "orders")
    run_json(
        capsys, "datasets", "add", "orders", "--path", path, "--time-column", "day", "--add-blocks", "--epsilon", "10"
    )

    def spec(name: str, engine: str, matches: str | None) -> str:
        join: dict[str, Any] = {"table": "tags", "on": ["product"]}
        if matches:
            join["matches"] = matches
        doc = {
            "engine": engine,
            "dataset": "orders",
            "analyst": "ana",
            "blocks": {"last": 1},
            "budget": {"epsilon": EPS},
            "privacy_unit": "row",
            "join": join,
            "aggregate": {"function": "count"},
            "group_by": {"column": "tag", "keys": ["a", "b", "c"]},
        }
        file = tmp_path / f"{name}.yaml"
        file.write_text(yaml.safe_dump(doc))
        return str(file)

    before = (tmp_path / "ledger" / "ledger.json").read_bytes()
    lookup = run_json(capsys, "submit", spec("lookup", "tumult", None), "--wait", code=2)
    assert "matches: many" in lookup["error"]["message"]  # the fix is named
    assert (tmp_path / "ledger" / "ledger.json").read_bytes() == before  # refused before anything was recorded

    for engine in ("tumult", "pipelinedp"):
        done = run_json(capsys, "submit", spec(engine, engine, "many"), "--wait")
        assert done["state"] == "succeeded", done
        (count,) = done["result"]["answers"]
        if engine == "tumult":  # Tumult's integer count: the two-sided geometric mechanism at scale M / ε
            p = math.exp(-EPS / M)
            expected_sd = math.sqrt(2 * p) / (1 - p)
        else:  # PipelineDP's count: Laplace at scale M / ε
            expected_sd = math.sqrt(2) * M / EPS
        assert count["noise_sd"] == pytest.approx(expected_sd, rel=1e-6), engine  # calibrated to 3 rows, not 1
        assert str(M) in count["caps"]
        values = [v["value"] for v in count["values"]]
        for got, truth in zip(values, TRUE_COUNTS, strict=True):
            assert abs(got - truth) <= 5 * expected_sd, (engine, values)
    (block,) = run_json(capsys, "blocks", "list", "orders")
    assert block["consumed"]["epsilon"] == "6"  # two queries of ε = 3, nothing for the public table
