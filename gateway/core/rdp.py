"""Renyi-DP curves: block capacities from (epsG, deltaG), and the curves of what the engines spend.

A curve is one epsilon per order alpha of a fixed alpha set. A block's capacity is
epsG(alpha) = max(0, epsG - ln(1/deltaG)/(alpha - 1)): consuming at most that much at *some* alpha
keeps the block (epsG, deltaG)-DP (PrivateKube Alg. 3, note section 5). Mechanism curves come from
Google's ``dp-accounting`` RDP accountant rather than hand-written formulas, so they follow a
maintained reference (it is imported lazily: it pulls in scipy).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

from gateway.errors import GatewayValidationError

PAPER_ALPHAS: tuple[float, ...] = (2, 3, 4, 8, 16, 32, 64)
SIMULATOR_ALPHAS: tuple[float, ...] = (
    1.000001,
    1.0001,
    1.5,
    2,
    4,
    8,
    16,
    32,
    64,
    128,
    256,
    512,
    1024,
    2048,
    20480,
)
ALPHA_SETS = {"paper": PAPER_ALPHAS, "simulator": SIMULATOR_ALPHAS}
DEFAULT_DEMAND_DELTA = 1e-9  # the simulator's per-task delta when a task gives only epsilon (note 5.2)


def alpha_set(name_or_list: str | Sequence[float]) -> tuple[float, ...]:
    if isinstance(name_or_list, str):
        try:
            return ALPHA_SETS[name_or_list]
        except KeyError:
            raise GatewayValidationError(
                f"unknown alpha set {name_or_list!r}; choose {', '.join(ALPHA_SETS)} or give a list of orders > 1"
            ) from None
    alphas = tuple(float(a) for a in name_or_list)
    if not alphas or any(a <= 1 for a in alphas) or list(alphas) != sorted(set(alphas)):
        raise GatewayValidationError(f"RDP orders must be distinct, increasing and > 1, got {list(alphas)}")
    return alphas


def block_capacity(epsilon: float, delta: float, alphas: Sequence[float]) -> tuple[float, ...]:
    """epsG(alpha) = max(0, epsG - ln(1/deltaG)/(alpha - 1)); alpha = inf gives epsG."""
    if not (epsilon > 0 and 0 < delta < 1):
        raise GatewayValidationError(f"an RDP block needs epsilon > 0 and 0 < delta < 1, got ({epsilon}, {delta})")
    return tuple(epsilon if math.isinf(a) else max(0.0, epsilon - math.log(1 / delta) / (a - 1)) for a in alphas)


def _accountant_curve(event: object, alphas: Sequence[float]) -> tuple[float, ...]:
    try:
        from dp_accounting.rdp import RdpAccountant
    except ImportError:
        raise GatewayValidationError(
            "RDP accounting needs the dp-accounting package; install it with: pip install 'dp-gateway[simulate]'"
        ) from None
    accountant = RdpAccountant(list(alphas))
    accountant.compose(event)
    return tuple(float(x) for x in accountant._rdp)


@functools.lru_cache(maxsize=4096)
def gaussian(sigma: float, alphas: tuple[float, ...]) -> tuple[float, ...]:
    """Gaussian mechanism, sensitivity 1, noise standard deviation ``sigma``: alpha/(2 sigma^2)."""
    from dp_accounting import GaussianDpEvent

    return _accountant_curve(GaussianDpEvent(sigma), alphas)


@functools.lru_cache(maxsize=4096)
def laplace(scale: float, alphas: tuple[float, ...]) -> tuple[float, ...]:
    """Laplace mechanism, sensitivity 1, scale b (pure (1/b)-DP): Mironov's closed form, via the accountant."""
    from dp_accounting import LaplaceDpEvent

    return _accountant_curve(LaplaceDpEvent(scale), alphas)


def zcdp(rho: float, alphas: tuple[float, ...]) -> tuple[float, ...]:
    """rho-zCDP is (alpha, rho*alpha)-RDP for every alpha: the Gaussian curve with sigma = 1/sqrt(2 rho)."""
    return gaussian(1 / math.sqrt(2 * rho), alphas)


def gaussian_sigma(epsilon: float, delta: float = DEFAULT_DEMAND_DELTA) -> float:
    """The classic calibration sigma = sqrt(2 ln(1.25/delta))/epsilon the simulator uses for an (eps, delta) task."""
    return math.sqrt(2 * math.log(1.25 / delta)) / epsilon


def epsilon_demand(epsilon: float, alphas: tuple[float, ...], delta: float = DEFAULT_DEMAND_DELTA) -> tuple[float, ...]:
    """The RDP demand of a task given as (epsilon, delta): its calibrated Gaussian mechanism (note 5.2)."""
    return gaussian(gaussian_sigma(epsilon, delta), alphas)
