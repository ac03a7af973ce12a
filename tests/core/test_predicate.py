"""The where-condition parser: what it accepts, how it types literals, and hostile input."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.core import predicate
from gateway.core.datasets import ColumnType
from gateway.core.predicate import And, Between, Compare, InList, IsNull, Not, Or, PredicateError
from gateway.errors import GatewayValidationError, UnknownColumnError

COLUMNS = {
    "age": ColumnType.INTEGER,
    "amount": ColumnType.DOUBLE,
    "edu": ColumnType.STRING,
    "member": ColumnType.BOOLEAN,
    "day": ColumnType.DATE,
    "ts": ColumnType.TIMESTAMP,
    "odd name": ColumnType.STRING,
}


def typed(text: str) -> predicate.Node:
    return predicate.check(predicate.parse(text), COLUMNS)


def test_the_documented_example_parses_with_precedence_and_over_or() -> None:
    node = typed("age >= 18 and edu in ('masters', 'doctorate') or not member = true")
    assert node == Or(
        (
            And((Compare("age", ">=", 18), InList("edu", ("masters", "doctorate")))),
            Not(Compare("member", "=", True)),
        )
    )


def test_every_form_and_keywords_in_any_case() -> None:
    node = typed(
        "amount BETWEEN 1 AND 2.5 AND edu IS NOT NULL AND age NOT IN (1, 2) AND day < '2026-10-03' "
        "and ts >= '2026-10-01T12:00:00' and \"odd name\" <> 'it''s' and age is null"
    )
    assert isinstance(node, And)
    assert node.items == (
        Between("amount", 1.0, 2.5),
        IsNull("edu", negated=True),
        InList("age", (1, 2), negated=True),
        Compare("day", "<", dt.date(2026, 10, 3)),
        Compare("ts", ">=", dt.datetime(2026, 10, 1, 12)),
        Compare("odd name", "!=", "it's"),
        IsNull("age"),
    )
    assert predicate.columns_of(node) == ["amount", "edu", "age", "day", "ts", "odd name"]


def test_a_timestamp_with_an_offset_is_read_as_utc() -> None:
    node = typed("ts < '2026-10-01T02:00:00+02:00'")
    assert node == Compare("ts", "<", dt.datetime(2026, 10, 1, 0, 0))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("age >= '18'", "column 'age' is integer, so compare it with a whole number"),
        ("age >= 18.5", "a whole number"),
        ("amount = 'x'", "a number"),
        ("edu = 3", "a 'quoted string'"),
        ("member < true", "takes only = or !="),
        ("member = 1", "true or false"),
        ("day = '2026-13-40'", "a date 'YYYY-MM-DD'"),
        ("ts = 5", "a date-time"),
        ("age = 99999999999999999999", "fits in 64 bits"),
        ("member between true and false", "cannot be used with BETWEEN"),
    ],
)
def test_literals_are_typed_against_the_schema(text: str, message: str) -> None:
    with pytest.raises(PredicateError, match=message):
        typed(text)


def test_unknown_columns_are_named_with_the_known_ones() -> None:
    with pytest.raises(UnknownColumnError, match=r"column 'salary' is not in the data set.*age, amount"):
        typed("salary > 3")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "give a condition"),
        ("age >=", "expected a literal .* found the end of the text"),
        ("age 18", "expected a comparison after column 'age'"),
        ("(age = 1", "expected '\\)' to close the parenthesis"),
        ("age = 1 age = 2", "expected AND, OR or the end"),
        ("age in ()", "expected a literal"),
        ("age = 1; drop table users", "unexpected character ';'"),
        ("__import__('os').system('x')", "unexpected character '\\.'"),
        ("edu = 'a' or 1=1 --", "unexpected character '-'"),
        ("edu = 'a' or 1=1", "expected a column name"),
        ("age = `x`", "unexpected character '`'"),
        ("edu = 'unterminated", "unexpected character"),
        ("age = 1e999", "not finite"),
        ("age = " + "9" * 40, "too long"),
        ("edu = '" + "x" * 300 + "'", "longer than 256"),
        ("x" * 5000, "longer than 4096"),
        ("not " * 30 + "age = 1", "nests deeper than 24"),
        ("(" * 30 + "age = 1" + ")" * 30, "nests deeper than 24"),
        (" or ".join(["age = 1"] * 300), "too large"),
        ("age in (" + ", ".join(["1"] * 1001) + ")", "at most 1000 values"),
    ],
)
def test_hostile_and_malformed_input_is_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(PredicateError, match=message):
        predicate.parse(text)


def test_injection_looking_strings_are_just_literals() -> None:
    node = typed("edu = 'x'' or 1=1 --' and edu != '); DROP TABLE t; --'")
    assert node == And((Compare("edu", "=", "x' or 1=1 --"), Compare("edu", "!=", "); DROP TABLE t; --")))


def test_a_predicate_error_is_a_validation_error() -> None:
    assert issubclass(PredicateError, GatewayValidationError)
