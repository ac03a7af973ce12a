"""``dpgw init``: the artifact compat options are recorded in the ledger's settings, or refused with a reason."""

from __future__ import annotations

import json

from gateway.cli.main import main


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
