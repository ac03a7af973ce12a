"""Engine plumbing that needs no Spark: the lazy registry and the float-to-decimal spend rule."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest

from gateway import engines
from gateway.core.spec import Engine
from gateway.engines.base import spent_to_decimal
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
