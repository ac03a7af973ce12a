"""What each engine can answer, in one table: the submission check and the README's table both read it.

A spec asking for something its engine cannot do is refused at submission (before any budget is
reserved), naming the engine that can. ``tests/core/test_capabilities.py`` checks the README's table
is this dict rendered by ``markdown_table``.
"""

from __future__ import annotations

from gateway.core.spec import AggregateFunction, Engine, QuerySpec
from gateway.errors import GatewayValidationError

T, P = Engine.TUMULT, Engine.PIPELINEDP

# feature -> engines that support it. Feature names are what the README's table shows.
CAPABILITIES: dict[str, frozenset[Engine]] = {
    "count": frozenset({T, P}),
    "sum": frozenset({T, P}),
    "mean": frozenset({T, P}),
    "variance": frozenset({T, P}),
    "stdev": frozenset({T}),
    "count_distinct": frozenset({T}),
    "privacy_id_count": frozenset({T, P}),
    "quantile": frozenset({T, P}),
    "median": frozenset({T, P}),
    "min": frozenset({T}),
    "max": frozenset({T}),
    "several aggregates (budget_share)": frozenset({T, P}),
    "where (filter)": frozenset({T, P}),
    "derive (bin, date_part)": frozenset({T, P}),
    "group_by on several columns": frozenset({T, P}),
    "contribution (per-group bounds)": frozenset({T, P}),
    "contribution with count_distinct": frozenset(),
    "group keys selected privately (keys: private)": frozenset({P}),
    "group keys from a public table (keys: {from: T})": frozenset({T, P}),
    "join with a public table (lookup)": frozenset({T, P}),
    "join with a public table (one-to-many, matches: many)": frozenset({T, P}),
}


def features(spec: QuerySpec) -> list[str]:
    """The table's features a spec uses."""
    used = [a.function.value for a in spec.all_aggregates]
    if len(spec.all_aggregates) > 1:
        used.append("several aggregates (budget_share)")
    if spec.where:
        used.append("where (filter)")
    if spec.derive:
        used.append("derive (bin, date_part)")
    if spec.group_by is not None and spec.group_by.multi:
        used.append("group_by on several columns")
    if spec.group_by is not None and spec.group_by.from_table is not None:
        used.append("group keys from a public table (keys: {from: T})")
    if spec.join is not None:
        many = spec.join.matches == "many"
        used.append(
            "join with a public table (one-to-many, matches: many)" if many else "join with a public table (lookup)"
        )
    if spec.group_by is not None and spec.group_by.private:
        used.append("group keys selected privately (keys: private)")
    if spec.contribution is not None:
        used.append("contribution (per-group bounds)")
        if any(a.function is AggregateFunction.COUNT_DISTINCT for a in spec.all_aggregates):
            used.append("contribution with count_distinct")
    return used


def check_engine(spec: QuerySpec) -> None:
    """Refuse a spec its engine cannot answer, naming the engine that can (if any)."""
    for feature in features(spec):
        able = CAPABILITIES[feature]
        if spec.engine in able:
            continue
        others = sorted(e.value for e in able)
        hint = f"use engine: {others[0]}" if others else "no engine supports it; change the query"
        raise GatewayValidationError(f"engine {spec.engine.value} cannot answer {feature}; {hint}")


def markdown_table() -> str:
    """The README's capability table."""
    engines = list(Engine)
    lines = ["| feature | " + " | ".join(e.value for e in engines) + " |", "|---|" + "---|" * len(engines)]
    for feature, able in CAPABILITIES.items():
        lines.append(f"| {feature} | " + " | ".join("yes" if e in able else "no" for e in engines) + " |")
    return "\n".join(lines)
