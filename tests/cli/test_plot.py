"""``dpgw blocks plot``: the picture has one bar per block and labelled axes; the JSON series match the ledger."""

from __future__ import annotations

import json

import pytest

from gateway.cli import plot
from gateway.cli.main import build_gateway, main
from tests.cli.test_bad_input import GOOD, ledger, write_spec  # noqa: F401 - the ledger fixture

pytest.importorskip("matplotlib")


def pending_submission(tmp_path) -> None:
    # N = 5: an arrival unlocks 0.2 of each block, so ε = 0.5 waits and no job is launched.
    spec = write_spec(tmp_path, {**GOOD, "budget": {"epsilon": 0.5}})
    assert main(["submit", spec]) == 0


def test_plot_json_series_follow_the_audit_trail(ledger, tmp_path, capsys):  # noqa: F811
    pending_submission(tmp_path)
    capsys.readouterr()
    assert main(["blocks", "plot", "purchases", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [b["day"] for b in doc["blocks"]] == ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04"]
    for block in doc["blocks"]:
        assert block["state"] == "enough"
        assert block["burn_down"][0]["remaining_epsilon"] == "1"  # added with capacity 1
        assert block["remaining"]["epsilon"] == block["burn_down"][-1]["remaining_epsilon"]
    assert doc["total_remaining"][-1]["remaining_epsilon"] == "4"  # nothing granted yet


def test_plot_png_has_one_bar_per_block_and_labelled_axes(ledger, tmp_path, capsys):  # noqa: F811
    pending_submission(tmp_path)
    view = build_gateway(str(ledger)).burn_down("purchases")
    blocks = view.blocks
    fig = plot.burn_figure("purchases", view)
    top, bottom = fig.axes
    assert len(top.patches) == len(blocks) * len(plot.ACCOUNTS)  # one stacked bar per block
    assert [t.get_text() for t in top.get_xticklabels()] == [b.day.isoformat() for b in blocks]
    assert top.get_ylabel() == "ε" and bottom.get_ylabel() == "remaining ε"
    assert top.get_xlabel() and bottom.get_xlabel()
    out = tmp_path / "burn.png"
    assert main(["blocks", "plot", "purchases", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_of_an_unknown_data_set_is_bad_input(ledger, capsys):  # noqa: F811
    assert main(["blocks", "plot", "nope", "--json"]) == 2
    assert "unknown data set" in capsys.readouterr().out
