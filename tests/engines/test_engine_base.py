"""Engine plumbing that needs no Spark: the lazy registry and the float-to-decimal spend rule."""

from __future__ import annotations

import importlib
import math
from decimal import Decimal

import pytest

from gateway import engines
from gateway.core.spec import AggregateFunction, Engine
from gateway.engines.base import clamp_to_range, float_at_most, spent_to_decimal
from gateway.errors import EngineNotInstalledError


def test_spending_exactly_the_handed_float_is_the_whole_grant() -> None:
    long_grant = Decimal("0.123456789012345678")  # more digits than a float keeps
    assert Decimal(repr(float(long_grant))) > long_grant  # what a naive conversion would report
    assert spent_to_decimal(float(long_grant), float(long_grant), long_grant) == long_grant


def test_other_spends_go_through_repr() -> None:
    assert spent_to_decimal(0.05, 0.1, Decimal("0.1")) == Decimal("0.05")
    assert spent_to_decimal(0.0, 0.0, Decimal(0)) == 0
    overspent = spent_to_decimal(0.2, 0.1, Decimal("0.1"))
    assert overspent == Decimal("0.2") and overspent > Decimal("0.1")


@pytest.mark.parametrize("text", ["0.1", "0.3", "1", "0.123456789012345678", "1e-6", "0", "2.5", "7e-300"])
def test_the_float_handed_to_a_library_never_exceeds_the_grant(text: str) -> None:
    grant = Decimal(text)
    handed = float_at_most(grant)
    assert Decimal(handed) <= grant
    assert Decimal(math.nextafter(handed, math.inf)) > grant  # and it is the largest such float


def test_nearest_float_rounding_would_exceed_a_grant_of_one_tenth() -> None:
    assert Decimal(float(Decimal("0.1"))) > Decimal("0.1")  # why float() alone is not enough
    assert float_at_most(Decimal("0.1")) < 0.1


def test_post_processing_clamps_means_and_variances_only() -> None:
    assert clamp_to_range(AggregateFunction.MEAN, 0, 10, 12.0) == 10
    assert clamp_to_range(AggregateFunction.MEAN, 0, 10, -3.0) == 0
    assert clamp_to_range(AggregateFunction.VARIANCE, 0, 10, -1.0) == 0
    assert clamp_to_range(AggregateFunction.VARIANCE, 0, 10, 99.0) == 25
    assert clamp_to_range(AggregateFunction.VARIANCE, 0, 10, 24.0) == 24
    assert clamp_to_range(AggregateFunction.SUM, 0, 10, -50.0) == -50
    assert math.isnan(clamp_to_range(AggregateFunction.MEAN, 0, 10, math.nan))


def test_spend_must_be_finite() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        spent_to_decimal(float("inf"), 1.0, Decimal(1))


@pytest.mark.parametrize(("engine", "extra"), [(Engine.TUMULT, "tumult"), (Engine.PIPELINEDP, "pipelinedp")])
def test_missing_library_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, engine: Engine, extra: str
) -> None:
    def fail(name: str) -> None:
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(importlib, "import_module", fail)
    with pytest.raises(EngineNotInstalledError, match=rf"dp-gateway\[{extra}\]") as info:
        engines.engine_for(engine)
    assert (info.value.engine, info.value.extra) == (engine.value, extra)
