"""The dashboard as one self-contained HTML page: inline CSS and SVG, no script, nothing fetched.

Every string that comes from users or the ledger goes through ``html.escape``; numbers are formatted
here. The heat map has one ``rect.cell`` per block (its state and remaining budget as data attributes,
the exact accounts in its tooltip) and a row per account below it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from decimal import Decimal

from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.core.budget_state import BudgetState, account_fraction
from gateway.core.burndown import Point
from gateway.dashboard.model import Dashboard, DatasetView, QueueEntry

CELL, GAP, LABEL_W = 16, 2, 124
STATE_COLOR = {
    BudgetState.ENOUGH: "#1a9850",
    BudgetState.NEARLY_EXHAUSTED: "#fdae61",
    BudgetState.OUT_OF_BUDGET: "#d73027",
}
ACCOUNTS = ("unlocked", "allocated", "consumed")

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
.meta { color: #666; } table { border-collapse: collapse; } td, th { padding: 3px 8px; text-align: left; }
th { border-bottom: 1px solid #ccc; } tr:nth-child(even) td { background: #f6f6f6; }
.legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; vertical-align: middle; }
.empty { color: #888; font-style: italic; } .scroll { overflow-x: auto; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() or abs(value) >= 1e-4 else f"{value:.3e}"


def _budget(b: Budget) -> str:
    return f"ε {_num(b.epsilon)}" + (f", δ {_num(b.delta)}" if b.delta else "")


def _shade(fraction: Decimal) -> str:
    """White (0) to dark blue (1)."""
    f = float(min(max(fraction, Decimal(0)), Decimal(1)))
    r, g, b = (int(255 - f * (255 - c)) for c in (33, 102, 172))
    return f"rgb({r},{g},{b})"


def _tooltip(block: Block) -> str:
    parts = [f"{block.key}"] + [
        f"{name}: {_budget(getattr(block, name))}" for name in ("capacity", "remaining", *ACCOUNTS)
    ]
    return "\n".join(parts) + ("\nretired" if block.retired else "")


def heat_map(view: DatasetView) -> str:
    n = len(view.blocks)
    rows = ["remaining (state)", *ACCOUNTS]
    width = LABEL_W + n * (CELL + GAP) + 64  # room for the last date label
    height = len(rows) * (CELL + GAP) + 40
    out = [f'<svg class="heatmap" data-dataset="{_e(view.name)}" width="{width}" height="{height}" role="img">']
    for r, label in enumerate(rows):
        out.append(f'<text x="0" y="{r * (CELL + GAP) + 12}" font-size="11">{label}</text>')
    for i, bv in enumerate(view.blocks):
        b, x = bv.block, LABEL_W + i * (CELL + GAP)
        out.append(
            f'<rect class="cell" x="{x}" y="0" width="{CELL}" height="{CELL}" fill="{STATE_COLOR[bv.state]}" '
            f'fill-opacity="{0.35 + 0.65 * float(bv.remaining_fraction):.3f}" data-block="{_e(b.key)}" '
            f'data-state="{_e(bv.state.value)}" data-retired="{str(b.retired).lower()}" '
            f'data-remaining-epsilon="{_e(_num(b.remaining.epsilon))}" '
            f'data-remaining-delta="{_e(_num(b.remaining.delta))}"><title>{_e(_tooltip(b))}</title></rect>'
        )
        for r, name in enumerate(ACCOUNTS, start=1):
            amount: Budget = getattr(b, name)
            fraction = account_fraction(amount, b.capacity)
            out.append(
                f'<rect class="account" data-account="{name}" x="{x}" y="{r * (CELL + GAP)}" width="{CELL}" '
                f'height="{CELL}" fill="{_shade(fraction)}" stroke="#ddd"><title>{_e(b.key)} {name}: '
                f"{_e(_budget(amount))}</title></rect>"
            )
        if i == n - 1 or (i % 7 == 0 and n - 1 - i >= 5):  # a date every week, none crowding the last
            out.append(f'<text x="{x}" y="{len(rows) * (CELL + GAP) + 14}" font-size="10">{_e(b.label)}</text>')
    out.append("</svg>")
    return "".join(out)


def burn_down(points: list[Point], width: int = 640, height: int = 160) -> str:
    if len(points) < 2:
        return '<p class="empty">not enough history for a burn-down yet</p>'
    t0, t1 = points[0].at.timestamp(), points[-1].at.timestamp()
    top = max(float(p.remaining.epsilon) for p in points) or 1.0
    span = (t1 - t0) or 1.0
    coords: list[str] = []
    for a, b in zip(points, [*points[1:], points[-1]], strict=True):  # steps: hold each value until the next
        x0 = 40 + (a.at.timestamp() - t0) / span * (width - 50)
        x1 = 40 + (b.at.timestamp() - t0) / span * (width - 50)
        y = height - 20 - float(a.remaining.epsilon) / top * (height - 30)
        coords += [f"{x0:.1f},{y:.1f}", f"{x1:.1f},{y:.1f}"]
    return (
        f'<svg class="burndown" width="{width}" height="{height}" role="img">'
        f'<polyline fill="none" stroke="#2166ac" stroke-width="2" points="{" ".join(coords)}"/>'
        f'<text x="0" y="14" font-size="11">ε {top:g}</text><text x="0" y="{height - 20}" font-size="11">0</text>'
        f'<text x="40" y="{height - 4}" font-size="10">{_e(points[0].at.strftime("%Y-%m-%d %H:%M"))}</text>'
        f'<text x="{width - 130}" y="{height - 4}" font-size="10">{_e(points[-1].at.strftime("%Y-%m-%d %H:%M"))}'
        "</text></svg>"
    )


def _table(headers: Iterable[str], rows: list[list[str]], cls: str, empty: str) -> str:
    if not rows:
        return f'<p class="empty {cls}">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _queue_row(entry: QueueEntry) -> list[str]:
    c, f = entry.claim, entry.forecast
    first, last = c.blocks[0].split("/", 1)[1], c.blocks[-1].split("/", 1)[1]
    when = f.outlook.value + (f" {f.at:%Y-%m-%d %H:%M} UTC" if f.at else "")
    return [
        f'<span class="submission">{_e(c.id)}</span>',
        _e(c.analyst),
        _e(f"{first} → {last} ({len(c.blocks)})"),
        _e(_budget(c.demand)),
        _e(f"{float(entry.dominant_share):.3f}"),
        f'<span title="{_e(f.basis)}">{_e(when)}</span>',
    ]


def render(board: Dashboard) -> str:
    who = "operator (all analysts)" if board.viewer is None else f"analyst {board.viewer}"
    legend = "".join(f'<span style="background:{c}"></span>{_e(s.value)}' for s, c in STATE_COLOR.items())
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>dp-gateway budgets</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Privacy budget</h1>",
        f'<p class="meta">policy {_e(board.policy)} · viewing as {_e(who)} · '
        f"{_e(board.generated_at.strftime('%Y-%m-%d %H:%M:%S'))} UTC</p>",
        f'<p class="legend">block state:{legend}</p>',
    ]
    if not board.datasets:
        parts.append('<p class="empty">no data sets registered yet</p>')
    for view in board.datasets:
        parts += [
            f'<section class="dataset" data-dataset="{_e(view.name)}"><h2>{_e(view.name)}: '
            f"{len(view.blocks)} block(s)</h2>",
            f'<div class="scroll">{heat_map(view)}</div>',
            "<h3>remaining ε over time</h3>",
            burn_down(view.burn_down),
            "</section>",
        ]
    parts += [
        "<h2>Waiting queries</h2>",
        _table(
            ["submission", "analyst", "blocks", "budget", "dominant share", "when (if nothing else competes)"],
            [_queue_row(e) for e in board.queue],
            "queue",
            "no query is waiting",
        ),
        "<h2>Recent decisions</h2>",
        _table(
            ["time (UTC)", "decision", "submission", "analyst", "blocks", "budget", "reason"],
            [
                [
                    _e(e.at.strftime("%Y-%m-%d %H:%M:%S")),
                    _e(e.kind),
                    f'<span class="submission">{_e(e.submission_id or "")}</span>',
                    _e(e.analyst or ""),
                    _e(f"{len(e.blocks)}"),
                    _e(_budget(e.amount) if e.amount else ""),
                    _e(e.reason or ""),
                ]
                for e in board.recent
            ],
            "recent",
            "no admissions or rejections yet",
        ),
        "</body></html>",
    ]
    return "".join(parts)
