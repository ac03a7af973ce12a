"""End to end on local Spark: the richer spec (where, derive, several group-by columns, per-group
bounds, several aggregates with a budget split, the new functions) on both engines, each private
answer compared with the true answer after truncation within 5 noise standard deviations, and the
noise of per-group bounds calibrated against its closed form."""

# ruff: noqa: RUF002  (the statistics read best in their own symbols)
from __future__ import annotations

import math
import statistics
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.core.jobs import GrantedBudget, JobRequest
from gateway.core.spec import parse_spec
from gateway.engines import engine_for
from gateway.runtime.reader import read_granted_blocks, spec_columns
from tests.engines.test_calibration import ABSENT, LOWER, UPPER, geometric_sd, laplace_sd

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:In Python 3.6\\+ and Spark 3.0\\+:UserWarning"),
    pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:path is deprecated:DeprecationWarning"),
]

GROUPS, ROWS = 2, 3  # contribution: max_groups_per_id, max_rows_per_group_per_id


def request_for(sales: Any, tmp_path: Path, doc: dict[str, Any]) -> JobRequest:
    spec = parse_spec({"dataset": "sales", "analyst": "ana", "blocks": {"last": 3}, **doc})
    spec.check_against(sales.parquet)
    return JobRequest(
        submission_id="depth-1",
        spec=spec,
        dataset=sales.parquet,
        blocks=sales.granted,
        granted=GrantedBudget.of(spec.demand),
        output=str(tmp_path / "outcome.json"),
    )


def run(spark: Any, request: JobRequest) -> Any:
    df = read_granted_blocks(spark, request.dataset, request.blocks, columns=spec_columns(request.spec))
    answer = engine_for(request.spec.engine).run(df, request)
    assert answer.spent == request.granted.to_budget()  # the receipt is the accountant's spend: all of it
    shares = math.fsum(float(a.spent.epsilon) for a in answer.answers)
    assert shares == pytest.approx(float(request.granted.epsilon), rel=1e-9)
    return answer


def clamp(x: float) -> float:
    return min(max(x, 0.0), 100.0)


RICH = {
    "privacy_unit": {"id_column": "user"},
    "where": "region in ('north', 'south') and (amount >= 10 or amount is null)",
    "derive": [{"bin": {"column": "visits", "edges": [0, 2, 4], "labels": ["low", "high"], "as": "vb"}}],
    "aggregates": [
        {"function": "count", "budget_share": 0.5},
        {"function": "sum", "column": "amount", "low": 0, "high": 100, "budget_share": 0.5},
    ],
    "group_by": {"columns": ["region", "vb"], "keys": {"region": ["north", "south", "east"], "vb": ["low", "high"]}},
    "contribution": {"max_groups_per_id": GROUPS, "max_rows_per_group_per_id": ROWS},
    "budget": {"epsilon": 60},
}


def rich_truth(sales: Any) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], float]]:
    """Count and sum per (region, visits bin) after the filter and the per-group truncation.

    Every id but the whale has one row; the whale's 40 identical rows fall in one group and keep 3.
    """
    counts: dict[tuple[str, str], float] = {(r, b): 0.0 for r in ("north", "south", "east") for b in ("low", "high")}
    sums = dict(counts)
    kept: dict[str, int] = {}
    for row in sales.granted_rows():
        amount = row["amount"]
        if row["region"] not in ("north", "south") or not (amount is None or amount >= 10):
            continue
        kept[row["user"]] = kept.get(row["user"], 0) + 1
        if kept[row["user"]] > ROWS:
            continue
        key = (row["region"], "low" if row["visits"] < 2 else "high")
        counts[key] += 1
        if amount is not None:
            sums[key] += clamp(amount)
    return counts, sums


@pytest.mark.parametrize("engine", ["tumult", "pipelinedp"])
def test_filter_derive_two_group_columns_per_group_bounds_and_two_aggregates(
    spark: Any, sales: Any, tmp_path: Path, engine: str
) -> None:
    request = request_for(sales, tmp_path, {"engine": engine, **RICH})
    answer = run(spark, request)
    counts, sums = rich_truth(sales)
    per_aggregate_eps = 30.0
    sensitivity = GROUPS * ROWS
    count_sd = (
        geometric_sd(sensitivity, per_aggregate_eps)
        if engine == "tumult"
        else laplace_sd(sensitivity, per_aggregate_eps)
    )
    sum_sd = laplace_sd(sensitivity * 100.0, per_aggregate_eps)
    count_answer, sum_answer = answer.answers
    assert [count_answer.name, sum_answer.name] == ["count", "sum(amount)"]
    assert count_answer.budget_share == sum_answer.budget_share == Decimal("0.5")
    assert count_answer.caps == f"each user in at most {GROUPS} groups, at most {ROWS} rows per group"
    assert count_answer.noise_sd == pytest.approx(count_sd, rel=1e-6)
    assert sum_answer.noise_sd == pytest.approx(sum_sd, rel=1e-6)
    assert [v.key for v in answer.values] == [list(k) for k in counts]
    assert answer.values == count_answer.values
    for got, (key, truth) in zip(count_answer.values, counts.items(), strict=True):
        assert abs(got.value - truth) <= 5 * count_sd, (key, got.value, truth)
    for got, (key, truth) in zip(sum_answer.values, sums.items(), strict=True):
        assert abs(got.value - truth) <= 5 * sum_sd, (key, got.value, truth)
    assert counts[("north", "high")] > 20 and sums[("north", "high")] > 1000  # the test is not vacuous


def by_region(sales: Any) -> dict[str, list[dict[str, Any]]]:
    """Granted rows of north and south, the whale truncated to 3 rows (``max_rows_per_id``)."""
    out: dict[str, list[dict[str, Any]]] = {"north": [], "south": []}
    kept: dict[str, int] = {}
    for row in sales.granted_rows():
        if row["region"] not in out:
            continue
        kept[row["user"]] = kept.get(row["user"], 0) + 1
        if kept[row["user"]] <= sales.cap:
            out[row["region"]].append(row)
    return out


FUNCTIONS_BASE = {
    "privacy_unit": {"id_column": "user", "max_rows_per_id": 3},
    "group_by": {"column": "region", "keys": ["north", "south"]},
    "budget": {"epsilon": 100},
}


def test_tumult_privacy_id_count_count_distinct_median_min_max(spark: Any, sales: Any, tmp_path: Path) -> None:
    share = 0.2
    doc = {
        "engine": "tumult",
        **FUNCTIONS_BASE,
        "aggregates": [
            {"function": "privacy_id_count", "budget_share": share},
            {"function": "count_distinct", "column": "visits", "budget_share": share},
            {"function": "median", "column": "amount", "low": 0, "high": 100, "budget_share": share},
            {"function": "min", "column": "amount", "low": 0, "high": 100, "budget_share": share},
            {"function": "max", "column": "amount", "low": 0, "high": 100, "budget_share": share},
        ],
    }
    answer = run(spark, request_for(sales, tmp_path, doc))
    rows = by_region(sales)
    ids, distinct, median, low, high = answer.answers
    for i, region in enumerate(("north", "south")):
        values = sorted(clamp(r["amount"]) for r in rows[region] if r["amount"] is not None)
        true_ids = len({r["user"] for r in rows[region]})
        assert ids.noise_sd is not None and abs(ids.values[i].value - true_ids) <= max(5 * ids.noise_sd, 1)
        assert abs(distinct.values[i].value - len({r["visits"] for r in rows[region]})) <= 1.5
        # Quantiles use the exponential mechanism (no closed-form noise): within 10 of the truth at ε=20.
        assert abs(median.values[i].value - statistics.median(values)) <= 10, region
        assert abs(low.values[i].value - values[0]) <= 10, region
        assert abs(high.values[i].value - values[-1]) <= 10, region
        assert 0 <= low.values[i].value <= median.values[i].value <= high.values[i].value <= 100


def test_pipelinedp_privacy_id_count_quantile_and_median(spark: Any, sales: Any, tmp_path: Path) -> None:
    doc = {
        "engine": "pipelinedp",
        **FUNCTIONS_BASE,
        "aggregates": [
            {"function": "privacy_id_count", "budget_share": 0.4},
            {"function": "median", "column": "amount", "low": 0, "high": 100, "budget_share": 0.3},
            {"function": "quantile", "column": "amount", "low": 0, "high": 100, "q": 0.9, "budget_share": 0.3},
        ],
    }
    answer = run(spark, request_for(sales, tmp_path, doc))
    ids, median, q90 = answer.answers
    assert [a.spent.epsilon for a in answer.answers] == [Decimal("40"), Decimal("30"), Decimal("30")]
    assert ids.noise_sd == pytest.approx(laplace_sd(sales.cap, 40), rel=1e-6)
    rows = by_region(sales)
    for i, region in enumerate(("north", "south")):
        values = sorted(clamp(r["amount"]) for r in rows[region] if r["amount"] is not None)
        assert abs(ids.values[i].value - len({r["user"] for r in rows[region]})) <= 5 * ids.noise_sd
        assert abs(median.values[i].value - statistics.median(values)) <= 15, region
        assert abs(q90.values[i].value - statistics.quantiles(values, n=10)[-1]) <= 15, region


@pytest.mark.parametrize("engine", ["tumult", "pipelinedp"])
def test_count_noise_with_per_group_bounds_matches_its_closed_form(
    spark: Any, sales: Any, tmp_path: Path, engine: str
) -> None:
    """600 absent keys give pure-noise samples; the sensitivity is max_groups × max_rows_per_group = 6."""
    doc = {
        "engine": engine,
        "privacy_unit": {"id_column": "user"},
        "aggregate": {"function": "count"},
        "group_by": {"column": "region", "keys": ABSENT},
        "contribution": {"max_groups_per_id": 3, "max_rows_per_group_per_id": 2},
        "budget": {"epsilon": 1},
    }
    answer = run(spark, request_for(sales, tmp_path, doc))
    samples = [v.value for v in answer.values]
    rms = math.sqrt(math.fsum(x * x for x in samples) / len(samples))
    sigma = geometric_sd(6, 1.0) if engine == "tumult" else laplace_sd(6, 1.0)
    assert answer.answers[0].noise_sd == pytest.approx(sigma, rel=1e-6)
    assert LOWER <= rms / sigma <= UPPER, f"{engine}: noise sd {rms:.4g} vs theory {sigma:.4g}"


def test_pipelinedp_selects_unknown_groups_privately_on_two_columns(spark: Any, sales: Any, tmp_path: Path) -> None:
    """``keys: private``: the groups present in the data (region × member) come back, typed like their
    columns; the declared-but-absent region "west" cannot appear (it has no rows)."""
    doc = {
        "engine": "pipelinedp",
        "privacy_unit": "row",
        "aggregate": {"function": "count"},
        "group_by": {"columns": ["region", "member"], "keys": "private"},
        "budget": {"epsilon": 20, "delta": 1e-5},
    }
    answer = run(spark, request_for(sales, tmp_path, doc))
    truth: dict[tuple[str, bool], int] = {}
    for row in sales.granted_rows():
        key = (row["region"], row["member"])
        truth[key] = truth.get(key, 0) + 1
    got = {tuple(v.key): v.value for v in answer.values}
    assert set(got) == set(truth)  # every group has 30+ rows: far above the selection threshold at ε=10
    sd = answer.answers[0].noise_sd
    assert sd is not None
    for key, value in got.items():
        assert abs(value - truth[key]) <= 5 * sd, (key, value, truth[key])
    assert any("selected from the data with DP" in note for note in answer.notes)


def test_a_lookup_join_with_a_public_table_feeds_filter_and_group_by(spark: Any, sales: Any, tmp_path: Path) -> None:
    """Regions map to zones in a public table; the count by zone (east has no zone: the inner join drops
    it) matches the truth within 5 noise sd, and a table with a duplicated key is refused."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gateway.core.datasets import ColumnType, Dataset
    from gateway.errors import GatewayValidationError

    def table(name: str, regions: list[str], zones: list[str]) -> Dataset:
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table({"region": regions, "zone": zones}), path)
        columns = {"region": ColumnType.STRING, "zone": ColumnType.STRING}
        return Dataset(name=name, path=str(path), format="parquet", public=True, columns=columns)

    zones = table("zones", ["north", "south", "west"], ["cold", "warm", "warm"])
    doc = {
        "engine": "tumult",
        "privacy_unit": "row",
        "join": {"table": "zones", "on": ["region"]},
        "where": "zone != 'none'",
        "aggregate": {"function": "count"},
        "group_by": {"column": "zone", "keys": ["cold", "warm"]},
        "budget": {"epsilon": 10},
    }
    spec = parse_spec({"dataset": "sales", "analyst": "ana", "blocks": {"last": 3}, **doc})
    spec.check_against(sales.parquet, {"zones": zones})
    request = JobRequest(
        submission_id="join-1",
        spec=spec,
        dataset=sales.parquet,
        blocks=sales.granted,
        granted=GrantedBudget.of(spec.demand),
        output=str(tmp_path / "outcome.json"),
        public_tables={"zones": zones},
    )
    df = read_granted_blocks(spark, request.dataset, request.blocks, columns=spec_columns(spec, request.dataset))
    answer = engine_for(spec.engine).run(df, request)
    rows = sales.granted_rows()
    truth = {
        "cold": sum(1 for r in rows if r["region"] == "north"),
        "warm": sum(1 for r in rows if r["region"] == "south"),
    }
    sd = answer.answers[0].noise_sd
    assert sd is not None
    for value in answer.values:
        assert abs(value.value - truth[str(value.key)]) <= 5 * sd, (value, truth)

    doubled = table("doubled", ["north", "north"], ["cold", "warm"])
    bad = request.model_copy(update={"public_tables": {"zones": doubled}})
    with pytest.raises(GatewayValidationError, match="more than once"):
        engine_for(spec.engine).run(df, bad)
