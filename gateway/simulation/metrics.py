"""What a replay reports: outcome counts, granted tasks by class, scheduling-delay percentiles, run time."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

PENDING, GRANTED, REJECTED, TIMED_OUT = 0, 1, 2, 3
PERCENTILES = (50, 90, 99)


@dataclass
class SimulationReport:
    workload: str
    policy: str
    n: int | None
    lifetime: float | None
    rdp: bool
    arrivals: int
    granted: int
    rejected: int
    timed_out: int
    pending_at_end: int
    granted_by_class: dict[str, int] = field(default_factory=dict)
    delay_percentiles: dict[str, float] = field(default_factory=dict)
    passes: int = 0
    run_time_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def summarize(status: np.ndarray, delays: np.ndarray, mice: np.ndarray, many: np.ndarray) -> dict[str, Any]:
    granted = status == GRANTED
    classes = {
        f"{'mice' if m else 'elephant'}/{'many' if b else 'few'}": int((granted & (mice == m) & (many == b)).sum())
        for m in (True, False)
        for b in (False, True)
    }
    waited = delays[granted]
    pct = {f"p{p}": float(np.percentile(waited, p)) if waited.size else 0.0 for p in PERCENTILES}
    return {
        "arrivals": int(status.size),
        "granted": int(granted.sum()),
        "rejected": int((status == REJECTED).sum()),
        "timed_out": int((status == TIMED_OUT).sum()),
        "pending_at_end": int((status == PENDING).sum()),
        "granted_by_class": classes,
        "delay_percentiles": pct,
    }
