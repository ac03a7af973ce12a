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

from gateway.errors import GatewayValidationError

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


@dataclass(frozen=True, slots=True)
class Budget:
    """An (ε, δ) amount under basic composition: budgets add component-wise."""

    epsilon: Decimal = ZERO
    delta: Decimal = ZERO

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
        return Budget(self.epsilon + other.epsilon, self.delta + other.delta)

    def __sub__(self, other: Budget) -> Budget:
        return Budget(self.epsilon - other.epsilon, self.delta - other.delta)

    def fits_in(self, available: Budget) -> bool:
        """True when this amount can be taken from ``available`` in every dimension."""
        return self.epsilon <= available.epsilon and self.delta <= available.delta

    def min(self, other: Budget) -> Budget:
        """Component-wise minimum (how much of a fair share is still locked)."""
        return Budget(min(self.epsilon, other.epsilon), min(self.delta, other.delta))

    def divided_by(self, n: int) -> Budget:
        """A 1/n share, rounded down so n shares never exceed the whole."""
        return Budget(quantize_down(self.epsilon / n), quantize_down(self.delta / n))

    def is_zero(self) -> bool:
        return self.epsilon == 0 and self.delta == 0

    def is_non_negative(self) -> bool:
        return self.epsilon >= 0 and self.delta >= 0

    def to_json(self) -> dict[str, str]:
        return {"epsilon": _fmt(self.epsilon), "delta": _fmt(self.delta)}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Budget:
        """A stored amount; the few distinct amounts of a large ledger are parsed once (budgets are immutable)."""
        key = (data["epsilon"], data.get("delta", "0"))
        budget = _PARSED.get(key)
        if budget is None:
            if len(_PARSED) >= 4096:
                _PARSED.clear()
            budget = _PARSED[key] = cls(Decimal(key[0]), Decimal(key[1]))
        return budget

    def __str__(self) -> str:
        if self.delta == 0:
            return f"ε={_fmt(self.epsilon)}"
        return f"ε={_fmt(self.epsilon)}, δ={_fmt(self.delta)}"


NO_BUDGET = Budget()
_PARSED: dict[tuple[str, str], Budget] = {}
