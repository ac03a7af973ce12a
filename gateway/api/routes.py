"""The versioned routes. Each calls one use case of ``Gateway`` (or ``Analysts``) with the caller's name."""

from __future__ import annotations

import sys
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StringConstraints

from gateway.api import views
from gateway.api.auth import CallerDep, GatewayDep, OperatorDep
from gateway.core.spec import load_spec_text, parse_spec
from gateway.errors import GatewayError
from gateway.team import Analysts

router = APIRouter(prefix="/v1")
MAX_SPEC = 64 * 1024  # characters of spec text
SUBMIT_PASS_WAIT = 10.0  # seconds a submission waits for the loop's next pass before answering


class SubmitRequest(BaseModel):
    spec: Annotated[str, StringConstraints(max_length=MAX_SPEC)] | dict[str, Any] = Field(
        description="The query spec: YAML/JSON text, or the decoded document."
    )
    launcher: str | None = None


class NewAnalystRequest(BaseModel):
    name: str
    operator: bool = False
    principal: str | None = None


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/submissions", response_model=views.SubmissionView)
def submit(body: SubmitRequest, request: Request, gw: GatewayDep, who: CallerDep) -> dict[str, Any]:
    spec = load_spec_text(body.spec) if isinstance(body.spec, str) else parse_spec(body.spec)
    claim = gw.submit(spec, launcher=body.launcher, analyst=who.name, schedule=False)
    _schedule_soon(request, gw)
    return views.submission_view(gw.status(claim.id), who.operator)


class PreviewRequest(BaseModel):
    spec: Annotated[str, StringConstraints(max_length=MAX_SPEC)] | dict[str, Any] = Field(
        description="The query spec: YAML/JSON text, or the decoded document."
    )


@router.post("/preview")
def preview(body: PreviewRequest, gw: GatewayDep, who: CallerDep) -> dict[str, Any]:
    """Would the query be admitted now on a quiet ledger, why not, how many more copies fit; records nothing."""
    spec = load_spec_text(body.spec) if isinstance(body.spec, str) else parse_spec(body.spec)
    return gw.preview(spec, analyst=who.name).to_json()


@router.get("/submissions", response_model=list[views.SubmissionView])
def list_submissions(gw: GatewayDep, who: CallerDep) -> list[dict[str, Any]]:
    return [views.submission_view(c, who.operator) for c in gw.submissions(who.scope)]


@router.get("/submissions/{claim_id}", response_model=views.SubmissionView)
def get_submission(claim_id: str, gw: GatewayDep, who: CallerDep) -> dict[str, Any]:
    return views.submission_view(gw.status(claim_id, who.scope), who.operator)


@router.get("/submissions/{claim_id}/forecast")
def get_forecast(claim_id: str, gw: GatewayDep, who: CallerDep) -> dict[str, Any]:
    """When a waiting submission can be admitted if nothing else competes, or why it never will."""
    return gw.forecast(claim_id, who.scope).to_json()


@router.get("/submissions/{claim_id}/result", response_model=views.ResultView)
def get_result(claim_id: str, gw: GatewayDep, who: CallerDep) -> dict[str, Any]:
    claim = gw.result(claim_id, who.scope)
    return {"submission": views.submission_view(claim, who.operator), "result": claim.result}


@router.post("/submissions/{claim_id}/cancel", response_model=views.SubmissionView)
def cancel(claim_id: str, gw: GatewayDep, who: CallerDep) -> dict[str, Any]:
    return views.submission_view(gw.cancel(claim_id, who.scope), who.operator)


@router.get("/blocks", response_model=list[views.BlockView])
def blocks(gw: GatewayDep, who: CallerDep, dataset: str | None = None, all: bool = False) -> list[dict[str, Any]]:
    """Every block's budget accounts: public, whoever asks (they say what can still be answered);
    ``all=true`` adds the blocks that left the live state, retired and spent."""
    return [views.block_view(b) for b in gw.blocks(dataset, include_spent=all)]


@router.get("/settings")
def settings(gw: GatewayDep, who: CallerDep) -> dict[str, Any]:
    """The ledger's scheduling settings: public, like the blocks (they say what the accounts mean)."""
    return gw.state().settings.model_dump(mode="json")


@router.get("/admin/analysts", response_model=list[views.AnalystView])
def list_analysts(gw: GatewayDep, who: OperatorDep) -> list[dict[str, Any]]:
    return [views.analyst_view(a) for a in Analysts(gw).list()]


@router.post("/admin/analysts", response_model=views.NewAnalystView)
def add_analyst(body: NewAnalystRequest, gw: GatewayDep, who: OperatorDep) -> dict[str, Any]:
    analyst, token = Analysts(gw).add(body.name, operator=body.operator, principal=body.principal)
    return {"analyst": views.analyst_view(analyst), "token": token}


@router.post("/admin/analysts/{name}/revoke", response_model=views.AnalystView)
def revoke_analyst(name: str, gw: GatewayDep, who: OperatorDep) -> dict[str, Any]:
    return views.analyst_view(Analysts(gw).revoke(name))


def _schedule_soon(request: Request, gw: Any) -> None:
    """Let a scheduling pass see the new submission, so the answer says admitted, rejected or waiting.

    With ``dpgw serve``'s loop: wake it and wait (bounded) for its pass; a pass launches jobs, it never
    waits for one, and a slow pass only leaves the answer saying pending. Without a loop (Lambda) the
    pass runs here, where starting a job is one API call.
    """
    loop = request.app.state.loop
    if loop is not None:
        loop.trigger_and_wait(SUBMIT_PASS_WAIT)
        return
    try:
        gw.schedule()
    except GatewayError as exc:  # the submission is recorded; the next pass (EventBridge) retries
        print(f"dpgw: scheduling after a submission failed: {exc}", file=sys.stderr)
