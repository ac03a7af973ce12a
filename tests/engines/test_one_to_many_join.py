"""One-to-many joins with a public table (``join.matches: many``) on local Spark, both engines.

Rows as the privacy unit: a product row meets up to M = 3 tag rows, so one private row can add 3 rows to
the counts; the noise must be calibrated to 3 (the public table's largest key multiplicity), which the
library's own planned noise shows, and the answer must be the true joined count within 5 of those noise
standard deviations. With an id unit the per-id cap after the join is what counts. A lookup
(``matches: one``) still refuses a table that holds a key twice.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway.core.datasets import ColumnType, DataFormat, Dataset
from gateway.core.jobs import GrantedBudget, JobRequest
from gateway.core.spec import parse_spec
from gateway.engines import engine_for
from gateway.errors import GatewayValidationError
from gateway.runtime.reader import read_granted_blocks, spec_columns
from tests.engines.test_calibration import geometric_sd, laplace_sd

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:In Python 3.6\\+ and Spark 3.0\\+:UserWarning"),
    pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:path is deprecated:DeprecationWarning"),
]

DAY = dt.date(2026, 10, 1)
ROWS = {"p1": 60, "p2": 40, "p3": 30, "p9": 25}  # private rows per product (p9 has no tag)
TAGS = [("p1", "a"), ("p1", "b"), ("p1", "c"), ("p2", "a"), ("p3", "b"), ("p3", "c"), ("p4", "a")]
M = 3  # p1 has three tags: the largest key multiplicity of the public table
EPS = 3.0


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, Dataset, Dataset]:
    root = tmp_path_factory.mktemp("one_to_many")
    products = [p for p, n in ROWS.items() for _ in range(n)]
    users = [f"u{i}" for i in range(len(products))]
    orders = root / "orders.parquet"
    pq.write_table(pa.table({"day": [DAY] * len(products), "user": users, "product": products}), orders)
    tags = root / "tags.parquet"
    pq.write_table(pa.table({"product": [p for p, _ in TAGS], "tag": [t for _, t in TAGS]}), tags)
    doubled = root / "doubled.parquet"
    pq.write_table(pa.table({"product": ["p1", "p1"], "shelf": ["x", "y"]}), doubled)
    data = Dataset(
        name="orders",
        path=str(orders),
        format=DataFormat.PARQUET,
        time_column="day",
        columns={"day": ColumnType.DATE, "user": ColumnType.STRING, "product": ColumnType.STRING},
    )
    tag_table = Dataset(
        name="tags",
        path=str(tags),
        format=DataFormat.PARQUET,
        public=True,
        columns={"product": ColumnType.STRING, "tag": ColumnType.STRING},
    )
    shelf_table = Dataset(
        name="shelves",
        path=str(doubled),
        format=DataFormat.PARQUET,
        public=True,
        columns={"product": ColumnType.STRING, "shelf": ColumnType.STRING},
    )
    return data, tag_table, shelf_table


def run(spark: Any, tmp_path: Path, tables: tuple[Dataset, ...], doc: dict[str, Any]) -> Any:
    data, *public = tables
    spec = parse_spec({"dataset": "orders", "analyst": "ana", "blocks": {"last": 1}, "budget": {"epsilon": EPS}, **doc})
    by_name = {t.name: t for t in public}
    spec.check_against(data, by_name)
    request = JobRequest(
        submission_id="join-1",
        spec=spec,
        dataset=data,
        blocks=(DAY,),
        granted=GrantedBudget.of(spec.demand),
        output=str(tmp_path / "outcome.json"),
        public_tables={n: t for n, t in by_name.items() if spec.join is not None and n == spec.join.table},
    )
    df = read_granted_blocks(spark, data, request.blocks, columns=spec_columns(spec, data))
    answer = engine_for(spec.engine).run(df, request)
    assert answer.spent == request.granted.to_budget()
    return answer


def by_tag(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        **doc,
        "join": {"table": "tags", "on": ["product"], "matches": "many"},
        "aggregate": {"function": "count"},
        "group_by": {"column": "tag", "keys": ["a", "b", "c"]},
    }


TRUE_COUNTS = [60 + 40, 60 + 30, 60 + 30]  # a: p1 + p2; b: p1 + p3; c: p1 + p3 (p9 has no tag: inner join)


@pytest.mark.parametrize("engine", ["tumult", "pipelinedp"])
def test_rows_as_unit_noise_scales_with_the_largest_key_multiplicity(
    spark: Any, tmp_path: Path, tables: tuple[Dataset, ...], engine: str
) -> None:
    answer = run(spark, tmp_path, tables, by_tag({"engine": engine, "privacy_unit": "row"}))
    (count,) = answer.answers
    expected_sd = geometric_sd(M, EPS) if engine == "tumult" else laplace_sd(M, EPS)
    assert count.noise_sd == pytest.approx(expected_sd, rel=1e-6)  # calibrated to M = 3 rows, not 1
    assert count.caps == f"each row with its join matches at most {M} rows"
    assert any(f"at most {M} of its rows" in note for note in answer.notes)
    for got, truth in zip(count.values, TRUE_COUNTS, strict=True):
        assert abs(got.value - truth) <= 5 * expected_sd, (engine, got, truth)


@pytest.mark.parametrize("engine", ["tumult", "pipelinedp"])
def test_an_id_unit_is_bounded_per_id_after_the_join(
    spark: Any, tmp_path: Path, tables: tuple[Dataset, ...], engine: str
) -> None:
    """Each user has one order, so after the join at most 3 rows: a cap of 3 per id drops nothing."""
    doc = by_tag({"engine": engine, "privacy_unit": {"id_column": "user", "max_rows_per_id": M}})
    answer = run(spark, tmp_path, tables, doc)
    (count,) = answer.answers
    expected_sd = geometric_sd(M, EPS) if engine == "tumult" else laplace_sd(M, EPS)
    assert count.noise_sd == pytest.approx(expected_sd, rel=1e-6)
    for got, truth in zip(count.values, TRUE_COUNTS, strict=True):
        assert abs(got.value - truth) <= 5 * expected_sd, (engine, got, truth)


def test_a_lookup_still_refuses_a_table_holding_a_key_twice(
    spark: Any, tmp_path: Path, tables: tuple[Dataset, ...]
) -> None:
    doc = {
        "engine": "pipelinedp",
        "privacy_unit": "row",
        "join": {"table": "shelves", "on": ["product"]},
        "aggregate": {"function": "count"},
    }
    with pytest.raises(GatewayValidationError, match="more than once"):
        run(spark, tmp_path, tables, doc)
    many = run(spark, tmp_path, tables, {**doc, "join": {**doc["join"], "matches": "many"}})
    assert many.answers[0].noise_sd == pytest.approx(laplace_sd(2, EPS), rel=1e-6)  # p1 is on two shelves
    assert abs(many.values[0].value - 2 * ROWS["p1"]) <= 5 * laplace_sd(2, EPS)
