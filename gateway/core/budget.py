"""Exact (ε, δ) privacy budgets.

Budgets are decimals quantized to a fixed scale, never floats: two ledgers that apply the same
operations hold byte-identical numbers, and a sum of grants can be compared to a capacity without a
tolerance. Demands round *up* and capacities or unlocks round *down*, so quantization can only make
the gateway more conservative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from gateway.errors import GatewayInternalError, GatewayValidationError

SCALE = Decimal("1e-18")
ZERO = Decimal(0)
# The largest ε a demand or a capacity may name. With 18 decimals this keeps every amount (and the sum of a
# block's accounts) within the 28 significant digits of the decimal context, so arithmetic stays exact.
MAX_EPSILON = Decimal(1_000_000)


def _to_decimal(value: object, name: str) -> Decimal:
    """Read a user-given number exactly; floats go through their shortest repr (0.1 -> "0.1")."""
    if isinstance(value, bool):
        raise GatewayValidationError(f"{name} must be a number, not a boolean")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise GatewayValidationError(f"{name} must be a finite number, got {value}")
        value = repr(value)
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise GatewayValidationError(f"{name} must be a number, got {str(value)[:60]!r}") from exc
    if not result.is_finite():
        raise GatewayValidationError(f"{name} must be a finite number, got {value}")
    return result


def quantize_up(value: Decimal) -> Decimal:
    """Round a demand up to the ledger scale."""
    return value.quantize(SCALE, rounding=ROUND_CEILING).normalize() + ZERO


def quantize_down(value: Decimal) -> Decimal:
    """Round a capacity or an unlock down to the ledger scale."""
    return value.quantize(SCALE, rounding=ROUND_FLOOR).normalize() + ZERO


def _short(value: Decimal) -> str:
    """A user-given number for a message: fixed-point when short, else scientific (1E+400 has 400 digits)."""
    text = _fmt(value) if abs(value.adjusted()) < 30 else f"{value:.6E}"
    return text if len(text) <= 60 else text[:57] + "..."


def _fmt(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", "0"} else text


Curve = tuple[Decimal, ...]


@dataclass(frozen=True, slots=True)
class Budget:
    """A ledger amount: an (ε, δ) pair under basic composition, or a Rényi-DP curve under rdp accounting.

    A curve holds one ε per order alpha of the ledger's alpha grid (``PolicySettings.alphas``); ``epsilon`` and
    ``delta`` are then zero and unused. Either way amounts add, subtract and compare component-wise (per
    order for curves). The zero pair ``Budget()`` stands for the zero curve, so empty accounts need no
    grid. Admission under rdp uses ``admissible_in`` ("fits at some order"), not ``fits_in``.
    """

    epsilon: Decimal = ZERO
    delta: Decimal = ZERO
    curve: Curve | None = None

    @property
    def is_curve(self) -> bool:
        return self.curve is not None

    def aligned_with(self, other: Budget) -> tuple[Curve, Curve]:
        """Both sides as curves of one length; a zero pair stands for the zero curve."""
        mine, theirs = self.curve, other.curve
        if mine is None and theirs is None:
            raise GatewayInternalError("aligned_with on two (ε, δ) budgets")
        if mine is None:
            mine = self._zero_curve(len(theirs or ()))
        if theirs is None:
            theirs = other._zero_curve(len(mine))
        if len(mine) != len(theirs):
            raise GatewayInternalError(f"RDP curves over different orders ({len(mine)} vs {len(theirs)})")
        return mine, theirs

    def _zero_curve(self, n: int) -> Curve:
        if not (self.epsilon == 0 and self.delta == 0):
            raise GatewayInternalError(f"cannot mix an (ε, δ) amount {self} with an RDP curve")
        return (ZERO,) * n

    @classmethod
    def of(cls, epsilon: object, delta: object = 0) -> Budget:
        """Build a budget from user-facing numbers, checking they are finite and non-negative."""
        eps = _to_decimal(epsilon, "epsilon")
        dlt = _to_decimal(delta, "delta")
        if eps < 0:
            raise GatewayValidationError(f"epsilon must be >= 0, got {_short(eps)}")
        if eps > MAX_EPSILON:
            raise GatewayValidationError(f"epsilon must be at most {_fmt(MAX_EPSILON)}, got {_short(eps)}")
        if dlt < 0 or dlt >= 1:
            raise GatewayValidationError(f"delta must be in [0, 1), got {_short(dlt)}")
        return cls(eps, dlt)

    @classmethod
    def demand(cls, epsilon: object, delta: object = 0) -> Budget:
        """A query's demand: ε must be strictly positive; rounded up to the ledger scale."""
        budget = cls.of(epsilon, delta)
        if budget.epsilon <= 0:
            raise GatewayValidationError(f"epsilon must be > 0, got {_fmt(budget.epsilon)}")
        delta = quantize_up(budget.delta)
        if delta >= 1:
            raise GatewayValidationError(f"delta must be in [0, 1), got {_short(budget.delta)} (1 at 18 decimals)")
        return cls(quantize_up(budget.epsilon), delta)

    @classmethod
    def capacity(cls, epsilon: object, delta: object = 0) -> Budget:
        """A block's capacity: ε must be strictly positive; rounded down to the ledger scale."""
        budget = cls.of(epsilon, delta)
        if budget.epsilon <= 0:
            raise GatewayValidationError(f"block epsilon must be > 0, got {_fmt(budget.epsilon)}")
        epsilon = quantize_down(budget.epsilon)
        if epsilon <= 0:
            raise GatewayValidationError(f"block epsilon must be at least {_fmt(SCALE)} (the ledger's 18 decimals)")
        return cls(epsilon, quantize_down(budget.delta))

    def __add__(self, other: Budget) -> Budget:
        if self.curve is None and other.curve is None:
            return Budget(self.epsilon + other.epsilon, self.delta + other.delta)
        a, b = self.aligned_with(other)
        return Budget(curve=tuple(x + y for x, y in zip(a, b, strict=True)))

    def __sub__(self, other: Budget) -> Budget:
        if self.curve is None and other.curve is None:
            return Budget(self.epsilon - other.epsilon, self.delta - other.delta)
        a, b = self.aligned_with(other)
        return Budget(curve=tuple(x - y for x, y in zip(a, b, strict=True)))

    def fits_in(self, available: Budget) -> bool:
        """True when this amount can be taken from ``available`` in every dimension (every order)."""
        if self.curve is None and available.curve is None:
            return self.epsilon <= available.epsilon and self.delta <= available.delta
        a, b = self.aligned_with(available)
        return all(x <= y for x, y in zip(a, b, strict=True))

    def admissible_in(self, available: Budget) -> bool:
        """The admission rule: every dimension for (ε, δ); *some* order alpha for RDP curves."""
        if self.curve is None and available.curve is None:
            return self.fits_in(available)
        a, b = self.aligned_with(available)
        return any(x <= y for x, y in zip(a, b, strict=True))

    def min(self, other: Budget) -> Budget:
        """Component-wise minimum (how much of a fair share is still locked)."""
        if self.curve is None and other.curve is None:
            return Budget(min(self.epsilon, other.epsilon), min(self.delta, other.delta))
        a, b = self.aligned_with(other)
        return Budget(curve=tuple(min(x, y) for x, y in zip(a, b, strict=True)))

    def clipped(self) -> Budget:
        """Negative components raised to zero (a refund is never negative at any order)."""
        if self.curve is None:
            return Budget(max(self.epsilon, ZERO), max(self.delta, ZERO))
        return Budget(curve=tuple(max(x, ZERO) for x in self.curve))

    def divided_by(self, n: int) -> Budget:
        """A 1/n share, rounded down so n shares never exceed the whole."""
        if self.curve is not None:
            return Budget(curve=tuple(quantize_down(x / n) for x in self.curve))
        return Budget(quantize_down(self.epsilon / n), quantize_down(self.delta / n))

    def components(self) -> Curve:
        """The amount per dimension: (ε, δ), or one ε per order."""
        return self.curve if self.curve is not None else (self.epsilon, self.delta)

    def is_zero(self) -> bool:
        return all(x == 0 for x in self.components())

    def is_non_negative(self) -> bool:
        return all(x >= 0 for x in self.components())

    def to_json(self) -> dict[str, Any]:
        if self.curve is not None:
            return {"curve": [_fmt(x) for x in self.curve]}
        return {"epsilon": _fmt(self.epsilon), "delta": _fmt(self.delta)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Budget:
        """A stored amount; the few distinct (ε, δ) amounts of a large ledger are parsed once (immutable)."""
        if data.get("curve") is not None:
            return cls(curve=tuple(Decimal(x) for x in data["curve"]))
        key = (data["epsilon"], data.get("delta", "0"))
        budget = _PARSED.get(key)
        if budget is None:
            if len(_PARSED) >= 4096:
                _PARSED.clear()
            budget = _PARSED[key] = cls(Decimal(key[0]), Decimal(key[1]))
        return budget

    def __str__(self) -> str:
        if self.curve is not None:
            shown = ", ".join(f"{float(x):.4g}" for x in self.curve)
            return f"RDP ε(alpha)=[{shown}]"
        if self.delta == 0:
            return f"ε={_fmt(self.epsilon)}"
        return f"ε={_fmt(self.epsilon)}, δ={_fmt(self.delta)}"


NO_BUDGET = Budget()
_PARSED: dict[tuple[str, str], Budget] = {}
