"""The CLI as a client of a team-mode service (``DPGW_URL``): the same commands, over HTTP.

urllib, not httpx: the client needs one JSON request at a time, and the standard library keeps an
analyst's install free of an HTTP stack. An error answer carries the gateway's error document, so the
same exception class is raised with the same message (and the CLI exits with the same code).

Authentication: ``Authorization: Bearer $DPGW_TOKEN`` for ``dpgw serve``; for an AWS endpoint
(host ending in ``amazonaws.com``, or ``DPGW_AUTH=sigv4``) the request is signed with SigV4 for
``execute-api`` using the default AWS credential chain, and API Gateway's IAM auth names the caller.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from gateway import errors
from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.core.claims import Claim, ClaimState
from gateway.core.forecast import Forecast
from gateway.core.preview import Preview
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec
from gateway.errors import (
    AuthenticationError,
    AuthorizationError,
    GatewayError,
    GatewayValidationError,
    LedgerConflictError,
    LedgerUnavailableError,
    SubmissionNotFoundError,
)

TIMEOUT = 60.0
BY_STATUS: dict[int, type[GatewayError]] = {
    400: GatewayValidationError,
    401: AuthenticationError,
    403: AuthorizationError,
    404: SubmissionNotFoundError,
    409: LedgerConflictError,
}


def _error_classes() -> dict[str, type[GatewayError]]:
    found: dict[str, type[GatewayError]] = {}
    pending: list[type[GatewayError]] = [GatewayError]
    while pending:
        kind = pending.pop()
        if kind.__module__ == errors.__name__:
            found[kind.__name__] = kind
        pending.extend(kind.__subclasses__())
    return found


def error_from(status: int, body: bytes) -> GatewayError:
    """The exception the service raised, rebuilt from its answer (by name, else by HTTP status)."""
    try:
        error = json.loads(body)["error"]
        kind, message = str(error["type"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        kind, message = "", f"the gateway answered HTTP {status} without an error document"
    cls = _error_classes().get(kind) or BY_STATUS.get(status) or GatewayError
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)  # the message as sent (some classes build theirs from arguments)
    return exc


def wants_sigv4(url: str, mode: str | None) -> bool:
    host = urllib.parse.urlparse(url).hostname or ""
    return (mode or "").lower() == "sigv4" or host.endswith("amazonaws.com")


def sigv4_headers(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> dict[str, str]:
    """Headers with a SigV4 signature for API Gateway (``execute-api``), from the default credential chain."""
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = botocore.session.get_session()
    credentials = session.get_credentials()
    if credentials is None:
        raise AuthenticationError("no AWS credentials found to sign the request (configure the AWS CLI or env)")
    host = urllib.parse.urlparse(url).hostname or ""
    parts = host.split(".")
    region = (
        parts[2]
        if len(parts) > 3 and parts[1] == "execute-api"
        else (session.get_config_variable("region") or os.environ.get("AWS_REGION") or "us-east-1")
    )
    request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
    return dict(request.headers.items())


class RemoteBackend:
    def __init__(self, url: str, token: str | None, auth: str | None = None, poll_every: float = 1.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.sigv4 = wants_sigv4(url, auth)
        self.poll_every = poll_every

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = self.url + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.sigv4:
            headers = sigv4_headers(method, url, data, headers)
        elif self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise error_from(exc.code, exc.read()) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise LedgerUnavailableError(
                f"cannot reach the gateway at {self.url} ({reason}); check DPGW_URL and that the service runs"
            ) from None

    @staticmethod
    def _id(claim_id: str) -> str:
        return urllib.parse.quote(claim_id, safe="")

    def submit(self, spec_text: str, launcher: str | None) -> Claim:
        claim = claim_from(self._call("POST", "/v1/submissions", {"spec": spec_text, "launcher": launcher}))
        # A job can finish before the answer to its submission arrives (a retried client id, a fast job):
        # then, as in embedded mode, the submission comes with its answer.
        return self.result(claim.id) if claim.state is ClaimState.SUCCEEDED else claim

    def status(self, claim_id: str) -> Claim:
        return claim_from(self._call("GET", f"/v1/submissions/{self._id(claim_id)}"))

    def list(self) -> builtins.list[Claim]:
        return [claim_from(view) for view in self._call("GET", "/v1/submissions")]

    def result(self, claim_id: str) -> Claim:
        answer = self._call("GET", f"/v1/submissions/{self._id(claim_id)}/result")
        return claim_from(answer["submission"], result=answer["result"])

    def cancel(self, claim_id: str) -> Claim:
        return claim_from(self._call("POST", f"/v1/submissions/{self._id(claim_id)}/cancel"))

    def blocks(self, dataset: str | None, include_spent: bool = False) -> builtins.list[Block]:
        params = {"dataset": dataset} if dataset is not None else {}
        if include_spent:
            params["all"] = "true"
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return [block_from(view) for view in self._call("GET", f"/v1/blocks{query}")]

    def forecast(self, claim_id: str) -> Forecast:
        return Forecast.from_json(self._call("GET", f"/v1/submissions/{self._id(claim_id)}/forecast"))

    def settings(self) -> PolicySettings:
        return PolicySettings.model_validate(self._call("GET", "/v1/settings"))

    def preview(self, spec_text: str) -> Preview:
        return Preview.from_json(self._call("POST", "/v1/preview", {"spec": spec_text}))

    def job_log(self, claim: Claim) -> str | None:
        return None  # job logs are the operator's: they may hold data values

    def wait(self, claim_id: str, on_tick: Callable[[Claim], None] | None = None) -> Claim:
        """Poll until the job ends (or the claim waits for budget), then fetch its answer if it succeeded."""
        while True:
            claim = self.status(claim_id)
            if on_tick:
                on_tick(claim)
            if claim.state is ClaimState.SUCCEEDED:
                return self.result(claim_id)
            if claim.state.is_terminal or claim.state is ClaimState.PENDING:
                return claim
            time.sleep(self.poll_every)


def claim_from(view: dict[str, Any], result: dict[str, Any] | None = None) -> Claim:
    return Claim(
        id=view["id"],
        spec=parse_spec(view["spec"]),
        blocks=tuple(view["blocks"]),
        demand=Budget.from_json(view["budget"]),
        state=ClaimState(view["state"]),
        submitted_at=dt.datetime.fromisoformat(view["submitted_at"]),
        updated_at=dt.datetime.fromisoformat(view["updated_at"]),
        reason=view.get("reason"),
        launcher=view.get("launcher"),
        run_id=view.get("run_id"),
        result=result,
    )


def block_from(view: dict[str, Any]) -> Block:
    """A block from its public view: the stored form without the ledger's own bookkeeping (version, holds)."""
    return Block.from_json({**view, "version": 1})
