"""The contract between the gateway and a DP job, wherever the job runs (local Spark, Glue, EMR).

The gateway writes a ``JobRequest`` document; the job runtime reads it, runs the query on exactly the
granted blocks with exactly the granted budget, and writes a ``JobResult``. Both are plain JSON so the
runtime needs no ledger code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from gateway.core.budget import Budget
from gateway.core.datasets import Dataset, check_version_label
from gateway.core.spec import QuerySpec


class GrantedBudget(BaseModel):
    """A grant or a receipt: (ε, δ), or under rdp accounting an RDP curve over ``alphas``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epsilon: Decimal = Decimal(0)
    delta: Decimal = Decimal(0)
    curve: tuple[Decimal, ...] | None = None
    alphas: tuple[Decimal, ...] | None = None

    @model_validator(mode="after")
    def _aligned(self) -> GrantedBudget:
        if (self.curve is None) != (self.alphas is None) or len(self.curve or ()) != len(self.alphas or ()):
            raise ValueError("an RDP curve needs one value per order in alphas")
        return self

    @model_serializer(mode="wrap")
    def _one_kind(self, handler: Any) -> Any:
        data = handler(self)
        if self.curve is None:
            return {"epsilon": data["epsilon"], "delta": data["delta"]}  # the (ε, δ) documents stay as they were
        return {"curve": data["curve"], "alphas": data["alphas"]}

    @classmethod
    def of(cls, budget: Budget, alphas: tuple[Decimal, ...] | None = None) -> GrantedBudget:
        if budget.curve is not None:
            return cls(curve=budget.curve, alphas=alphas)
        return cls(epsilon=budget.epsilon, delta=budget.delta)

    def to_budget(self) -> Budget:
        if self.curve is not None:
            return Budget(curve=self.curve)
        return Budget(self.epsilon, self.delta)


class JobRequest(BaseModel):
    """Everything a job needs: the query, where the data is, which blocks and how much budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    submission_id: str
    spec: QuerySpec
    dataset: Dataset
    blocks: tuple[dt.date, ...] = ()  # the granted days of a dated data set
    version: str | None = None  # the granted version of a snapshot (its rows: ``dataset.version_path``)
    granted: GrantedBudget
    output: str
    # The public tables the spec takes keys from, by name (the job reads them; they have no budget).
    public_tables: dict[str, Dataset] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _grant_matches_spec(self) -> JobRequest:
        # an RDP grant is the curve of the spec's budget on the ledger's grid (the engine reads the kind
        # of noise from the spec's budget); an (ε, δ) grant must be the spec's budget itself
        if self.granted.curve is None and self.granted.to_budget() != self.spec.demand:
            raise ValueError(f"granted budget {self.granted.to_budget()} differs from the spec's {self.spec.demand}")
        if self.spec.dataset != self.dataset.name:
            raise ValueError("the spec's data set differs from the job's data set")
        if self.dataset.snapshot:
            if self.version is None or self.blocks:
                raise ValueError("a job on a snapshot reads exactly one version and no days")
            check_version_label(self.version)
        elif self.version is not None or not self.blocks:
            raise ValueError("a job on a dated data set reads at least one day and no version")
        return self


def blocks_text(request: JobRequest) -> str:
    """The granted blocks as run arguments show them: ``2026-10-01,2026-10-02``, or ``version=V`` for a snapshot."""
    if request.version is not None:
        return f"version={request.version}"
    return ",".join(d.isoformat() for d in request.blocks)


def request_text(request: JobRequest) -> str:
    """The request document exactly as the gateway writes it (its digest is a run argument)."""
    return request.model_dump_json(indent=2)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class GroupValue(BaseModel):
    """One group's value; ``key`` is the declared key, a list of keys (one per column) for several
    group-by columns, or None without group-by."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str | int | bool | list[str | int | bool] | None
    value: float


class AggregateAnswer(BaseModel):
    """One aggregate's answer with what it cost: its share of the budget, its caps and noise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str  # the aggregate's label, e.g. ``sum(amount)``
    budget_share: Decimal
    spent: GrantedBudget  # what the library's accountant reports for this aggregate
    caps: str  # the contribution caps it ran under, in words
    noise_sd: float | None = None  # the noise's standard deviation, where the library reports it
    values: list[GroupValue]


class JobResult(BaseModel):
    """The private answer plus a receipt of what was spent, on which blocks, with which engine."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    submission_id: str
    engine: str
    engine_version: str
    dataset: str
    blocks: tuple[dt.date, ...]
    version: str | None = None  # the snapshot version read (then ``blocks`` is empty)
    granted: GrantedBudget
    spent: GrantedBudget
    aggregate: str
    column: str | None = None
    group_by: str | None = None  # the group-by column(s), comma-separated
    values: list[GroupValue]  # the first aggregate's values (all of them are in ``answers``)
    answers: list[AggregateAnswer] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    started_at: dt.datetime
    finished_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class FailureCategory(StrEnum):
    """Why a job gave no answer, in words an analyst may see: a fixed set, never an exception's text.

    Library and Spark messages can quote data values, so the full error goes only to the job log and to
    operator-only fields (``JobOutcome.detail``, ``Claim.detail``).
    """

    ENGINE = "engine-failure"
    DATA = "data-unreadable"
    KILLED = "killed"
    WITHHELD = "withheld"
    REFUSED = "request-refused"

    @property
    def text(self) -> str:
        return _CATEGORY_TEXT[self]

    def reason(self, ref: str) -> str:
        """The analyst-safe reason of a failed claim: the category and a reference to the full error."""
        return f"{self.text} (ref {ref})"


_CATEGORY_TEXT = {
    FailureCategory.ENGINE: "the job failed in the DP engine",
    FailureCategory.DATA: "the granted data could not be read",
    FailureCategory.KILLED: "the job ended without an answer (timed out or killed)",
    FailureCategory.WITHHELD: "the result was withheld (its receipt does not match the grant)",
    FailureCategory.REFUSED: "the request was refused (changed after launch, invalid, or already run)",
}


class JobError(BaseModel):
    """The analyst-safe part of a failure: ``type`` is a ``FailureCategory`` value, ``message`` its text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    message: str
    ref: str | None = None  # also printed beside the full error in the job log

    @classmethod
    def of(cls, category: FailureCategory, ref: str) -> JobError:
        return cls(type=category.value, message=category.text, ref=ref)


class JobOutcome(BaseModel):
    """The one document a job writes at ``JobRequest.output``: its result, or why it failed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    submission_id: str
    status: str  # "succeeded" | "failed"
    result: JobResult | None = None
    error: JobError | None = None
    detail: str | None = None  # operator only: the full error and traceback, never shown to analysts

    @model_validator(mode="after")
    def _one_of(self) -> JobOutcome:
        if self.status == "succeeded" and (self.result is None or self.error is not None):
            raise ValueError("a succeeded outcome carries a result and no error")
        if self.status == "failed" and (self.error is None or self.result is not None):
            raise ValueError("a failed outcome carries an error and no result")
        if self.status not in {"succeeded", "failed"}:
            raise ValueError(f"unknown job status {self.status!r}")
        return self
