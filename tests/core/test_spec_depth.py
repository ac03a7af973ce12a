"""The richer spec: where, derive, several aggregates, several group-by columns, per-group bounds,
and the capability check that refuses what an engine cannot answer."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.core.capabilities import CAPABILITIES, markdown_table
from gateway.core.datasets import ColumnType, DataFormat, Dataset
from gateway.core.spec import QuerySpec, load_spec_text, parse_spec
from gateway.errors import GatewayValidationError, SpecError, UnknownColumnError

DATASET = Dataset(
    name="people",
    path="/x",
    format=DataFormat.PARQUET,
    time_column="day",
    columns={
        "user": ColumnType.STRING,
        "age": ColumnType.INTEGER,
        "edu_level": ColumnType.STRING,
        "region": ColumnType.STRING,
        "amount": ColumnType.DOUBLE,
        "day": ColumnType.DATE,
    },
)

EXAMPLE = """
engine: tumult
dataset: people
blocks: {last: 7}
budget: {epsilon: 1}
privacy_unit: {id_column: user}
where: "age >= 18 and edu_level in ('masters', 'doctorate')"
derive:
  - {bin: {column: age, edges: [0, 18, 30, 50, 120], as: age_group}}
  - {date_part: {column: day, part: weekday, as: wd}}
aggregates:
  - {function: count, budget_share: 0.5}
  - {function: quantile, column: amount, low: 0, high: 500, q: 0.5, budget_share: 0.5}
group_by: {columns: [region, age_group], keys: {region: [n, s], age_group: [18-30, 30-50, 50-120]}}
contribution: {max_groups_per_id: 3, max_rows_per_group_per_id: 2}
"""


def example(**changes: Any) -> QuerySpec:
    import yaml

    data = yaml.safe_load(EXAMPLE)
    data.update(changes)
    return parse_spec({k: v for k, v in data.items() if v is not None})


def test_the_readme_example_parses_checks_and_round_trips() -> None:
    spec = load_spec_text(EXAMPLE)
    spec.check_against(DATASET)
    assert parse_spec(spec.to_json()) == spec
    assert [a.label for a in spec.all_aggregates] == ["count", "quantile(amount, 0.5)"]
    assert spec.group_by is not None and spec.group_by.combinations == [
        ("n", "18-30"),
        ("n", "30-50"),
        ("n", "50-120"),
        ("s", "18-30"),
        ("s", "30-50"),
        ("s", "50-120"),
    ]
    assert spec.summary.startswith("count(*), quantile(amount, 0.5) by region, age_group where age >= 18")


def test_keys_as_combinations_and_one_aggregate_keep_working() -> None:
    spec = example(
        aggregates=None,
        aggregate={"function": "count"},
        group_by={"columns": ["region", "wd"], "keys": [["n", 1], ["s", 7]]},
    )
    spec.check_against(DATASET)
    assert spec.group_by is not None and spec.group_by.combinations == [("n", 1), ("s", 7)]
    assert spec.share(spec.first) == Decimal(1)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"aggregate": {"function": "count"}}, "not both"),
        (
            {
                "aggregates": [
                    {"function": "count", "budget_share": 0.5},
                    {"function": "sum", "column": "amount", "low": 0, "high": 1, "budget_share": 0.4},
                ]
            },
            "must sum to 1, got 0.9",
        ),
        ({"aggregates": [{"function": "count"}, {"function": "privacy_id_count"}]}, "each needs a budget_share"),
        (
            {"aggregates": [{"function": "count", "budget_share": 0.5}, {"function": "count", "budget_share": 0.5}]},
            "each aggregate appears once",
        ),
        (
            {"aggregates": [{"function": "quantile", "column": "amount", "low": 0, "high": 1, "budget_share": 1}]},
            "quantile needs 'q'",
        ),
        (
            {
                "aggregates": [
                    {"function": "median", "column": "amount", "low": 0, "high": 1, "q": 0.3, "budget_share": 1}
                ]
            },
            "takes no 'q'",
        ),
        (
            {
                "aggregates": [
                    {"function": "count_distinct", "column": "region", "low": 0, "high": 1, "budget_share": 1}
                ]
            },
            "count_distinct takes no bounds",
        ),
        ({"privacy_unit": "row"}, "contribution bounds need an id privacy unit"),
        ({"group_by": None}, "contribution bounds are per group"),
        ({"privacy_unit": {"id_column": "user", "max_rows_per_id": 3}}, "not both"),
        ({"contribution": None}, "needs both id_column and max_rows_per_id"),
        ({"group_by": {"columns": ["region", "age_group"], "keys": {"region": ["n"]}}}, "one key list per column"),
        ({"group_by": {"columns": ["region", "age_group"], "keys": [["n"]]}}, "one value per column"),
        ({"group_by": {"columns": ["region", "region"], "keys": [["n", "s"]]}}, "distinct"),
        ({"group_by": {"columns": ["region", "age_group"], "keys": ["n", "s"]}}, "several group-by columns take"),
        ({"group_by": {"column": "region", "columns": ["age_group"], "keys": ["n"]}}, "not both"),
        ({"group_by": {"columns": ["region", "age_group"], "keys": [["n", "a"], ["n", "a"]]}}, "unique"),
        ({"derive": [{"bin": {"column": "age", "edges": [0, 18, 18], "as": "g"}}]}, "strictly increasing"),
        ({"derive": [{"bin": {"column": "age", "edges": [0, 1, 2], "labels": ["a"], "as": "g"}}]}, "one label"),
        (
            {
                "derive": [
                    {
                        "bin": {"column": "age", "edges": [0, 1], "as": "g"},
                        "date_part": {"column": "day", "part": "year", "as": "y"},
                    }
                ]
            },
            "each derive entry is one of",
        ),
        ({"derive": [{"date_part": {"column": "day", "part": "week", "as": "w"}}]}, "derive\\[0\\].date_part.part"),
        ({"where": "age >>= 3"}, "where: expected a literal"),
    ],
)
def test_bad_shapes_get_one_clear_error_naming_the_field(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        example(**changes)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"where": "salary > 3"}, UnknownColumnError, "where: column 'salary'"),
        ({"where": "age > 'old'"}, GatewayValidationError, "compare it with a whole number"),
        ({"where": "wd = 1 and age_group = '18-30'"}, None, ""),  # derived columns can be filtered on
        (
            {"derive": [{"bin": {"column": "region", "edges": [0, 1], "as": "g"}}]},
            GatewayValidationError,
            "cannot bin column 'region'",
        ),
        (
            {"derive": [{"date_part": {"column": "day", "part": "hour", "as": "h"}}]},
            GatewayValidationError,
            "has no hour",
        ),
        (
            {"derive": [{"bin": {"column": "age", "edges": [0, 1], "as": "region"}}]},
            GatewayValidationError,
            "already exists",
        ),
        ({"derive": [{"bin": {"column": "nope", "edges": [0, 1], "as": "g"}}]}, UnknownColumnError, "'nope'"),
        (
            {"group_by": {"columns": ["region", "age"], "keys": {"region": ["n"], "age": ["x"]}}},
            GatewayValidationError,
            "group-by key 'x' does not match column 'age'",
        ),
        (
            {"group_by": {"columns": ["region", "amount"], "keys": {"region": ["n"], "amount": [1]}}},
            GatewayValidationError,
            "cannot group by column 'amount' of type double",
        ),
        (
            {"aggregates": [{"function": "median", "column": "region", "low": 0, "high": 1, "budget_share": 1}]},
            GatewayValidationError,
            "cannot median column 'region'",
        ),
        ({"privacy_unit": {"id_column": "who"}}, UnknownColumnError, "'who'"),
    ],
)
def test_columns_and_literals_are_checked_against_the_schema(
    changes: dict[str, Any], error: type[Exception] | None, message: str
) -> None:
    if "derive" not in changes:
        changes = {"derive": yaml_derive(), **changes}
    spec = example(**changes)
    if error is None:
        spec.check_against(DATASET)
        return
    with pytest.raises(error, match=message):
        spec.check_against(DATASET)


def yaml_derive() -> list[dict[str, Any]]:
    return [
        {"bin": {"column": "age", "edges": [0, 18, 30, 50, 120], "as": "age_group"}},
        {"date_part": {"column": "day", "part": "weekday", "as": "wd"}},
    ]


@pytest.mark.parametrize(
    ("aggregate", "feature"),
    [
        ({"function": "count_distinct", "column": "region"}, "count_distinct"),
        ({"function": "min", "column": "amount", "low": 0, "high": 1}, "min"),
        ({"function": "max", "column": "amount", "low": 0, "high": 1}, "max"),
        ({"function": "stdev", "column": "amount", "low": 0, "high": 1}, "stdev"),
    ],
)
def test_an_engine_refuses_what_it_cannot_answer_and_names_the_one_that_can(
    aggregate: dict[str, Any], feature: str
) -> None:
    spec = example(engine="pipelinedp", aggregates=[{**aggregate, "budget_share": 1}])
    with pytest.raises(GatewayValidationError, match=f"engine pipelinedp cannot answer {feature}; use engine: tumult"):
        spec.check_against(DATASET)
    example(
        engine="tumult",
        aggregates=[{**aggregate, "budget_share": 1}],
        contribution=None,
        privacy_unit={"id_column": "user", "max_rows_per_id": 2},
    ).check_against(DATASET)


def test_every_aggregate_function_is_in_the_capability_table() -> None:
    from gateway.core.spec import AggregateFunction

    assert {f.value for f in AggregateFunction} <= set(CAPABILITIES)


def test_the_readme_capability_table_is_generated_from_the_code() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- capabilities:start -->\n(.*?)\n<!-- capabilities:end -->", readme, re.DOTALL)
    assert found is not None, "the README lacks the capability table markers"
    assert found.group(1).strip() == markdown_table()


def test_private_keys_need_delta_and_one_aggregate_and_are_pipelinedp_only() -> None:
    private = {"columns": ["region", "age_group"], "keys": "private"}
    with pytest.raises(SpecError, match="needs delta > 0"):
        example(group_by=private)
    with pytest.raises(SpecError, match="takes one aggregate"):
        example(group_by=private, budget={"epsilon": 1, "delta": 1e-6})
    one = {"aggregates": None, "aggregate": {"function": "count"}, "budget": {"epsilon": 1, "delta": 1e-6}}
    spec = example(group_by=private, **one)
    with pytest.raises(GatewayValidationError, match="engine tumult cannot answer group keys selected privately"):
        spec.check_against(DATASET)
    example(group_by=private, engine="pipelinedp", **one).check_against(DATASET)
    with pytest.raises(SpecError, match=r'group_by\.keys: got "privat"'):
        example(group_by={"column": "region", "keys": "privat"}, **one)


def test_keys_from_a_public_table_are_checked_against_its_columns() -> None:
    regions = Dataset(
        name="regions", path="/r", format=DataFormat.PARQUET, public=True, columns={"region": ColumnType.STRING}
    )
    numbered = regions.model_copy(update={"name": "numbered", "columns": {"region": ColumnType.INTEGER}})
    private = DATASET.model_copy(update={"name": "private"})
    tables = {"regions": regions, "numbered": numbered, "private": private}
    one = {"aggregates": None, "aggregate": {"function": "count"}, "contribution": None, "privacy_unit": "row"}
    example(group_by={"column": "region", "keys": {"from": "regions"}}, **one).check_against(DATASET, tables)
    with pytest.raises(
        GatewayValidationError, match="needs column 'region' of type string; its columns are: region:integer"
    ):
        example(group_by={"column": "region", "keys": {"from": "numbered"}}, **one).check_against(DATASET, tables)
    with pytest.raises(GatewayValidationError, match="'private' is not a registered public table"):
        example(group_by={"column": "region", "keys": {"from": "private"}}, **one).check_against(DATASET, tables)
    with pytest.raises(GatewayValidationError, match="a data set with privacy blocks needs a time column"):
        Dataset(name="x", path="/x", format=DataFormat.PARQUET, columns={"a": ColumnType.STRING})


def test_a_join_adds_the_public_tables_columns_and_is_checked() -> None:
    zones = Dataset(
        name="zones",
        path="/z",
        format=DataFormat.PARQUET,
        public=True,
        columns={"region": ColumnType.STRING, "zone": ColumnType.STRING},
    )
    one = {"aggregates": None, "aggregate": {"function": "count"}, "contribution": None, "privacy_unit": "row"}
    joined = {"join": {"table": "zones", "on": ["region"]}, "where": "zone = 'cold'"}
    spec = example(group_by={"column": "zone", "keys": ["cold"]}, **one, **joined)
    spec.check_against(DATASET, {"zones": zones})
    assert spec.schema_with_derived(DATASET, {"zones": zones})["zone"] is ColumnType.STRING
    from gateway.runtime.reader import spec_columns

    assert "zone" not in spec_columns(spec, DATASET) and "region" in spec_columns(spec, DATASET)
    with pytest.raises(GatewayValidationError, match=r"join\.table: 'zones' is not a registered public table"):
        spec.check_against(DATASET, {})
    clash = zones.model_copy(update={"columns": {**zones.columns, "age": ColumnType.INTEGER}})
    with pytest.raises(GatewayValidationError, match="both have column\\(s\\) age"):
        spec.check_against(DATASET, {"zones": clash})
    with pytest.raises(GatewayValidationError, match=r"join\.on: column 'zone' must be in data set"):
        example(**one, join={"table": "zones", "on": ["zone"]}).check_against(DATASET, {"zones": zones})


def test_the_job_gets_the_public_tables_its_spec_names() -> None:
    from gateway.core.ledger import LedgerState, public_tables_of
    from gateway.core.scheduling import PolicySettings

    zones = Dataset(
        name="zones", path="/z", format=DataFormat.PARQUET, public=True, columns={"region": ColumnType.STRING}
    )
    state = LedgerState(PolicySettings(policy="fcfs")).with_(datasets=[DATASET, zones])
    one = {"aggregates": None, "aggregate": {"function": "count"}, "contribution": None, "privacy_unit": "row"}
    spec = example(
        **one, join={"table": "zones", "on": ["region"]}, group_by={"column": "region", "keys": {"from": "zones"}}
    )
    assert public_tables_of(state, spec) == {"zones": zones}


@pytest.mark.parametrize(
    "group_by",
    [
        {"columns": ["region", "edu_level"], "keys": {"region": ["n\x1fs"], "edu_level": ["x"]}},
        {"columns": ["region", "edu_level"], "keys": [["n", "x\x1f"], ["s", "y"]]},
        {"column": "region", "keys": ["\x1f"]},
    ],
)
def test_a_declared_key_holding_the_internal_separator_is_refused(group_by: dict[str, Any]) -> None:
    """("a\\x1fb", "c") and ("a", "b\\x1fc") would encode to one internal key: such keys are refused at parse."""
    with pytest.raises(SpecError, match="U\\+001F"):
        example(group_by=group_by)
    fine = example(group_by={"columns": ["region", "edu_level"], "keys": [["n\x1e", "x"], ["s", "y"]]})
    assert fine.group_by is not None and len(fine.group_by.combinations) == 2
