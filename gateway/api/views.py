"""What the API shows: typed documents built from the ledger's records.

A submission's view is the CLI's ``--json`` document (``render.claim_json``) narrowed to
``ANALYST_FIELDS`` plus the caller's own spec (so a remote CLI can render it exactly as embedded mode
does). Fields are allow-listed: anything ``claim_json`` gains later (such as an operator-only job
``detail``) stays out of the analyst's view until it is named here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from gateway.cli import render
from gateway.core.analysts import Analyst
from gateway.core.blocks import Block
from gateway.core.claims import Claim

ANALYST_FIELDS = (
    "id", "state", "analyst", "engine", "dataset", "blocks", "budget", "reason", "launcher", "run_id",
    "client_id", "submitted_at", "updated_at",
)  # fmt: skip
OPERATOR_FIELDS = ANALYST_FIELDS  # plus ``detail`` (a failed job's full error), taken from the claim itself


class BudgetView(BaseModel):
    """(ε, δ), or under rdp accounting one ε per order of the ledger's grid (``curve``)."""

    epsilon: str | None = None
    delta: str | None = None
    curve: list[str] | None = None

    @model_serializer(mode="wrap")
    def _given(self, handler: Any) -> Any:
        return {k: v for k, v in handler(self).items() if v is not None}  # the same document as the CLI's


class SubmissionView(BaseModel):
    model_config = ConfigDict(extra="allow")  # operator-only fields pass through; submission_view gates them

    id: str
    state: str
    analyst: str
    engine: str
    dataset: str
    blocks: list[str]
    budget: BudgetView
    reason: str | None
    launcher: str | None
    run_id: str | None
    client_id: str | None
    submitted_at: str
    updated_at: str
    spec: dict[str, Any] = Field(description="The query spec as the gateway recorded it (analyst set).")


class ResultView(BaseModel):
    submission: SubmissionView
    result: dict[str, Any]


class BlockView(BaseModel):
    block: str
    dataset: str
    day: str | None  # None for a snapshot's version block
    data_version: str | None = None  # a snapshot's version label
    capacity: BudgetView
    unlocked: BudgetView
    locked: BudgetView
    allocated: BudgetView
    consumed: BudgetView
    remaining: BudgetView
    arrivals: int
    retired: bool
    guarantee: BudgetView | None = None  # rdp accounting: the block's (ε, δ)
    state: str  # enough, nearly exhausted or out of budget (gateway.core.budget_state)


class AnalystView(BaseModel):
    name: str
    role: str
    principal: str | None
    revoked: bool
    created_at: str | None


class NewAnalystView(BaseModel):
    analyst: AnalystView
    token: str = Field(description="The bearer token: shown only in this answer, stored only as a salted hash.")


def submission_view(claim: Claim, operator: bool = False) -> dict[str, Any]:
    document = render.claim_json(claim)
    fields = OPERATOR_FIELDS if operator else ANALYST_FIELDS
    view = {**{k: document.get(k) for k in fields}, "spec": claim.spec.to_json()}
    if operator:
        view["detail"] = claim.detail  # may quote data values: operators only
    return view


def block_view(block: Block) -> dict[str, Any]:
    return render.block_json(block)


def analyst_view(analyst: Analyst) -> dict[str, Any]:
    return analyst.public_json()
