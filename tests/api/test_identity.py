"""Identity comes from the credential: Gateway.submit(analyst=...) and the embedded CLI's default."""

from __future__ import annotations

import getpass
import json

import pytest
import yaml

from gateway.cli.main import main
from gateway.core.claims import submission_id_for
from gateway.core.spec import parse_spec
from gateway.errors import AuthorizationError, SpecError
from tests.api.conftest import spec_doc


def test_the_authenticated_analyst_is_the_claims_analyst(team):
    gw = team.gateway()
    claim = gw.submit(parse_spec(spec_doc(eps=0.1, client_id="k")), analyst="ann")
    assert claim.analyst == "ann" and claim.spec.analyst == "ann"
    named = gw.submit(parse_spec(spec_doc(eps=0.1, client_id="k", analyst="ann")), analyst="ann")
    assert named.id == claim.id  # naming yourself is the same query: the same submission
    embedded = gw.submit(parse_spec(spec_doc(eps=0.1, client_id="k", analyst="ann")))
    assert embedded.id == claim.id == submission_id_for(parse_spec(spec_doc(eps=0.1, client_id="k", analyst="ann")))
    with pytest.raises(AuthorizationError, match="'bob'"):
        gw.submit(parse_spec(spec_doc(eps=0.1, analyst="bob")), analyst="ann")
    with pytest.raises(SpecError, match="analyst: missing"):
        gw.submit(parse_spec(spec_doc(eps=0.1)))
    with pytest.raises(SpecError, match="must not be empty"):
        parse_spec(spec_doc(analyst="  "))


def test_the_embedded_cli_defaults_to_the_os_user(tmp_path, capsys, monkeypatch):
    ledger = str(tmp_path / "ledger")
    monkeypatch.delenv("DPGW_URL", raising=False)
    assert main(["init", "--ledger", ledger, "--n", "4", "--json"]) == 0
    data = tmp_path / "data"
    from gateway.demo import generate_purchases

    generate_purchases(data, days=1, users=5)
    assert main(["datasets", "add", "p", "--path", str(data), "--time-column", "day", "--ledger", ledger]) == 0
    assert main(["blocks", "add", "p", "--from", "2026-10-01", "--to", "2026-10-01", "--epsilon", "1",
                 "--ledger", ledger]) == 0  # fmt: skip
    spec = tmp_path / "q.yaml"
    spec.write_text(yaml.safe_dump({**spec_doc(eps=0.9), "dataset": "p", "blocks": {"last": 1}}))
    capsys.readouterr()
    assert main(["submit", str(spec), "--ledger", ledger, "--json"]) == 0
    claim = json.loads(capsys.readouterr().out)
    assert claim["analyst"] == getpass.getuser() and claim["state"] == "pending"  # N=4: a quarter unlocked
    assert main(["cancel", claim["id"], "--ledger", ledger, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "cancelled"
    assert main(["cancel", claim["id"], "--ledger", ledger]) == 3  # no longer pending
