"""The API in process (FastAPI's TestClient): who may see and do what, and how errors come back."""

from __future__ import annotations

import pytest
import yaml

from gateway.api import create_app
from gateway.core.spec import load_spec_text
from gateway.errors import SpecError
from tests.api.conftest import TestClient, make_team, spec_doc


def submit(client, team, who, doc=None, **kw):
    return client.post("/v1/submissions", json={"spec": doc or spec_doc(**kw)}, headers=team.headers(who))


def test_no_unknown_or_revoked_token_is_401_with_one_message(client, team):
    assert client.get("/v1/health").status_code == 200  # the only route without a credential
    ann = team.tokens["ann"]
    key_id, secret = ann.split(".", 1)
    forged = f"{key_id}.{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"
    attempts = {
        "none": {},
        "empty": {"Authorization": "Bearer "},
        "basic": {"Authorization": f"Basic {ann}"},
        "garbage": {"Authorization": "Bearer not-a-token"},
        "forged secret": {"Authorization": f"Bearer {forged}"},
        "huge": {"Authorization": "Bearer " + "x" * 10_000},
    }
    for label, headers in attempts.items():
        answer = client.get("/v1/submissions", headers=headers)
        assert answer.status_code == 401, label
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["error"]["type"] == "AuthenticationError"
    unknown = client.get("/v1/submissions", headers={"Authorization": f"Bearer {forged}"}).json()
    assert client.get("/v1/submissions", headers=team.headers("ann")).status_code == 200
    assert client.post("/v1/admin/analysts/ann/revoke", headers=team.headers("ops")).json()["revoked"] is True
    revoked = client.get("/v1/submissions", headers=team.headers("ann"))
    assert revoked.status_code == 401 and revoked.json() == unknown  # revoked and unknown look the same


def test_each_analyst_sees_only_their_own_submissions(client, team):
    mine = submit(client, team, "ann", client_id="a1")
    assert mine.status_code == 200, mine.text
    view = mine.json()
    assert view["analyst"] == "ann" and view["state"] == "running" and view["spec"]["analyst"] == "ann"
    assert "detail" not in view and "result" not in view
    claim_id = view["id"]

    missing = client.get("/v1/submissions/q-0000000000000000", headers=team.headers("bob"))
    for odd in ("..%2F..%2Fledger.json", "%00", "x" * 2000):
        assert client.get(f"/v1/submissions/{odd}", headers=team.headers("bob")).status_code == 404
    for path in ("", "/result"):
        other = client.get(f"/v1/submissions/{claim_id}{path}", headers=team.headers("bob"))
        assert other.status_code == 404
        assert other.json()["error"]["message"].replace(claim_id, "ID") == missing.json()["error"]["message"].replace(
            "q-0000000000000000", "ID"
        )
    assert client.post(f"/v1/submissions/{claim_id}/cancel", headers=team.headers("bob")).status_code == 404
    assert client.get("/v1/submissions", headers=team.headers("bob")).json() == []
    assert [s["id"] for s in client.get("/v1/submissions", headers=team.headers("ann")).json()] == [claim_id]
    assert [s["id"] for s in client.get("/v1/submissions", headers=team.headers("ops")).json()] == [claim_id]

    not_ready = client.get(f"/v1/submissions/{claim_id}/result", headers=team.headers("ann"))
    assert not_ready.status_code == 409 and not_ready.json()["error"]["type"] == "ResultNotReadyError"
    team.launcher.finish_all()
    team.gateway().schedule()
    answer = client.get(f"/v1/submissions/{claim_id}/result", headers=team.headers("ann"))
    assert answer.status_code == 200
    assert answer.json()["submission"]["state"] == "succeeded" and answer.json()["result"]["values"]
    assert client.get(f"/v1/submissions/{claim_id}/result", headers=team.headers("ops")).status_code == 200

    again = submit(client, team, "ann", client_id="a1")  # the client id is per analyst: the same submission
    assert again.json()["id"] == claim_id
    theirs = submit(client, team, "bob", client_id="a1", eps=0.2)
    assert theirs.status_code == 200 and theirs.json()["id"] != claim_id


def test_a_spec_naming_someone_else_is_403_and_naming_yourself_is_fine(client, team):
    other = submit(client, team, "ann", analyst="bob")
    assert other.status_code == 403 and other.json()["error"]["type"] == "AuthorizationError"
    assert client.get("/v1/submissions", headers=team.headers("ops")).json() == []  # nothing was recorded
    assert submit(client, team, "ann", analyst="ann").json()["analyst"] == "ann"


@pytest.mark.parametrize(
    "text",
    [
        "engine: tumult\ndataset: events\nepsilom: 1\n",
        "{not yaml: [",
        "just a string",
        yaml.safe_dump(spec_doc(aggregate={"function": "sum", "column": "v"})),
    ],
)
def test_a_bad_spec_is_400_with_the_cli_message(client, team, text):
    answer = client.post("/v1/submissions", json={"spec": text}, headers=team.headers("ann"))
    assert answer.status_code == 400
    with pytest.raises(SpecError) as raised:
        load_spec_text(text)
    assert answer.json()["error"] == {"type": "SpecError", "message": str(raised.value)}


def test_a_malformed_request_or_unknown_data_set_is_400(client, team):
    bad = client.post(
        "/v1/submissions", content=b"{", headers={**team.headers("ann"), "Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "GatewayValidationError"
    unknown = submit(client, team, "ann", doc=spec_doc(dataset="nope"))
    assert unknown.status_code == 400 and unknown.json()["error"]["type"] == "UnknownDatasetError"
    blocks = client.get("/v1/blocks", params={"dataset": "nope"}, headers=team.headers("bob"))
    assert blocks.status_code == 400 and blocks.json()["error"]["type"] == "UnknownDatasetError"


def test_oversized_requests_are_refused_before_parsing(client, team):
    huge = client.post("/v1/submissions", json={"spec": "x" * 300_000}, headers=team.headers("ann"))
    assert huge.status_code == 413 and huge.json()["error"]["type"] == "GatewayValidationError"
    long_spec = client.post("/v1/submissions", json={"spec": "#" * 70_000}, headers=team.headers("ann"))
    assert long_spec.status_code == 400 and "spec" in long_spec.json()["error"]["message"]
    lying = client.post("/v1/submissions", content=b"{}", headers={**team.headers("ann"), "Content-Length": "-1"})
    assert lying.status_code in (400, 413)


def test_blocks_are_public_to_every_analyst(client, team):
    submit(client, team, "ann", eps=0.25)
    for who in ("ann", "bob", "ops"):
        blocks = client.get("/v1/blocks", headers=team.headers(who)).json()
        assert [b["block"] for b in blocks] == ["events/2026-10-01", "events/2026-10-02"]
        assert blocks[0]["allocated"] == {"epsilon": "0.25", "delta": "0"}


def test_cancel_own_pending_submission_only(tmp_path):
    team = make_team(tmp_path, policy="dpf-n")  # N=3: each arrival unlocks a third of every block
    client = TestClient(create_app(team.gateway))
    running = submit(client, team, "ann", eps=0.3).json()
    waiting = submit(client, team, "ann", eps=0.9).json()  # fits the capacity, not what is unlocked: waits
    assert (running["state"], waiting["state"]) == ("running", "pending")
    assert client.post(f"/v1/submissions/{waiting['id']}/cancel", headers=team.headers("bob")).status_code == 404
    cancelled = client.post(f"/v1/submissions/{waiting['id']}/cancel", headers=team.headers("ann"))
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    again = client.post(f"/v1/submissions/{running['id']}/cancel", headers=team.headers("ann"))
    assert again.status_code == 409 and "running" in again.json()["error"]["message"]
    kinds = [e.kind for e in team.store.audit() if e.submission_id == waiting["id"]]
    assert kinds == ["submitted", "cancelled"]


def test_admin_routes_are_for_operators(client, team):
    for who in ("ann", "bob"):
        assert client.get("/v1/admin/analysts", headers=team.headers(who)).status_code == 403
        denied = client.post("/v1/admin/analysts", json={"name": "eve", "operator": True}, headers=team.headers(who))
        assert denied.status_code == 403
    added = client.post("/v1/admin/analysts", json={"name": "cal"}, headers=team.headers("ops"))
    assert added.status_code == 200 and set(added.json()) == {"analyst", "token"}
    token = added.json()["token"]
    assert client.get("/v1/submissions", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listed = client.get("/v1/admin/analysts", headers=team.headers("ops")).json()
    assert [a["name"] for a in listed] == ["ann", "bob", "cal", "ops"]
    assert all("token" not in str(a) and "hash" not in str(a) for a in listed)
    duplicate = client.post("/v1/admin/analysts", json={"name": "cal"}, headers=team.headers("ops"))
    assert duplicate.status_code == 400
    for hostile in ({"name": "../etc"}, {"name": "x" * 100}, {"name": "eve", "principal": "not an arn"}, {}):
        refused = client.post("/v1/admin/analysts", json=hostile, headers=team.headers("ops"))
        assert refused.status_code == 400, hostile
    assert [a["name"] for a in client.get("/v1/admin/analysts", headers=team.headers("ops")).json()] == [
        "ann", "bob", "cal", "ops",
    ]  # fmt: skip


def test_openapi_lists_the_versioned_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/v1/submissions",
        "/v1/submissions/{claim_id}",
        "/v1/submissions/{claim_id}/result",
        "/v1/submissions/{claim_id}/cancel",
        "/v1/blocks",
        "/v1/admin/analysts",
    } <= set(paths)


def test_an_unexpected_error_is_500_without_its_text(team):
    def broken():
        raise RuntimeError("secret row value 4242")

    app = create_app(broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/v1/submissions", headers=team.headers("ann"))
    assert answer.status_code == 500
    assert answer.json()["error"]["type"] == "GatewayInternalError" and "4242" not in answer.text
