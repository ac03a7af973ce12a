"""Renyi-DP curves: block capacities from (epsG, deltaG), and the curves of what the engines spend.

A curve is one epsilon per order alpha of a fixed alpha set. A block's capacity is
epsG(alpha) = max(0, epsG - ln(1/deltaG)/(alpha - 1)): consuming at most that much at *some* alpha
keeps the block (epsG, deltaG)-DP (PrivateKube Alg. 3, note section 5). Mechanism curves come from
Google's ``dp-accounting`` RDP accountant rather than hand-written formulas, so they follow a
maintained reference (it is imported lazily: it pulls in scipy).
"""

from __future__ import annotations

import decimal
import functools
import math
from collections.abc import Sequence
from decimal import Decimal

from gateway.core.budget import ZERO, Curve, quantize_down, quantize_up
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


# --- exact curves for the ledger ----------------------------------------------------------------------
# The ledger keeps curves as decimals on the budget scale: capacities round down, demands round up, so
# the rounding only ever makes admission more conservative.

_CTX = decimal.Context(prec=50)


def ledger_alphas(grid: Sequence[object]) -> tuple[Decimal, ...]:
    """The ledger's alpha grid as exact decimals (from ``PolicySettings.alphas``)."""
    alphas = tuple(Decimal(str(a)) for a in grid)
    if not alphas or any(a <= 1 for a in alphas) or list(alphas) != sorted(set(alphas)):
        raise GatewayValidationError(f"RDP orders must be distinct, increasing and > 1, got {[str(a) for a in alphas]}")
    return alphas


def _log_inv(delta: Decimal) -> Decimal:
    return _CTX.ln(_CTX.divide(Decimal(1), delta))


def capacity_curve(epsilon: Decimal, delta: Decimal, alphas: Sequence[Decimal]) -> Curve:
    """epsG(alpha) = max(0, epsG - ln(1/deltaG)/(alpha - 1)), rounded down (PrivateKube Alg. 3)."""
    if not (epsilon > 0 and 0 < delta < 1):
        raise GatewayValidationError(
            f"a block under rdp accounting needs epsilon > 0 and 0 < delta < 1 (e.g. --delta 1e-7), "
            f"got epsilon={epsilon}, delta={delta}"
        )
    log = _log_inv(delta)
    return tuple(quantize_down(max(ZERO, epsilon - _CTX.divide(log, a - 1))) for a in alphas)


def rho_curve(rho: Decimal, alphas: Sequence[Decimal]) -> Curve:
    """rho-zCDP is (alpha, rho*alpha)-RDP at every order: exact, rounded up."""
    return tuple(quantize_up(rho * a) for a in alphas)


def sigma_rho(sigma: float) -> Decimal:
    """The zCDP rho of the Gaussian mechanism with sensitivity 1 and noise std ``sigma``: 1/(2 sigma^2), exactly."""
    s = Decimal(sigma)  # the float's exact value
    return _CTX.divide(Decimal(1), 2 * s * s)


def pure_curve(epsilon: Decimal, alphas: Sequence[Decimal]) -> Curve:
    """Any epsilon-DP mechanism (Laplace, geometric, any split of epsilon) is (alpha, min(eps, alpha eps^2/2))-RDP.

    epsilon-DP implies (eps^2/2)-zCDP (Bun and Steinke, Prop. 3.3) and RDP at most eps at every order.
    The bound holds whatever pure-DP noise an engine draws and however it splits epsilon between
    mechanisms, so the demand can never be below what a pure-DP job spends.
    """
    half_sq = epsilon * epsilon / 2
    return tuple(quantize_up(min(epsilon, a * half_sq)) for a in alphas)


def library_sigma(epsilon: float, delta: float) -> float:
    """The Gaussian noise std (sensitivity 1) the DP library computes for (epsilon, delta).

    PipelineDP's own calibration (``dp_computations.compute_sigma``, PyDP's analytic Gaussian), so the
    curve charged is the curve of the noise the job adds, not a textbook formula that could drift.
    """
    from pipeline_dp import dp_computations  # lazy: pulls in PyDP

    return float(dp_computations.compute_sigma(epsilon, delta, 1.0))


def float_at_most(amount: Decimal) -> float:
    """The largest float not above ``amount`` (a library must never be handed more than granted)."""
    value = float(amount)
    if Decimal(value) > amount:
        value = math.nextafter(value, -math.inf)
    return value


def to_epsilon(curve: Sequence[Decimal], delta: Decimal, alphas: Sequence[Decimal]) -> Decimal:
    """RDP -> (epsilon, delta): min over orders of curve(alpha) + ln(1/delta)/(alpha - 1)."""
    log = _log_inv(delta)
    return quantize_up(min(c + _CTX.divide(log, a - 1) for c, a in zip(curve, alphas, strict=True)))


def remaining_epsilon(
    remaining: Sequence[Decimal], capacity: Sequence[Decimal], delta: Decimal, alphas: Sequence[Decimal]
) -> Decimal:
    """What is left of the block's (epsG, deltaG) as one epsilon at deltaG: the best order still open.

    Where capacity(alpha) > 0, capacity(alpha) + ln(1/deltaG)/(alpha - 1) = epsG, so at that order the
    block has epsG - used(alpha) = remaining(alpha) + ln(1/deltaG)/(alpha - 1) left. 0 when no order
    with capacity has anything left.
    """
    log = _log_inv(delta)
    open_ = [
        r + _CTX.divide(log, a - 1) for r, c, a in zip(remaining, capacity, alphas, strict=True) if c > 0 and r > 0
    ]
    return quantize_down(max(open_)) if open_ else ZERO


def demand_curve(epsilon: Decimal | None, delta: Decimal, rho: Decimal | None, alphas: Sequence[Decimal]) -> Curve:
    """The RDP curve of the noise a job given this budget adds (what the ledger reserves under rdp).

    ``{rho}``: rho*alpha (the engine runs zCDP with exactly rho). ``{epsilon}`` (delta 0): the pure-DP
    bound (``pure_curve``). ``{epsilon, delta > 0}``: the Gaussian mechanism with the library's sigma for
    the floats the engine is handed; its curve alpha/(2 sigma^2) is rho*alpha with rho = 1/(2 sigma^2).
    """
    if rho is not None:
        return rho_curve(rho, alphas)
    assert epsilon is not None
    if delta == 0:
        return pure_curve(epsilon, alphas)
    return rho_curve(gaussian_rho(epsilon, delta), alphas)


def gaussian_rho(epsilon: Decimal, delta: Decimal) -> Decimal:
    """The zCDP rho of the Gaussian noise (sensitivity 1) the library calibrates for an (epsilon, delta) grant."""
    return sigma_rho(library_sigma(float_at_most(epsilon), float_at_most(delta)))
