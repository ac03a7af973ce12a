"""The budget views over HTTP: the forecast of one's own submission, the settings, the dashboard's access rules."""

from __future__ import annotations

from tests.api.test_app import submit


def test_forecast_is_for_the_submissions_owner_only(client, team):
    mine = submit(client, team, "ann", eps=5).json()  # FCFS ledger: above the capacity, rejected at once
    assert mine["state"] == "rejected"
    answer = client.get(f"/v1/submissions/{mine['id']}/forecast", headers=team.headers("ann"))
    assert answer.status_code == 200
    assert answer.json()["outlook"] == "never" and "exceeds the capacity" in answer.json()["basis"]
    other = client.get(f"/v1/submissions/{mine['id']}/forecast", headers=team.headers("bob"))
    assert other.status_code == 404  # exactly as if it did not exist


def test_settings_are_public_metadata(client, team):
    assert client.get("/v1/settings").status_code == 401
    assert client.get("/v1/settings", headers=team.headers("bob")).json()["policy"] == "fcfs"


def test_dashboard_needs_a_credential_and_its_cookie_opens_only_the_page(client, team):
    page = client.get("/")
    assert page.status_code == 401 and "<form" in page.text  # the sign-in form, no budgets
    assert "heatmap" not in page.text
    ok = client.get("/", headers=team.headers("ann"))
    assert ok.status_code == 200 and "heatmap" in ok.text
    login = client.post("/login", content="token=" + team.tokens["bob"], follow_redirects=False,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert login.status_code == 303 and "httponly" in login.headers["set-cookie"].lower()
    # The cookie opens the page, never the JSON API (no cross-site writes with it).
    client.cookies.set("dpgw_token", team.tokens["bob"])
    assert client.get("/").status_code == 200
    assert client.get("/v1/submissions").status_code == 401


def test_a_failed_jobs_detail_reaches_operators_only(client, team):
    from gateway.core import ledger as core

    mine = submit(client, team, "ann", eps=0.5).json()
    assert mine["state"] == "running"
    secret = "ValueError: could not convert 'patient-4711 HIV+' to float"
    team.gateway()._mutate(
        lambda s, now: core.finish(s, mine["id"], False, now, reason="the job failed in the DP engine", detail=secret)
    )
    analyst = client.get(f"/v1/submissions/{mine['id']}", headers=team.headers("ann"))
    assert analyst.status_code == 200 and "detail" not in analyst.json()
    assert "patient-4711" not in analyst.text
    operator = client.get(f"/v1/submissions/{mine['id']}", headers=team.headers("ops"))
    assert operator.json()["detail"] == secret
