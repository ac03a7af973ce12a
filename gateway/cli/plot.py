"""``dpgw blocks plot``: a data set's budget per block and its burn-down, as a PNG for reports or JSON series.

The figure has two panels: the ε accounts of every block today (consumed, allocated, unlocked, locked,
stacked, one bar per block), and the data set's total remaining ε over time, from the audit trail.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.core.budget_state import block_state
from gateway.core.burndown import BurnDown
from gateway.errors import GatewayValidationError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ACCOUNTS = ("consumed", "allocated", "unlocked", "locked")
COLORS = {
    "consumed": "#b2182b",
    "allocated": "#ef8a62",
    "unlocked": "#67a9cf",
    "locked": "#d1e5f0",
    "used or held": "#b2182b",
    "left": "#67a9cf",
}


def series_json(dataset: str, view: BurnDown) -> dict[str, Any]:
    blocks, series = view.blocks, view.series
    return {
        "dataset": dataset,
        "blocks": [
            {
                "block": b.key,
                "day": b.day.isoformat() if b.day is not None else None,
                **({"data_version": b.data_version} if b.data_version is not None else {}),
                "state": block_state(b).value,
                "retired": b.retired,
                **{name: getattr(b, name).to_json() for name in ("capacity", *ACCOUNTS, "remaining")},
                "burn_down": [p.to_json() for p in series.get(b.key, [])],
            }
            for b in blocks
        ],
        "total_remaining": [p.to_json() for p in view.total],
    }


def burn_figure(dataset: str, view: BurnDown, now: dt.datetime | None = None) -> Figure:
    """The two panels; ``now`` extends the burn-down's last step to the present."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise GatewayValidationError(
            "plotting needs matplotlib; install it with: pip install 'dp-gateway[simulate]'"
        ) from None
    blocks, total = view.blocks, view.total
    fig = Figure(figsize=(max(7.0, 0.25 * len(blocks) + 3), 7))
    top, bottom = fig.subplots(2, 1)
    days = [b.label for b in blocks]
    base = [0.0] * len(blocks)
    for name, values in _bars(view):
        top.bar(days, values, bottom=base, color=COLORS[name], label=name)
        base = [a + v for a, v in zip(base, values, strict=True)]
    top.set_title(f"{dataset}: privacy budget per block (ε)")
    top.set_xlabel("block (day or version of data)")
    top.set_ylabel("ε")
    top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    top.tick_params(axis="x", labelrotation=90, labelsize="x-small")
    if total:
        times = [p.at for p in total]
        values = [float(p.remaining.epsilon) for p in total]
        if now is not None and now > times[-1]:
            times.append(now)
            values.append(values[-1])
        bottom.step(times, values, where="post", marker="o", markevery=list(range(len(total))))
        bottom.set_ylim(bottom=0)
    bottom.set_title("remaining ε summed over the blocks, from the audit trail")
    bottom.set_xlabel("time (UTC)")
    bottom.set_ylabel("remaining ε")
    bottom.grid(alpha=0.3)
    bottom.tick_params(axis="x", labelrotation=30, labelsize="small")
    fig.tight_layout()
    return fig


def _bars(view: BurnDown) -> list[tuple[str, list[float]]]:
    """The stacked ε per block: the four accounts, or under rdp the ε still left at the block's δ and the rest."""
    if not any(b.capacity.is_curve for b in view.blocks):
        return [(name, [float(getattr(b, name).epsilon) for b in view.blocks]) for name in ACCOUNTS]
    left = [float(view.left[b.key]) for b in view.blocks]
    whole = [float((b.guarantee or b.capacity).epsilon) for b in view.blocks]
    return [("used or held", [w - x for w, x in zip(whole, left, strict=True)]), ("left", left)]


def write_png(fig: Figure, out: Path) -> None:
    try:
        fig.savefig(out, dpi=110)
    except OSError as exc:
        raise GatewayValidationError(f"cannot write the plot to {out}: {exc.strerror}") from None
