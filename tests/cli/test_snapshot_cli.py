"""Snapshot data sets at the CLI: registration with --no-time-column, blocks per version, and hostile or
mismatched input refused with exit 2, a message that names the fix, no traceback and the ledger unchanged.
The blocks' public view (API, remote CLI) carries the version and reads back into the same block."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway.api import views
from gateway.cli.client import block_from
from gateway.cli.main import build_gateway, main
from gateway.cli.render import blocks_table
from gateway.demo import generate_purchases
from tests.cli.test_bad_input import snapshot


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    people = tmp_path / "people"
    for label in ("v1", "v2"):
        (people / f"version={label}").mkdir(parents=True)
        pq.write_table(pa.table({"user": ["a", "b"], "age": [30, 40]}), people / f"version={label}" / "p.parquet")
    dated = tmp_path / "dated"
    generate_purchases(dated, days=2, users=20)
    path = tmp_path / "ledger"
    monkeypatch.setenv("DPGW_LEDGER", str(path))
    assert main(["init", "--policy", "fcfs"]) == 0
    assert main(["datasets", "add", "people", "--path", str(people), "--no-time-column"]) == 0
    assert main(["datasets", "add", "purchases", "--path", str(dated), "--time-column", "day"]) == 0
    assert main(["blocks", "add", "people", "--version", "v1", "--epsilon", "1"]) == 0
    return path


HOSTILE = {
    "markup": "[red]x[/red]",
    "slash": "a/b",
    "parent directory": "..",
    "huge": "v" * 100_000,
    "escape sequence": "v\x1b[2J",
    "newline": "v1\nv2",
    "final newline": "v1\n",
    "empty": "",
    "space": "v 1",
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_version_labels_are_refused(case: str, ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(ledger)
    capsys.readouterr()
    assert main(["blocks", "add", "people", "--version", HOSTILE[case], "--epsilon", "1", "--json"]) == 2
    out = capsys.readouterr()
    message = json.loads(out.out)["error"]["message"]
    assert "is invalid: use 1-64 letters, digits" in message and "Traceback" not in out.err
    assert len(message) < 400 and "\x1b" not in message
    assert snapshot(ledger) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["blocks", "add", "people", "--from", "2026-10-01", "--to", "2026-10-02"], "--version LABEL"),
        (["blocks", "add", "purchases", "--version", "v1"], "--version is for snapshot"),
        (["blocks", "add", "people", "--version", "v3"], "no data at"),  # no version=v3 directory
        (["blocks", "add", "people", "--version", "v1", "--from", "2026-10-01"], "not both"),
        (["blocks", "add", "people"], "--from YYYY-MM-DD --to YYYY-MM-DD (or --version V"),
        (["blocks", "add", "people", "--version", "v1", "--epsilon", "2"], "capacity is fixed"),
        (["datasets", "add", "x", "--path", "/tmp", "--no-time-column", "--time-column", "day"], "drop --time-column"),
        (["datasets", "add", "x", "--path", "/tmp", "--no-time-column", "--public"], "--public table"),
        (["datasets", "add", "x", "--path", "/tmp"], "--no-time-column for a snapshot"),
    ],
)
def test_mismatched_commands_name_the_fix(
    args: list[str], message: str, ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if "--epsilon" not in args and args[:2] == ["blocks", "add"]:
        args = [*args, "--epsilon", "1"]
    before = snapshot(ledger)
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert snapshot(ledger) == before


def test_version_blocks_in_the_table_the_json_and_the_public_view(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["blocks", "add", "people", "--version", "v2", "--epsilon", "1"]) == 0
    assert "Added the block of version v2 to people" in capsys.readouterr().out
    assert main(["blocks", "add", "people", "--version", "v2", "--epsilon", "1"]) == 0
    assert "has its block already" in capsys.readouterr().out
    assert main(["blocks", "list", "people", "--json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert [(d["block"], d["day"], d["data_version"]) for d in docs] == [
        ("people/version=v1", None, "v1"),
        ("people/version=v2", None, "v2"),
    ]
    assert main(["datasets", "list"]) == 0
    assert "snapshot (a block per version)" in capsys.readouterr().out
    gateway = build_gateway(str(ledger))
    state = gateway.state()
    for block in state.blocks_of("people"):
        view = views.BlockView.model_validate(views.block_view(block) | {"state": "enough"})
        back = block_from(view.model_dump(mode="json"))  # what the remote CLI reads
        assert back.key == block.key and back.data_version == block.data_version and back.day is None
    table = blocks_table(state.blocks_of("people"), state.settings)
    assert table.columns[0].header == "block"
    assert "version=v1" in "".join(str(c) for c in table.columns[0]._cells)
