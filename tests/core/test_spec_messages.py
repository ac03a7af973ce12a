"""Every spec validation message names the field, what was given and what is accepted, in the spec's words.

The messages must not leak the validation library's internals ("valid dictionary or instance of
Aggregate", one line per member of a union, "epsilon must be a number, got None").
"""

from __future__ import annotations

import pytest

from gateway.core.spec import ACCEPTED, parse_spec
from gateway.errors import SpecError

BASE = {
    "engine": "tumult",
    "dataset": "purchases",
    "analyst": "alice",
    "blocks": {"last": 3},
    "budget": {"epsilon": 0.5},
    "privacy_unit": "row",
    "aggregate": {"function": "count"},
}
INTERNALS = ("Input should", "instance of", "valid dictionary", "got None", ".str", ".int", ".bool")


def problems(**changes) -> list[str]:
    data = {k: v for k, v in {**BASE, **changes}.items() if v is not None}
    with pytest.raises(SpecError) as caught:
        parse_spec(data)
    text = str(caught.value)
    assert text.startswith("invalid query spec:\n  ")
    assert not any(leak in text for leak in INTERNALS), text
    return text.removeprefix("invalid query spec:\n  ").split("\n  ")


CASES = {
    "aggregate given as a list": (
        {"aggregate": [{"function": "count"}]},
        [f'aggregate: got [{{"function": "count"}}]; expected {ACCEPTED["aggregate"]}'],
    ),
    "a misspelt zCDP budget": (
        {"budget": {"roh": 0.1}},
        [
            "budget.roh: unknown field; budget takes epsilon, delta, rho (an (ε, δ) budget, or {rho} for zCDP "
            "on ledgers made with dpgw init --accounting rdp); check the spelling (the README's query spec "
            "lists every field)",
        ],
    ),
    "multi-column group_by": (
        {"group_by": {"column": ["region", "day"], "keys": [["north", "2026-10-01"]]}},
        [
            'group_by.column: got ["region", "day"]; expected one column name (for several, use columns: [A, B])',
        ],
    ),
    "a fractional group key": (
        {"group_by": {"column": "region", "keys": ["north", 1.5]}},
        ["group_by.keys[1]: got 1.5; expected a string, integer or boolean (or a list of them, one per column)"],
    ),
    "group_by as a list": (
        {"group_by": [{"column": "region", "keys": ["north"]}]},
        [f'group_by: got [{{"column": "region", "keys": ["north"]}}]; expected {ACCEPTED["group_by"]}'],
    ),
    "unknown engine": ({"engine": "opendp"}, ['engine: got "opendp"; expected tumult or pipelinedp']),
    "unknown function": (
        {"aggregate": {"function": "mode", "column": "amount"}},
        [
            'aggregate.function: got "mode"; expected count, count_distinct, privacy_id_count, sum, mean, variance, '
            "stdev, quantile, median, min or max"
        ],
    ),
    "blocks as text": (
        {"blocks": "last 7"},
        [
            'blocks: got "last 7"; expected {last: K} or {from: YYYY-MM-DD, to: YYYY-MM-DD} (days); '
            "{version: V} or latest (a snapshot)"
        ],
    ),
    "no blocks": (
        {"blocks": {"last": 0}},
        ["blocks.last: got 0; expected a whole number >= 1 (the K most recent blocks)"],
    ),
    "impossible date": (
        {"blocks": {"from": "2026-13-01", "to": "2026-10-03"}},
        ['blocks.from: got "2026-13-01"; expected a date, YYYY-MM-DD'],
    ),
    "missing budget": ({"budget": None}, [f"budget: missing; give {ACCEPTED['budget']}"]),
    "a bound given as text": (
        {"aggregate": {"function": "sum", "column": "amount", "low": "zero", "high": 9}},
        ['aggregate.low: got "zero"; expected a finite number'],
    ),
    "a zero contribution cap": (
        {"privacy_unit": {"id_column": "user_id", "max_rows_per_id": 0}},
        ["privacy_unit.max_rows_per_id: got 0; expected a whole number >= 1"],
    ),
    "a numeric analyst": ({"analyst": 5}, ["analyst: got 5; expected a non-empty name"]),
    "a bad client id": (
        {"client_id": "has space"},
        ["client_id: client_id must be 1-128 letters, digits, '_', '.', ':' or '-'; got \"has space\""],
    ),
    "a misspelt top-level field": (
        {"epsilom": 1},
        [
            "epsilom: unknown field; the spec takes engine, dataset, analyst, blocks, budget, privacy_unit, "
            "join, where, derive, aggregate, aggregates, group_by, contribution, client_id; check the spelling "
            "(the README's query spec lists every field)"
        ],
    ),
    "a misspelt aggregate field": (
        {"aggregate": {"function": "count", "colum": "amount"}},
        [
            "aggregate.colum: unknown field; aggregate takes function, column, low, high, q, budget_share; "
            "check the spelling (the README's query spec lists every field)"
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_message_names_field_given_and_accepted(case):
    changes, expected = CASES[case]
    assert problems(**changes) == expected


def test_a_document_that_is_not_a_mapping_says_what_a_spec_is():
    with pytest.raises(SpecError, match=r"must be a mapping of fields \(engine, dataset, .*\), got \[1, 2\]"):
        parse_spec([1, 2])


def test_every_field_of_the_spec_has_an_accepted_description():
    from gateway.core.spec import _SECTIONS

    for section, model in _SECTIONS.items():
        for name, field in model.model_fields.items():
            path = f"{section}.{field.alias or name}" if section else (field.alias or name)
            assert path in ACCEPTED, path
