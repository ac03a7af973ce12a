"""The seam between the job runtime and a DP library (Tumult Analytics, PipelineDP).

An engine gets the already-filtered rows of the granted blocks and the job request, runs the spec's one
aggregate with exactly the granted budget, and reports what its own accountant says was spent, so the
runtime can refuse to release an answer that cost more than the ledger granted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from gateway.core.budget import Budget
from gateway.core.jobs import GroupValue, JobRequest
from gateway.core.spec import GroupKey

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass(frozen=True)
class EngineAnswer:
    """A DP answer: one value per declared group key (key ``None`` without group-by) and its cost."""

    values: list[GroupValue]
    spent: Budget
    notes: list[str] = field(default_factory=list)


class DPEngine(Protocol):
    """A DP library adapter, called once per job by the runtime (``gateway.runtime.entrypoint``).

    ``run`` must use exactly ``request.granted`` as the library's total budget, take clamping bounds,
    group keys and the per-id cap only from ``request.spec`` (never from the data), and return one value
    per declared key in declared order. It need not be idempotent: every call spends budget again.
    """

    name: str

    def version(self) -> str:
        """The DP library's version, recorded in the job result."""
        ...

    def run(self, df: DataFrame, request: JobRequest) -> EngineAnswer:
        """Answer ``request.spec`` on ``df`` (rows of the granted blocks only)."""
        ...


def budget_as_floats(granted: Budget) -> tuple[float, float]:
    """The grant as the floats both libraries take: the nearest float (see ``spent_to_decimal``)."""
    return float(granted.epsilon), float(granted.delta)


def spent_to_decimal(spent: float, handed: float, granted: Decimal) -> Decimal:
    """Turn a library's float spend into an exact decimal without inventing an overspend.

    The library was handed ``handed == float(granted)``. Spending exactly that is spending the whole
    grant, reported as ``granted`` itself (a grant with more digits than a float holds would otherwise
    read back a hair above itself). Any other amount goes through its shortest ``repr``; as rounding is
    monotonic, that is above the grant only if the library really spent more than it was handed.
    """
    if not math.isfinite(spent):
        raise ValueError(f"the engine reported a non-finite spend: {spent!r}")
    if spent == handed:
        return granted
    return Decimal(repr(spent))


def group_keys(request: JobRequest) -> list[GroupKey | None]:
    """The public keys of the answer: the spec's declared keys, or the single key ``None``."""
    group = request.spec.group_by
    return [None] if group is None else list(group.keys)
