import pytest

from gateway.core.datasets import ColumnType, DataFormat, Dataset
from gateway.core.spec import load_spec_text, parse_spec
from gateway.errors import GatewayValidationError, SpecError, UnknownColumnError

BASE = {
    "engine": "tumult",
    "dataset": "purchases",
    "analyst": "alice",
    "blocks": {"last": 3},
    "budget": {"epsilon": 0.5},
    "privacy_unit": "row",
    "aggregate": {"function": "sum", "column": "amount", "low": 0, "high": 100},
}
DATASET = Dataset(
    name="purchases",
    path="/x",
    format=DataFormat.PARQUET,
    time_column="day",
    columns={
        "user_id": ColumnType.STRING,
        "amount": ColumnType.DOUBLE,
        "region": ColumnType.STRING,
        "day": ColumnType.DATE,
        "qty": ColumnType.INTEGER,
    },
)


def spec(**changes):
    data = {**BASE, **changes}
    return parse_spec({k: v for k, v in data.items() if v is not None})


def test_valid_spec_round_trips_through_json():
    s = spec(group_by={"column": "region", "keys": ["a", "b"]}, client_id="q1")
    assert parse_spec(s.to_json()) == s
    s.check_against(DATASET)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epsilom": 1}, "unknown field"),
        ({"budget": {"epsilon": 0}}, "epsilon must be > 0"),
        ({"budget": {"epsilon": -1}}, "epsilon"),
        ({"budget": {"epsilon": float("nan")}}, "finite"),
        ({"budget": {"epsilon": float("inf")}}, "finite"),
        ({"budget": {"epsilon": 1, "delta": 1}}, "delta"),
        ({"budget": {"epsilon": 1, "delta": -0.1}}, "delta"),
        ({"engine": "opendp"}, "engine"),
        ({"blocks": {"from": "2026-10-05", "to": "2026-10-01"}}, "empty block range"),
        ({"blocks": {"last": 0}}, "blocks.last"),
        ({"blocks": {"last": 2, "from": "2026-10-01", "to": "2026-10-02"}}, "not both"),
        ({"aggregate": {"function": "sum", "column": "amount", "low": 5, "high": 1}}, "low < high"),
        ({"aggregate": {"function": "mean", "column": "amount"}}, "clamping bounds"),
        ({"aggregate": {"function": "count", "column": "amount"}}, "count takes no column"),
        ({"group_by": {"column": "region"}}, "keys"),
        ({"group_by": {"column": "region", "keys": []}}, "keys"),
        ({"group_by": "region"}, "keys"),
        ({"privacy_unit": {"id_column": "user_id"}}, "max_rows_per_id"),
        ({"privacy_unit": "user"}, "privacy_unit"),
        ({"client_id": "has space"}, "client_id"),
    ],
)
def test_bad_specs_get_one_clear_error(changes, message):
    with pytest.raises(SpecError, match=message):
        spec(**changes)


def test_malformed_yaml_is_a_spec_error():
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec_text("engine: [tumult\n")
    with pytest.raises(SpecError, match="mapping"):
        load_spec_text("- just a list")


@pytest.mark.parametrize(
    "changes",
    [
        {"aggregate": {"function": "sum", "column": "price", "low": 0, "high": 1}},
        {"privacy_unit": {"id_column": "customer", "max_rows_per_id": 2}},
        {"group_by": {"column": "country", "keys": ["x"]}},
    ],
)
def test_unknown_columns_are_named(changes):
    with pytest.raises(UnknownColumnError, match="its columns are"):
        spec(**changes).check_against(DATASET)


def test_column_types_are_checked():
    with pytest.raises(GatewayValidationError, match="numeric"):
        spec(aggregate={"function": "sum", "column": "region", "low": 0, "high": 1}).check_against(DATASET)
    with pytest.raises(GatewayValidationError, match="does not match"):
        spec(group_by={"column": "qty", "keys": ["a"]}).check_against(DATASET)
    spec(group_by={"column": "qty", "keys": [1, 2]}).check_against(DATASET)
