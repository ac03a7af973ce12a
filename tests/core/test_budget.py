from decimal import Decimal

import pytest

from gateway.core.budget import Budget
from gateway.errors import GatewayValidationError


def test_floats_are_read_exactly_through_their_repr():
    assert Budget.demand(0.1).epsilon == Decimal("0.1")
    assert Budget.demand(0.1) + Budget.demand(0.2) == Budget.demand("0.3")


@pytest.mark.parametrize("eps", [0, -1, float("nan"), float("inf"), "abc", True])
def test_demand_rejects_non_positive_or_non_finite_epsilon(eps):
    with pytest.raises(GatewayValidationError):
        Budget.demand(eps)


@pytest.mark.parametrize("delta", [-0.1, 1, 1.5, float("nan")])
def test_delta_must_be_in_unit_interval(delta):
    with pytest.raises(GatewayValidationError):
        Budget.demand(1, delta)


def test_demands_round_up_and_capacities_round_down():
    tiny = "0." + "0" * 20 + "1"
    assert Budget.demand(tiny).epsilon > 0
    assert Budget.capacity(1).divided_by(3).epsilon * 3 <= 1


def test_fits_in_checks_both_dimensions():
    assert Budget.demand(1, 0).fits_in(Budget.capacity(1, 0))
    assert not Budget.demand(1, "1e-6").fits_in(Budget.capacity(1, 0))
    assert not Budget.demand(2).fits_in(Budget.capacity(1, "1e-6"))


def test_json_round_trip():
    budget = Budget.demand("0.25", "1e-9")
    assert Budget.from_json(budget.to_json()) == budget
