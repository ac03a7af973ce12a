"""How the CLI shows things: rich tables for people, one JSON document for tools (``--json``)."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from gateway.core import rdp
from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.core.budget_state import block_state
from gateway.core.claims import Claim, ClaimState
from gateway.core.preview import Preview
from gateway.core.scheduling import PolicySettings

# Tables stay readable when output is piped (rich would otherwise assume 80 columns).
_WIDTH = shutil.get_terminal_size((140, 24)).columns
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=_WIDTH)

STATE_STYLE = {
    ClaimState.PENDING: "yellow",
    ClaimState.ADMITTED: "cyan",
    ClaimState.LAUNCHING: "cyan",
    ClaimState.RUNNING: "cyan",
    ClaimState.SUCCEEDED: "green",
    ClaimState.FAILED: "red",
    ClaimState.RELEASED: "magenta",
    ClaimState.REJECTED: "red",
    ClaimState.CANCELLED: "dim",
}


def safe(value: object, newlines: bool = False) -> str:
    """``value`` as text a terminal shows literally: every non-printable character becomes a visible escape.

    Names, reasons, group keys and paths come from users; an ESC sequence in one must not recolour, move
    the cursor or retitle the terminal of whoever lists the ledger, and a bidirectional override must not
    make one string look like another. ``newlines`` keeps line breaks (multi-line error messages).
    """
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or (newlines and ch == "\n") else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def plain(value: object, style: str = "", newlines: bool = False) -> Text:
    """A user string as a rich ``Text``: never parsed as markup, non-printable characters escaped."""
    return Text(safe(value, newlines), style=style)


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, default=str))


def rdp_view(block: Block, alphas: tuple[Decimal, ...]) -> dict[str, str]:
    """An rdp block as (ε, δ): its guarantee and the best ε at its δ still left over the orders."""
    assert block.guarantee is not None and block.capacity.curve is not None
    remaining = block.remaining.curve or (Decimal(0),) * len(alphas)
    left = rdp.remaining_epsilon(remaining, block.capacity.curve, block.guarantee.delta, alphas)
    return {
        "epsilon": format(block.guarantee.epsilon.normalize(), "f"),
        "delta": _delta(block.guarantee.delta),
        "remaining_epsilon": format(left.normalize(), "f"),
    }


def block_json(block: Block, alphas: tuple[Decimal, ...] | None = None) -> dict[str, Any]:
    """The block's accounts (curves under rdp accounting, with ``alphas`` and the (ε, δ) view when given)."""
    extra: dict[str, Any] = {}
    if block.guarantee is not None:
        extra["guarantee"] = block.guarantee.to_json()
        if alphas:
            left = rdp_view(block, alphas)["remaining_epsilon"]
            extra |= {"alphas": [str(a) for a in alphas], "remaining_epsilon": left}
    return extra | {
        "block": block.key,
        "dataset": block.dataset,
        "day": block.day.isoformat() if block.day is not None else None,
        **({"data_version": block.data_version} if block.data_version is not None else {}),
        "capacity": block.capacity.to_json(),
        "unlocked": block.unlocked.to_json(),
        "locked": block.locked.to_json(),
        "allocated": block.allocated.to_json(),
        "consumed": block.consumed.to_json(),
        "remaining": block.remaining.to_json(),
        "arrivals": block.arrivals,
        "retired": block.retired,
        "state": block_state(block).value,
    }


def _eps(budget: Budget) -> str:
    return format(budget.epsilon.normalize(), "f")


def _delta(value: Decimal) -> str:
    """δ is usually tiny: 1e-06 reads better than 0.000001."""
    return "0" if value == 0 else f"{float(value):g}"


def _amount(budget: Budget, with_delta: bool) -> str:
    return f"{_eps(budget)} / {_delta(budget.delta)}" if with_delta else _eps(budget)


ARRIVAL_POLICIES = frozenset({"dpf-n", "rr-n"})
TIME_POLICIES = frozenset({"dpf-t", "rr-t", "dpack"})
BLOCKS_HELP = (
    "Columns follow the ledger's policy. Always: capacity, allocated (reserved by running jobs), consumed "
    "(spent) and remaining (capacity - allocated - consumed). FCFS: 'available', the budget a new query "
    "can still be granted (all of it is released at once). DPF-N / RR-N: 'unlocked' (released by arrivals, "
    "admittable now), 'locked' and 'arrivals' (k of N; at N the block is retired: all of it released). "
    "DPF-T / RR-T / DPack: 'unlocked' (released so far over the block's lifetime), 'locked' and 'state' "
    "(unlocking, or retired once fully released). Amounts are ε, or 'ε / δ' when any block has a δ capacity. "
    "Under rdp accounting: each block's (ε, δ) and its remaining budget as the best ε at that δ over the "
    "ledger's orders; --json gives the whole curves."
)


def rdp_blocks_table(rows: list[Block], settings: PolicySettings, title: str | None = None) -> Table:
    """Under rdp accounting: per block its (εG, δG) and the remaining budget as the best ε at δG over the orders."""
    alphas = settings.orders()
    table = Table(title=plain(title or f"Privacy blocks (Rényi-DP, ε at the block's δ), policy {settings.summary()}"))
    for name in ("block", "capacity ε / δ", "remaining ε", "state"):
        table.add_column(name, justify="left" if name == "block" else "right", no_wrap=True)
    for b in rows:
        if b.guarantee is None:
            table.add_row(plain(b.key), "?", "?", "")
            continue
        view = rdp_view(b, alphas)
        state = "retired" if b.retired else ("unlocking" if not b.locked.is_zero() else "released")
        left = f"{float(view['remaining_epsilon']):.6g}"  # exact (rounded down) in --json
        table.add_row(plain(b.key), f"{view['epsilon']} / {view['delta']}", left, state)
    return table


def blocks_table(blocks: Iterable[Block], settings: PolicySettings | None = None, title: str | None = None) -> Table:
    """One row per block, with the columns the ledger's policy gives a meaning to (see ``BLOCKS_HELP``)."""
    rows = list(blocks)
    if settings is not None and settings.rdp:
        return rdp_blocks_table(rows, settings, title)
    policy = settings.policy if settings is not None else "dpf-n"
    with_delta = any(b.capacity.delta > 0 for b in rows)
    unit = "ε / δ" if with_delta else "ε"
    heading = title or f"Privacy blocks ({unit}), policy {settings.summary() if settings else policy}"
    table = Table(title=plain(heading))
    if policy in ARRIVAL_POLICIES:
        columns = ["capacity", "unlocked", "locked", "allocated", "consumed", "remaining", "arrivals"]
    elif policy in TIME_POLICIES:
        columns = ["capacity", "unlocked", "locked", "allocated", "consumed", "remaining", "state"]
    else:
        columns = ["capacity", "available", "allocated", "consumed", "remaining"]
    table.add_column("block", no_wrap=True)
    for name in columns:
        table.add_column(name, justify="right", no_wrap=True)
    for b in rows:
        amounts = {
            "capacity": b.capacity,
            "unlocked": b.unlocked,
            "available": b.unlocked,
            "locked": b.locked,
            "allocated": b.allocated,
            "consumed": b.consumed,
            "remaining": b.remaining,
        }
        cells = []
        for name in columns:
            if name == "arrivals":
                n = settings.n if settings is not None else None
                count = f"{b.arrivals}/{n}" if n else str(b.arrivals)
                cells.append(count + (" (retired)" if b.retired else ""))
            elif name == "state":
                cells.append("retired" if b.retired else "unlocking")
            else:
                cells.append(_amount(amounts[name], with_delta))
        table.add_row(plain(b.key), *cells)
    return table


def claim_json(claim: Claim, full_blocks: bool = True) -> dict[str, Any]:
    """A submission as JSON. ``block_range`` always; the full ``blocks`` list (one key per day, 365 for a
    year) only when ``full_blocks``: ``dpgw status ID --json`` shows it, ``submit --json`` and the
    ``status --json`` listing do not."""
    doc = {
        "id": claim.id,
        "state": claim.state.value,
        "analyst": claim.analyst,
        "engine": claim.spec.engine.value,
        "dataset": claim.spec.dataset,
        "block_range": block_range(claim),
        "blocks": list(claim.blocks),
        "budget": claim.demand.to_json(),
        "reason": claim.reason,
        "launcher": claim.launcher,
        "run_id": claim.run_id,
        "client_id": claim.spec.client_id,
        "submitted_at": claim.submitted_at.isoformat(),
        "updated_at": claim.updated_at.isoformat(),
    }
    if not full_blocks:
        del doc["blocks"]
    return doc


def block_range(claim: Claim) -> dict[str, Any]:
    """The blocks a claim reads, compactly: first and last day and how many (a year is 365 keys)."""
    days = [key.split("/", 1)[1] for key in claim.blocks]
    return {"first": days[0], "last": days[-1], "count": len(days)}


def _span(claim: Claim) -> str:
    span = block_range(claim)
    return span["first"] if span["count"] == 1 else f"{span['first']} → {span['last']} ({span['count']})"


def _demand_text(claim: Claim) -> str:
    """The budget as the analyst asked for it; under rdp the ledger holds its curve (``--json``)."""
    if claim.demand.curve is None:
        return str(claim.demand)
    budget = claim.spec.budget
    if budget.rho is not None:
        return f"rho={format(budget.rho.normalize(), 'f')} (RDP)"
    return f"{budget.to_budget()} (RDP)"


def claims_table(claims: Iterable[Claim], title: str = "Submissions") -> Table:
    table = Table(title=title)
    for name in ("id", "analyst", "engine", "query", "blocks", "budget", "state", "reason"):
        table.add_column(name, overflow="fold", no_wrap=name in ("id", "blocks"))
    for c in claims:
        query = c.spec.summary
        table.add_row(
            plain(c.id),
            plain(c.analyst),
            c.spec.engine.value,
            plain(query),
            _span(c),
            _demand_text(c),
            Text(c.state.value, style=STATE_STYLE[c.state]),
            plain(c.reason or ""),
        )
    return table


NOISE_NOTE = (
    "Values are unbiased noisy estimates: a count or sum may be fractional or negative, and is left so "
    "(rounding or clamping would bias it). `dpgw result ID --round --clamp-zero` post-processes the display."
)


def post_process(value: float, round_: bool = False, clamp_zero: bool = False) -> float:
    """Display-time post-processing of a noisy value (never stored: the ledger keeps the raw answer)."""
    if clamp_zero and value < 0:
        value = 0.0
    if round_ and math.isfinite(value):
        value = float(round(value))
    return value


def result_json(claim: Claim, round_: bool = False, clamp_zero: bool = False) -> dict[str, Any]:
    """The stored result; with post-processing asked for, each value also gets its ``post_processed`` form."""
    result = dict(claim.result or {})
    if round_ or clamp_zero:
        steps = [name for name, on in (("round", round_), ("clamp_zero", clamp_zero)) if on]
        result["values"] = [
            {**row, "post_processed": post_process(row["value"], round_, clamp_zero)} for row in result["values"]
        ]
        result["post_processing"] = steps
    return result


def _spent_label(spent: dict[str, Any]) -> str:
    """An aggregate's spend for a column title: ε to six significant digits (the library's float, rounded
    toward zero when handed over, shows as 0.049999999999999996), or a Rényi curve's kind."""
    if spent.get("epsilon") is not None:
        return f"ε {float(spent['epsilon']):.6g}"
    return "a Rényi-DP curve"


def result_table(claim: Claim, round_: bool = False, clamp_zero: bool = False) -> Group:
    """The private answer: a heading line (a table title would wrap to the narrow table) and one row per key."""
    result = claim.result or {}
    spent = Budget.from_json(result["spent"])
    spec = claim.spec
    heading = (
        f"{claim.id} · {claim.analyst} · {spec.engine.value} · {spec.summary}"
        f" · spent {spent} on {len(claim.blocks)} block(s)"
    )
    processed = round_ or clamp_zero
    table = Table()
    table.add_column(plain(", ".join(spec.group_by.names) if spec.group_by else "group"))
    answers = result.get("answers") or []
    several = len(answers) > 1
    columns = [result["values"]] if not several else [a["values"] for a in answers]
    for answer in answers if several else [None]:
        title = "private value" if answer is None else f"{answer['name']} ({_spent_label(answer['spent'])})"
        table.add_column(plain(title), justify="right")
    if processed:
        label = " + ".join(name for name, on in (("rounded", round_), ("clamped at 0", clamp_zero)) if on)
        table.add_column(f"post-processed ({label})", justify="right")
    for i, row in enumerate(result["values"]):
        key = row["key"]
        shown_key = "(all)" if key is None else ", ".join(map(str, key)) if isinstance(key, list) else str(key)
        cells: list[Text | str] = [plain(shown_key), *(f"{col[i]['value']:,.3f}" for col in columns)]
        if processed:
            shown = post_process(row["value"], round_, clamp_zero)
            cells.append(f"{shown:,.0f}" if round_ else f"{shown:,.3f}")
        table.add_row(*cells)
    notes = [plain(note, style="dim") for note in result.get("notes") or []]
    if any(a.function.value in ("count", "sum") for a in spec.all_aggregates) and not processed:
        notes.append(Text(NOISE_NOTE, style="dim"))
    return Group(plain(heading, style="bold"), table, *notes)


def preview_lines(preview: Preview) -> list[str]:
    """``dpgw preview`` in plain text: the verdict, why, and how many more copies the blocks hold."""
    if preview.fits:
        lines = ["Fits: submitted now (with nothing else waiting), this query would be admitted at once."]
    elif preview.state == ClaimState.REJECTED.value:
        lines = ["Does not fit: a submission would be rejected."]
    else:
        lines = ["Does not fit now: a submission would wait."]
    if preview.reason:
        lines.append(f"Why: {preview.reason}")
    lines.append(
        f"The blocks could still grant {preview.copies} more cop{'y' if preview.copies == 1 else 'ies'} of this "
        f"query ({preview.accounting} accounting, counting budget the policy has not released yet)."
    )
    return lines
