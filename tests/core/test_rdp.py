"""RDP curves: block capacities per the note, mechanism curves checked against Google's dp-accounting."""

from __future__ import annotations

import math

import pytest
from dp_accounting import GaussianDpEvent, LaplaceDpEvent
from dp_accounting.rdp import RdpAccountant

from gateway.core import rdp
from gateway.errors import GatewayValidationError

ALPHAS = rdp.SIMULATOR_ALPHAS


def _reference(event, alphas):
    accountant = RdpAccountant(list(alphas))
    accountant.compose(event)
    return list(accountant._rdp)


def test_block_capacity_matches_the_simulator_curve():
    # note 5.1: epsG=1, deltaG=1e-6 over the simulator's alphas
    expected = [0, 0, 0, 0, 0, 0, 0.079, 0.5543, 0.7807, 0.8912, 0.9458, 0.9730, 0.9865, 0.9933, 0.9993]
    assert rdp.block_capacity(1, 1e-6, ALPHAS) == pytest.approx(expected, abs=5e-5)
    assert rdp.block_capacity(10, 1e-7, (math.inf,)) == (10,)


def test_gaussian_and_zcdp_curves_follow_the_accountant():
    assert list(rdp.gaussian(3.0, ALPHAS)) == pytest.approx(_reference(GaussianDpEvent(3.0), ALPHAS))
    assert list(rdp.gaussian(3.0, ALPHAS)) == pytest.approx([a / 18 for a in ALPHAS])
    assert list(rdp.zcdp(0.25, ALPHAS)) == pytest.approx([0.25 * a for a in ALPHAS])


def test_laplace_curve_follows_the_accountant_and_stays_below_pure_epsilon():
    curve = rdp.laplace(2.0, rdp.PAPER_ALPHAS)
    assert list(curve) == pytest.approx(_reference(LaplaceDpEvent(2.0), rdp.PAPER_ALPHAS))
    assert all(0 < e <= 0.5 for e in curve)  # a (1/b)-DP mechanism never exceeds 1/b at any order


def test_mice_capacity_is_14514_at_alpha_32():
    """Note 5.3: one block (1, 1e-6) fits at most 14,514 mice (eps 0.01, delta 1e-9) under RDP."""
    cap = rdp.block_capacity(1, 1e-6, ALPHAS)
    mouse = rdp.epsilon_demand(0.01, ALPHAS)
    fits = [c / d for c, d in zip(cap, mouse, strict=True)]
    assert math.floor(max(fits)) == 14514 and ALPHAS[fits.index(max(fits))] == 32
    assert rdp.gaussian_sigma(0.01) == pytest.approx(647.25, abs=0.01)


def test_bad_alpha_sets_and_blocks_are_user_errors():
    with pytest.raises(GatewayValidationError, match="alpha set"):
        rdp.alpha_set("mine")
    with pytest.raises(GatewayValidationError, match="> 1"):
        rdp.alpha_set([0.5, 2])
    with pytest.raises(GatewayValidationError, match="0 < delta < 1"):
        rdp.block_capacity(1, 0, ALPHAS)
