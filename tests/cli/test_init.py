"""``dpgw init``: the artifact compat options are recorded in the ledger's settings, or refused with a reason."""

from __future__ import annotations

import json
from decimal import Decimal

from gateway.cli.main import main
from gateway.demo import generate_purchases


def test_init_records_the_compat_options(tmp_path, capsys):
    ledger = str(tmp_path / "ledger")
    assert main(["init", "--ledger", ledger, "--order", "heap_array", "--release-to", "locked", "--json"]) == 0
    settings = json.loads(capsys.readouterr().out)["settings"]
    assert (settings["order"], settings["release_to"]) == ("heap_array", "locked")


def test_init_refuses_a_compat_option_its_policy_cannot_use(tmp_path, capsys):
    ledger = tmp_path / "ledger"
    assert main(["init", "--ledger", str(ledger), "--policy", "fcfs", "--release-to", "locked"]) == 2
    assert "use dpf-n or dpf-t" in capsys.readouterr().err.replace("\n", "")
    assert not ledger.exists()


def test_init_accounting_rdp_and_blocks_list_shows_epsilon_at_the_blocks_delta(tmp_path, capsys):
    ledger = str(tmp_path / "ledger")
    assert main(["init", "--ledger", ledger, "--policy", "fcfs", "--accounting", "rdp", "--json"]) == 0
    settings = json.loads(capsys.readouterr().out)["settings"]
    assert settings["accounting"] == "rdp" and settings["alphas"][-1] == "20480"
    generate_purchases(tmp_path / "data", days=2, users=5)
    assert main(["datasets", "add", "ev", "--ledger", ledger, "--path", str(tmp_path / "data"),
                 "--time-column", "day"]) == 0  # fmt: skip
    args = ["blocks", "add", "ev", "--ledger", ledger, "--from", "2026-10-01", "--to", "2026-10-02", "--epsilon", "10"]
    assert main(args) == 2  # a block under rdp needs a delta
    assert "0 < delta < 1" in capsys.readouterr().err.replace("\n", "")
    assert main([*args, "--delta", "1e-7"]) == 0
    capsys.readouterr()
    assert main(["blocks", "list", "--ledger", ledger, "--json"]) == 0
    blocks = json.loads(capsys.readouterr().out)
    assert blocks[0]["guarantee"] == {"epsilon": "10", "delta": "0.0000001"}
    assert len(blocks[0]["capacity"]["curve"]) == len(settings["alphas"])
    left = Decimal(blocks[0]["remaining_epsilon"])  # nothing used: the whole εG at δG, rounded down
    assert Decimal("9.99999999999") < left <= 10
    assert main(["blocks", "list", "--ledger", ledger]) == 0
    table = capsys.readouterr().out
    assert "Rényi-DP" in table and "10 / 1e-07" in table and " 10 " in table


def test_init_refuses_round_robin_under_rdp(tmp_path, capsys):
    ledger = tmp_path / "ledger"
    assert main(["init", "--ledger", str(ledger), "--policy", "rr-n", "--accounting", "rdp"]) == 2
    assert "--accounting rdp choose" in capsys.readouterr().err.replace("\n", " ")
    assert not ledger.exists()
