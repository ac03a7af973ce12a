"""Every bad input gets one clear message, a non-zero exit, and leaves the ledger files byte-for-byte."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from gateway.cli.main import main
from gateway.demo import generate_purchases

GOOD = {
    "engine": "tumult",
    "dataset": "purchases",
    "analyst": "alice",
    "blocks": {"from": "2026-10-01", "to": "2026-10-03"},
    "budget": {"epsilon": 0.1},
    "privacy_unit": "row",
    "aggregate": {"function": "mean", "column": "amount", "low": 0, "high": 100},
}


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    data = tmp_path / "data"
    generate_purchases(data, days=4, users=50)
    path = tmp_path / "ledger"
    monkeypatch.setenv("DPGW_LEDGER", str(path))
    assert main(["init", "--n", "5"]) == 0
    assert main(["datasets", "add", "purchases", "--path", str(data), "--time-column", "day"]) == 0
    assert main(["blocks", "add", "purchases", "--from", "2026-10-01", "--to", "2026-10-04", "--epsilon", "1"]) == 0
    return path


def snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def write_spec(tmp_path: Path, content) -> str:
    spec = tmp_path / "spec.yaml"
    spec.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return str(spec)


def with_(**changes):
    return {k: v for k, v in {**GOOD, **changes}.items() if v is not None}


CASES = {
    "malformed yaml": ("engine: [tumult\n", "not valid YAML"),
    "unknown field": (with_(epsilom=1), "unknown field"),
    "epsilon zero": (with_(budget={"epsilon": 0}), "epsilon must be > 0"),
    "epsilon negative": (with_(budget={"epsilon": -0.5}), "epsilon"),
    "epsilon nan": (with_(budget={"epsilon": float("nan")}), "finite"),
    "epsilon infinite": (with_(budget={"epsilon": float("inf")}), "finite"),
    "delta one": (with_(budget={"epsilon": 0.1, "delta": 1}), "delta must be in"),
    "delta negative": (with_(budget={"epsilon": 0.1, "delta": -1e-9}), "delta must be in"),
    "unknown dataset": (with_(dataset="sales"), "unknown data set 'sales'"),
    "unknown column": (with_(aggregate={"function": "sum", "column": "price", "low": 0, "high": 1}), "price"),
    "range with no blocks": (with_(blocks={"from": "2026-09-01", "to": "2026-09-10"}), "no privacy blocks"),
    "range partly without blocks": (with_(blocks={"from": "2026-10-03", "to": "2026-10-08"}), "no privacy block"),
    "empty range": (with_(blocks={"from": "2026-10-03", "to": "2026-10-01"}), "empty block range"),
    "bounds low > high": (with_(aggregate={"function": "mean", "column": "amount", "low": 9, "high": 1}), "low < high"),
    "group-by without keys": (with_(group_by={"column": "region"}), "keys"),
    "not a mapping": ("[1, 2]", "mapping"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_spec_is_refused_and_ledger_untouched(case, ledger, tmp_path, capsys):
    content, message = CASES[case]
    before = snapshot(ledger)
    assert main(["submit", write_spec(tmp_path, content)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert snapshot(ledger) == before


def test_missing_data_path_is_refused_and_ledger_untouched(ledger, tmp_path, capsys):
    before = snapshot(ledger)
    shutil.rmtree(tmp_path / "data")
    assert main(["submit", write_spec(tmp_path, GOOD)]) == 2
    assert "no data at" in capsys.readouterr().err
    assert main(["datasets", "add", "other", "--path", str(tmp_path / "nope"), "--time-column", "day"]) == 2
    assert snapshot(ledger) == before


def test_json_errors_are_one_document(ledger, tmp_path, capsys):
    assert main(["submit", write_spec(tmp_path, with_(budget={"epsilon": 0})), "--json"]) == 2
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc["error"]["type"] == "SpecError"


def test_missing_spec_file_and_missing_ledger(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DPGW_LEDGER", str(tmp_path / "none"))
    assert main(["status"]) == 3
    assert "dpgw init" in capsys.readouterr().err
    assert main(["submit", str(tmp_path / "nope.yaml")]) == 2


def test_block_capacity_must_be_valid(ledger, capsys):
    before = snapshot(ledger)
    for eps in ("0", "-1", "nan", "inf"):
        assert main(["blocks", "add", "purchases", "--from", "2026-10-05", "--to", "2026-10-06", "--epsilon", eps]) == 2
    # 2026-10-04 exists with capacity 1: another capacity refuses the whole range (the same one resumes it)
    assert main(["blocks", "add", "purchases", "--from", "2026-10-04", "--to", "2026-10-05", "--epsilon", "2"]) == 2
    assert snapshot(ledger) == before
