"""User strings are shown as typed: rich markup is not interpreted and control characters are escaped.

A name like ``[/red]`` once made rich raise (every ``dpgw status`` and ``dpgw audit`` failed for everyone),
``[link=x]`` turned text into a hyperlink, and an ESC sequence reached the terminal.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from gateway.cli import render
from gateway.cli.main import main
from gateway.core.budget import Budget
from gateway.core.claims import Claim, ClaimState
from gateway.core.spec import parse_spec
from gateway.demo import generate_purchases

HOSTILE = "[/red] [link=x]click[/link] \x1b[31mred\x1b]0;title\x07 \u202eevil"
SHOWN = "[/red] [link=x]click[/link] \\x1b[31mred\\x1b]0;title\\x07 \\u202eevil"


def test_safe_escapes_control_and_bidi_characters_and_keeps_markup_literal():
    assert render.safe(HOSTILE) == SHOWN
    assert render.safe("a\nb") == "a\\x0ab"
    assert render.safe("a\nb", newlines=True) == "a\nb"
    assert render.safe("plain ε / δ → ok") == "plain ε / δ → ok"
    assert render.plain(HOSTILE).plain == SHOWN  # a Text: rich never parses it as markup


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    """Wide enough that no cell folds, so each user string is found on one line."""
    monkeypatch.setattr(render.console, "width", 600)
    monkeypatch.setattr(render.err_console, "width", 600)


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    data = tmp_path / "data"
    generate_purchases(data, days=3, users=30)
    path = tmp_path / "ledger"
    monkeypatch.setenv("DPGW_LEDGER", str(path))
    assert main(["init", "--n", "5"]) == 0
    assert main(["datasets", "add", "purchases", "--path", str(data), "--time-column", "day"]) == 0
    assert main(["blocks", "add", "purchases", "--from", "2026-10-01", "--to", "2026-10-03", "--epsilon", "1"]) == 0
    return path


def _submit_pending(tmp_path, capsys) -> str:
    """A claim by a hostile analyst with a hostile group key; ε 0.5 stays pending (one arrival unlocks 0.2)."""
    spec = {
        "engine": "tumult",
        "dataset": "purchases",
        "analyst": HOSTILE,
        "blocks": {"last": 3},
        "budget": {"epsilon": 0.5},
        "privacy_unit": "row",
        "aggregate": {"function": "count"},
        "group_by": {"column": "region", "keys": [HOSTILE, "north"]},
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    capsys.readouterr()
    assert main(["submit", str(tmp_path / "spec.yaml"), "--json"]) == 0
    claim = json.loads(capsys.readouterr().out)
    assert claim["state"] == "pending"
    return claim["id"]


def _finish(ledger, claim_id: str, values: list) -> None:
    """Record a result by hand (as a finished job would) so `dpgw result` has something to show."""
    snapshot = ledger / "ledger.json"
    doc = json.loads(snapshot.read_text())
    doc["claims"][claim_id].update(
        state="succeeded",
        reason=HOSTILE,
        result={
            "submission_id": claim_id,
            "spent": {"epsilon": "0.5", "delta": "0"},
            "values": values,
            "notes": [HOSTILE],
        },
    )
    snapshot.write_text(json.dumps(doc))


def test_status_audit_and_result_show_hostile_strings_literally(ledger, tmp_path, capsys):
    claim_id = _submit_pending(tmp_path, capsys)
    _finish(ledger, claim_id, [{"key": HOSTILE, "value": -3.25}, {"key": "north", "value": 2660.42}])
    for command in (["status"], ["status", claim_id], ["audit"], ["result", claim_id]):
        capsys.readouterr()
        assert main(command) == 0, command
        out = capsys.readouterr().out
        assert "\x1b" not in out and "\u202e" not in out, command
        assert SHOWN in out, (command, out)


def test_error_messages_are_printed_literally(ledger, tmp_path, capsys):
    capsys.readouterr()
    assert main(["datasets", "add", "purchases", "--path", "/nowhere/[link=x]", "--time-column", "day"]) == 2
    assert "/nowhere/[link=x]" in capsys.readouterr().err
    data = str(tmp_path / "data")
    assert main(["datasets", "add", "[/red]\x1b[31m", "--path", data, "--time-column", "day"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "[/red]\\x1b[31m" in err and "\x1b" not in err


def test_a_data_set_path_with_markup_is_listed_literally(tmp_path, monkeypatch, capsys):
    data = tmp_path / "[red]data[/red]"
    generate_purchases(data, days=1, users=5)
    monkeypatch.setenv("DPGW_LEDGER", str(tmp_path / "ledger"))
    assert main(["init"]) == 0
    assert main(["datasets", "add", "purchases", "--path", str(data), "--time-column", "day"]) == 0
    capsys.readouterr()
    assert main(["datasets", "list"]) == 0
    assert "[red]data[/red]" in capsys.readouterr().out


def test_render_functions_accept_a_hostile_reason_key_and_analyst():
    spec = parse_spec(
        {
            "engine": "pipelinedp",
            "dataset": "purchases",
            "analyst": HOSTILE,
            "blocks": {"last": 2},
            "budget": {"epsilon": 0.5},
            "privacy_unit": "row",
            "aggregate": {"function": "count"},
            "group_by": {"column": "region", "keys": [HOSTILE]},
        }
    )
    now = dt.datetime(2026, 10, 3, tzinfo=dt.UTC)
    claim = Claim(
        id="q-1",
        spec=spec,
        blocks=("purchases/2026-10-01", "purchases/2026-10-02"),
        demand=Budget.demand(0.5),
        state=ClaimState.SUCCEEDED,
        submitted_at=now,
        updated_at=now,
        reason=HOSTILE,
        result={"spent": {"epsilon": "0.5", "delta": "0"}, "values": [{"key": HOSTILE, "value": 1.5}]},
    )
    console = render.Console(width=400, record=True, color_system=None)
    console.print(render.claims_table([claim]))
    console.print(render.result_table(claim))
    text = console.export_text()
    assert text.count(SHOWN) == 4  # analyst (table and heading), reason, group key
