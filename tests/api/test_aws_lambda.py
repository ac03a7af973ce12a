"""The Lambda handler with API Gateway (REST, payload v1) and EventBridge events, on a local ledger."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from gateway.api import aws_lambda
from gateway.cli.main import build_gateway
from gateway.core.budget import Budget
from gateway.core.datasets import DataFormat
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec
from gateway.demo import generate_purchases
from gateway.errors import GatewayValidationError
from gateway.team import Analysts
from tests.api.conftest import make_team, spec_doc

ACCOUNT = "123456789012"
ANN = f"arn:aws:iam::{ACCOUNT}:user/ann"
BOB_ROLE = f"arn:aws:iam::{ACCOUNT}:role/bob"


def api_event(method: str, path: str, arn: str | None, body: object = None, headers=None) -> dict:
    """An API Gateway REST proxy event (payload v1), as the {proxy+} ANY method delivers it."""
    headers = {"Host": "abc.execute-api.us-east-1.amazonaws.com", **(headers or {})}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "accountId": ACCOUNT,
            "requestId": "r-1",
            "apiId": "abc",
            "identity": {"userArn": arn, "caller": "AIDAEXAMPLE", "sourceIp": "192.0.2.1", "accessKey": "ASIA"},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def call(event: dict) -> tuple[int, object]:
    answer = aws_lambda.handler(event, None)
    return answer["statusCode"], json.loads(answer["body"])


@pytest.fixture
def env_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A local ledger named by DPGW_LEDGER, with a tiny Parquet data set and analysts bound to ARNs."""
    aws_lambda._asgi.cache_clear()
    ledger = str(tmp_path / "ledger")
    monkeypatch.setenv("DPGW_LEDGER", ledger)
    data = tmp_path / "data"
    generate_purchases(data, days=2, users=10)
    gw = build_gateway(ledger)
    gw.init(PolicySettings(policy="dpf-n", n=4))  # a first query of 0.9 waits: nothing is launched
    gw.add_dataset("purchases", str(data), DataFormat.PARQUET, "day")
    gw.add_blocks("purchases", dt.date(2026, 10, 1), dt.date(2026, 10, 2), Budget.capacity(1))
    Analysts(gw).add("ann", principal=ANN)
    Analysts(gw).add("bob", principal=BOB_ROLE)
    yield ledger
    aws_lambda._asgi.cache_clear()


def test_api_requests_are_served_as_the_registered_principal(env_ledger):
    doc = {**spec_doc(eps=0.9), "dataset": "purchases"}
    status, view = call(api_event("POST", "/v1/submissions", ANN, {"spec": doc}))
    assert status == 200, view
    assert view["analyst"] == "ann" and view["state"] == "pending"
    status, mine = call(api_event("GET", "/v1/submissions", ANN))
    assert status == 200 and [s["id"] for s in mine] == [view["id"]]

    bob = f"arn:aws:sts::{ACCOUNT}:assumed-role/bob/cli-session"  # a session of the registered role
    status, theirs = call(api_event("GET", "/v1/submissions", bob))
    assert status == 200 and theirs == []
    assert call(api_event("GET", f"/v1/submissions/{view['id']}", bob))[0] == 404
    status, blocks = call(api_event("GET", "/v1/blocks", bob))
    assert status == 200 and len(blocks) == 2


def test_an_unknown_principal_is_403_and_a_token_does_not_help(env_ledger, tmp_path):
    token = Analysts(build_gateway(env_ledger)).add("eve")[1]
    stranger = f"arn:aws:iam::{ACCOUNT}:user/mallory"
    status, body = call(api_event("GET", "/v1/submissions", stranger, headers={"Authorization": f"Bearer {token}"}))
    assert status == 403 and body["error"]["type"] == "AuthorizationError"
    status, body = call(api_event("GET", "/v1/submissions", None))
    assert status == 401
    Analysts(build_gateway(env_ledger)).revoke("ann")
    assert call(api_event("GET", "/v1/submissions", ANN))[0] == 403


def test_eventbridge_events_run_one_scheduling_pass(tmp_path, monkeypatch):
    team = make_team(tmp_path)  # a launcher whose runs are files, so the pass has a job to follow
    monkeypatch.setattr(aws_lambda, "gateway_from_env", team.gateway)
    claim = team.gateway().submit(parse_spec(spec_doc(eps=0.5)), analyst="ann")
    assert claim.state.value == "running"
    team.launcher.finish_all()
    scheduled = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    report = aws_lambda.handler(scheduled, None)
    assert report["finished"] == [claim.id] and json.dumps(report)
    glue = {"source": "aws.glue", "detail-type": "Glue Job State Change", "detail": {"state": "SUCCEEDED"}}
    assert aws_lambda.handler(glue, None)["finished"] == []  # already recorded: a repeated pass changes nothing
    with pytest.raises(GatewayValidationError, match="unsupported event"):
        aws_lambda.handler({"source": "aws.s3"}, None)
