"""``dpgw datasets add --add-blocks``: one block per partition day, through the same use cases as by hand."""

from __future__ import annotations

import json
import shutil

import pytest

from gateway.cli.main import main
from gateway.demo import generate_purchases


@pytest.fixture
def data(tmp_path, monkeypatch):
    root = tmp_path / "data"
    generate_purchases(root, days=5, users=20)
    shutil.rmtree(root / "day=2026-10-04")  # a gap: no data that day, so no block
    monkeypatch.setenv("DPGW_LEDGER", str(tmp_path / "ledger"))
    assert main(["init", "--policy", "fcfs"]) == 0
    return root


def run_json(capsys, *args):
    capsys.readouterr()
    code = main([*args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_add_blocks_adds_one_block_per_partition_day(data, capsys):
    code, doc = run_json(
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
        "2",
        "--delta",
        "1e-6",
    )
    assert code == 0, doc
    assert doc["blocks_added"] == {"count": 4, "ranges": [["2026-10-01", "2026-10-03"], ["2026-10-05", "2026-10-05"]]}
    _, blocks = run_json(capsys, "blocks", "list", "purchases")
    assert [b["day"] for b in blocks] == ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-05"]
    assert {b["block"]: b["capacity"] for b in blocks}["purchases/2026-10-05"] == {"epsilon": "2", "delta": "0.000001"}


def test_add_blocks_shows_the_ranges_added(data, capsys):
    assert (
        main(
            [
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
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Added 4 block(s) to purchases (2026-10-01 → 2026-10-03, 2026-10-05), capacity ε=1 each" in out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--add-blocks"], "--add-blocks needs the capacity of each block: --epsilon E"),
        (["--epsilon", "1"], "--epsilon and --delta go with --add-blocks"),
        (["--add-blocks", "--epsilon", "0"], "epsilon must be > 0"),
    ],
)
def test_add_blocks_refuses_bad_options_before_registering(data, tmp_path, capsys, extra, message):
    before = (tmp_path / "ledger" / "ledger.json").read_bytes()
    assert main(["datasets", "add", "purchases", "--path", str(data), "--time-column", "day", *extra]) == 2
    assert message in capsys.readouterr().err
    assert (tmp_path / "ledger" / "ledger.json").read_bytes() == before


def test_add_blocks_needs_day_partitions(data, tmp_path, capsys):
    before = (tmp_path / "ledger" / "ledger.json").read_bytes()
    assert (
        main(
            [
                "datasets",
                "add",
                "purchases",
                "--path",
                str(data),
                "--time-column",
                "ts",
                "--add-blocks",
                "--epsilon",
                "1",
            ]
        )
        == 2
    )
    err = "".join(capsys.readouterr().err.split())
    assert "foundnots=YYYY-MM-DDpartitiondirectories" in err and "dpgwblocksaddpurchases" in err
    assert (tmp_path / "ledger" / "ledger.json").read_bytes() == before
