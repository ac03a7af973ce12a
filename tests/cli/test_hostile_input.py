"""Hostile input at the CLI: each kind gets a clear error and its exit code, never a traceback, and the
ledger stays byte-for-byte as it was."""

from __future__ import annotations

import json

import pytest
import yaml

from gateway.cli.main import main
from tests.cli.test_bad_input import GOOD, ledger, snapshot, with_  # noqa: F401 - ledger is a fixture

SPEC_TEXT = yaml.safe_dump(GOOD, sort_keys=False)

SPEC_CASES = {
    "not utf-8": (SPEC_TEXT.encode() + b"analyst: \xff\xfe\n", "not UTF-8"),
    "latin-1": ("analyst: Jos\u00e9\n".encode("latin-1") + SPEC_TEXT.encode(), "not UTF-8"),
    "larger than 1 MiB": (b"#" * (1 << 20) + b"\n" + SPEC_TEXT.encode(), "larger than"),
    "deeply nested list": (SPEC_TEXT + "group_by: " + "[" * 100_000 + "]" * 100_000, "nests deeper"),
    "deeply nested map": (SPEC_TEXT + "extra: " + "{a: " * 3000 + "1" + "}" * 3000, "nests deeper"),
    "duplicate key": (SPEC_TEXT + "budget: {epsilon: 5}\n", "'budget' twice"),
    "duplicate nested key": (SPEC_TEXT.replace("epsilon: 0.1", "epsilon: 0.1\n  epsilon: 0.2"), "'epsilon' twice"),
    "alias": (SPEC_TEXT + "x: &a [1]\ny: *a\n", "alias"),
    "february 30": (SPEC_TEXT.replace("'2026-10-01'", "2026-02-30"), "blocks.from"),
    "year zero": (SPEC_TEXT.replace("'2026-10-03'", "0000-01-01"), "blocks.to"),
    "5000-digit integer": (SPEC_TEXT.replace("epsilon: 0.1", "epsilon: " + "9" * 5000), "cannot be read"),
    "epsilon 1e10": (yaml.safe_dump(with_(budget={"epsilon": 1e10})), "at most 1000000"),
    "epsilon 1e400 as text": (yaml.safe_dump(with_(budget={"epsilon": "1e400"})), "at most 1000000"),
    "epsilon is a list": (yaml.safe_dump(with_(budget={"epsilon": [1]})), "epsilon must be a number"),
    "delta rounds up to 1": (yaml.safe_dump(with_(budget={"epsilon": 1, "delta": "0." + "9" * 30})), "delta"),
    "a 10,000-year range": (yaml.safe_dump(with_(blocks={"from": "0001-01-01", "to": "9999-12-31"})), "at most 36,600"),
    "markup in a name": (yaml.safe_dump(with_(dataset="[/red]x")), "Data set"),
    "nul character": (SPEC_TEXT + "analyst: \x00\n", "not valid YAML"),
}


@pytest.mark.parametrize("case", list(SPEC_CASES))
def test_hostile_spec_is_refused_with_a_clear_message(case, ledger, tmp_path, capsys):  # noqa: F811
    content, message = SPEC_CASES[case]
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = snapshot(ledger)
    capsys.readouterr()
    assert main(["submit", str(spec)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert main(["submit", str(spec), "--json"]) == 2
    out = capsys.readouterr().out
    assert message in json.loads(out)["error"]["message"]
    assert snapshot(ledger) == before


@pytest.mark.parametrize("path", ["/dev/zero", "/proc/self/status", "/"])
def test_special_files_as_specs_end_quickly_with_exit_2(path, ledger, capsys):  # noqa: F811
    assert main(["submit", path]) == 2
    assert "Traceback" not in capsys.readouterr().err


ADD = ["blocks", "add", "purchases", "--from", "2027-01-01", "--to", "2027-01-02"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["init", "--n", str(10**30)], "--n"),
        (["init", "--n", "0"], "--n"),
        (["init", "--policy", "dpf-t", "--lifetime", f"{10**20}d"], "at most 100 years"),
        (["init", "--policy", "dpf-t", "--lifetime", "inf"], "not a duration"),
        (["blocks", "add", "purchases", "--from", "0001-01-01", "--to", "9999-12-31", "--epsilon", "1"], "36,600"),
        ([*ADD, "--epsilon", "1e10"], "at most"),
        ([*ADD, "--epsilon", "1e-40"], "at least"),
        ([*ADD, "--epsilon", "1", "--delta", "1"], "delta"),
    ],
)
def test_out_of_range_arguments_exit_2(args, message, ledger, capsys):  # noqa: F811
    before = snapshot(ledger)
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert snapshot(ledger) == before
