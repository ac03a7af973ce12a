"""The ``where:`` filter of a query spec: a small, bounded predicate language, parsed without ``eval``.

Grammar (keywords are case-insensitive)::

    expr       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" expr ")" | comparison
    comparison := column ( op literal
                         | ["not"] "in" "(" literal ("," literal)* ")"
                         | "is" ["not"] "null"
                         | ["not"] "between" literal "and" literal )
    op         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    column     := name | "quoted name"
    literal    := number | 'string' ('' inside is a quote) | true | false

The parser is a hand-written recursive descent over a token list, with hard limits on the text length,
the nesting depth, the number of nodes, ``IN`` list sizes and literal sizes, so hostile input costs
bounded work and never reaches Python's evaluator or SQL. The tree is compiled to Spark column
expressions with typed literals (``gateway.engines._prepare``), never to SQL text.

``check`` types every literal against the column's registered type: a date column compares with
``'YYYY-MM-DD'``, a timestamp with an ISO date-time, a boolean only with ``=``/``!=``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from gateway.core.datasets import ColumnType
from gateway.errors import GatewayValidationError, UnknownColumnError

MAX_TEXT = 4096
MAX_DEPTH = 24
MAX_NODES = 256
MAX_IN_LIST = 1000
MAX_STRING = 256
MAX_NUMBER_CHARS = 32

Literal = str | int | float | bool | dt.date | dt.datetime

_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_KEYWORDS = {"and", "or", "not", "in", "is", "null", "between", "true", "false"}
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
      | (?P<string>'(?:[^']|'')*')
      | (?P<quoted>"(?:[^"]|"")*")
      | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<op><=|>=|<>|!=|==|=|<|>)
      | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)


class PredicateError(GatewayValidationError):
    """The ``where`` text is not a valid predicate; the message says where and what is accepted."""


@dataclass(frozen=True)
class Compare:
    column: str
    op: str  # one of = != < <= > >=
    value: Literal


@dataclass(frozen=True)
class InList:
    column: str
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    column: str
    negated: bool = False


@dataclass(frozen=True)
class Between:
    column: str
    low: Literal
    high: Literal
    negated: bool = False


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Compare | InList | IsNull | Between | And | Or | Not


@dataclass(frozen=True)
class _Tok:
    kind: str  # number | string | name | keyword | op | punct | end
    text: str
    value: object
    pos: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            start = len(text) - len(text[pos:].lstrip())
            raise PredicateError(
                f"where: unexpected character {text[start]!r} at position {start + 1}; use column names, "
                "comparisons (= != < <= > >=), IN (...), IS [NOT] NULL, BETWEEN, AND, OR, NOT, parentheses "
                "and 'quoted' strings"
            )
        kind = match.lastgroup or ""
        raw = match.group(kind)
        start = match.start(kind)
        value: object = raw
        if kind == "number":
            if len(raw) > MAX_NUMBER_CHARS:
                raise PredicateError(
                    f"where: the number at position {start + 1} is too long (over {MAX_NUMBER_CHARS} characters)"
                )
            if re.fullmatch(r"[-+]?\d+", raw):
                value = int(raw)
            else:
                value = float(raw)
                if not math.isfinite(value):
                    raise PredicateError(f"where: the number at position {start + 1} is not finite")
        elif kind == "string":
            value = raw[1:-1].replace("''", "'")
            if len(value) > MAX_STRING:
                raise PredicateError(
                    f"where: the string at position {start + 1} is longer than {MAX_STRING} characters"
                )
        elif kind == "quoted":
            kind, value = "name", raw[1:-1].replace('""', '"')
        elif kind == "name" and raw.lower() in _KEYWORDS:
            kind, value = "keyword", raw.lower()
        out.append(_Tok(kind, raw, value, start))
        pos = match.end()
    out.append(_Tok("end", "", None, len(text)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.nodes = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def is_kw(self, word: str) -> bool:
        tok = self.peek()
        return tok.kind == "keyword" and tok.value == word

    def expect_kw(self, word: str, after: str) -> None:
        if not self.is_kw(word):
            self.fail(f"expected {word.upper()} {after}")
        self.take()

    def expect_punct(self, char: str, after: str) -> None:
        tok = self.peek()
        if tok.kind != "punct" or tok.value != char:
            self.fail(f"expected {char!r} {after}")
        self.take()

    def fail(self, expected: str) -> None:
        tok = self.peek()
        shown = "the end of the text" if tok.kind == "end" else repr(tok.text[:30])
        raise PredicateError(f"where: {expected}, found {shown} at position {tok.pos + 1}")

    def count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise PredicateError(f"where: the condition is too large (over {MAX_NODES} parts); simplify it")

    def parse(self) -> Node:
        node = self.or_expr(0)
        if self.peek().kind != "end":
            self.fail("expected AND, OR or the end of the condition")
        return node

    def or_expr(self, depth: int) -> Node:
        items = [self.and_expr(depth)]
        while self.is_kw("or"):
            self.take()
            items.append(self.and_expr(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self, depth: int) -> Node:
        items = [self.not_expr(depth)]
        while self.is_kw("and"):
            self.take()
            items.append(self.not_expr(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise PredicateError(f"where: the condition nests deeper than {MAX_DEPTH} levels; simplify it")
        self.count()
        if self.is_kw("not"):
            self.take()
            return Not(self.not_expr(depth + 1))
        tok = self.peek()
        if tok.kind == "punct" and tok.value == "(":
            self.take()
            node = self.or_expr(depth + 1)
            self.expect_punct(")", "to close the parenthesis")
            return node
        return self.comparison()

    def literal(self) -> Literal:
        tok = self.peek()
        if tok.kind in ("number", "string"):
            self.take()
            assert isinstance(tok.value, str | int | float)
            return tok.value
        if tok.kind == "keyword" and tok.value in ("true", "false"):
            self.take()
            return tok.value == "true"
        self.fail("expected a literal (a number, a 'quoted string', true or false)")
        raise AssertionError  # unreachable: fail raises

    def comparison(self) -> Node:
        tok = self.peek()
        if tok.kind != "name":
            self.fail("expected a column name")
        self.take()
        column = str(tok.value)
        nxt = self.peek()
        if nxt.kind == "op":
            self.take()
            return Compare(column, _OPS[nxt.text], self.literal())
        negated = False
        if self.is_kw("is"):
            self.take()
            if self.is_kw("not"):
                self.take()
                negated = True
            self.expect_kw("null", "after IS")
            return IsNull(column, negated)
        if self.is_kw("not"):
            self.take()
            negated = True
        if self.is_kw("in"):
            self.take()
            self.expect_punct("(", "after IN")
            values = [self.literal()]
            while self.peek().kind == "punct" and self.peek().value == ",":
                self.take()
                values.append(self.literal())
                if len(values) > MAX_IN_LIST:
                    raise PredicateError(f"where: an IN list holds at most {MAX_IN_LIST} values")
            self.expect_punct(")", "to close the IN list")
            return InList(column, tuple(values), negated)
        if self.is_kw("between"):
            self.take()
            low = self.literal()
            self.expect_kw("and", "between the BETWEEN bounds")
            return Between(column, low, self.literal(), negated)
        self.fail(f"expected a comparison after column {column!r} (= != < <= > >=, IN, IS NULL or BETWEEN)")
        raise AssertionError  # unreachable


def parse(text: str) -> Node:
    """The predicate tree of ``text`` (syntax only; ``check`` types it against a schema)."""
    if not isinstance(text, str) or not text.strip():
        raise PredicateError("where: give a condition such as \"age >= 18 and region in ('n', 's')\"")
    if len(text) > MAX_TEXT:
        raise PredicateError(f"where: the condition is longer than {MAX_TEXT} characters; simplify it")
    return _Parser(text).parse()


def columns_of(node: Node) -> list[str]:
    """Every column the predicate reads, each once, in order of appearance."""
    out: list[str] = []
    stack: list[Node] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, And | Or):
            stack.extend(reversed(item.items))
        elif isinstance(item, Not):
            stack.append(item.item)
        else:
            out.append(item.column)
    return list(dict.fromkeys(out))


def _typed(value: Literal, column: str, kind: ColumnType) -> Literal:
    def bad(expected: str) -> PredicateError:
        return PredicateError(f"where: column {column!r} is {kind.value}, so compare it with {expected}; got {value!r}")

    if kind is ColumnType.BOOLEAN:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if kind is ColumnType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("a whole number")
        if abs(value) >= 2**63:
            raise bad("a whole number that fits in 64 bits")
        return value
    if kind is ColumnType.DOUBLE:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("a number")
        return float(value)
    if kind is ColumnType.STRING:
        if not isinstance(value, str):
            raise bad("a 'quoted string'")
        return value
    if kind is ColumnType.DATE:
        if not isinstance(value, str):
            raise bad("a date 'YYYY-MM-DD'")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise bad("a date 'YYYY-MM-DD'") from None
    if not isinstance(value, str):
        raise bad("a date-time 'YYYY-MM-DDTHH:MM:SS' (UTC)")
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        raise bad("a date-time 'YYYY-MM-DDTHH:MM:SS' (UTC)") from None
    return stamp if stamp.tzinfo is None else stamp.astimezone(dt.UTC).replace(tzinfo=None)


def check(node: Node, columns: dict[str, ColumnType]) -> Node:
    """``node`` with every literal typed for its column; unknown columns and mismatches are refused."""

    def kind_of(column: str) -> ColumnType:
        if column not in columns:
            raise UnknownColumnError(
                f"where: column {column!r} is not in the data set (or derived); its columns are: {', '.join(columns)}"
            )
        return columns[column]

    def walk(item: Node) -> Node:
        if isinstance(item, And):
            return And(tuple(walk(i) for i in item.items))
        if isinstance(item, Or):
            return Or(tuple(walk(i) for i in item.items))
        if isinstance(item, Not):
            return Not(walk(item.item))
        kind = kind_of(item.column)
        if isinstance(item, IsNull):
            return item
        if isinstance(item, Compare):
            if kind is ColumnType.BOOLEAN and item.op not in ("=", "!="):
                raise PredicateError(f"where: boolean column {item.column!r} takes only = or != comparisons")
            return Compare(item.column, item.op, _typed(item.value, item.column, kind))
        if isinstance(item, InList):
            return InList(item.column, tuple(_typed(v, item.column, kind) for v in item.values), item.negated)
        if kind is ColumnType.BOOLEAN:
            raise PredicateError(f"where: boolean column {item.column!r} cannot be used with BETWEEN")
        return Between(
            item.column, _typed(item.low, item.column, kind), _typed(item.high, item.column, kind), item.negated
        )

    return walk(node)
