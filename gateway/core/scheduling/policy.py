"""The policy port, the ledger's scheduling settings, and the registry that builds a policy by name."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.core.scheduling.block_accounts import release
from gateway.core.scheduling.unlocking import UnlockRule
from gateway.errors import GatewayValidationError

if TYPE_CHECKING:
    from gateway.core.scheduling.accounts import Accounts, D, Group, K
    from gateway.core.scheduling.admission import GroupPass


class Request(Protocol):
    """What the scheduler needs to know about a claim (tests and simulators use lighter objects)."""

    @property
    def id(self) -> str: ...

    @property
    def submitted_at(self) -> dt.datetime: ...

    def demands(self) -> Mapping[str, Budget]: ...


class SchedulingPolicy(Protocol):
    """Ordering + admission: how blocks release budget, and who gets it.

    ``unlock`` releases budget (per arrival, over time, or all at once); ``admit`` runs one pass over
    the pending groups against the accounts. ``batched`` policies only run passes on clock ticks;
    ``holds_budget`` policies (round robin) hand budget out to waiting claims, so only their own pass
    can tell a hopeless claim. The block steps apply ``unlock`` to the ledger's Decimal blocks.
    """

    @property
    def name(self) -> str: ...

    @property
    def unlock(self) -> UnlockRule: ...

    @property
    def include_delta_in_share(self) -> bool: ...

    @property
    def batched(self) -> bool: ...

    @property
    def holds_budget(self) -> bool: ...

    def admit(self, groups: Sequence[Group[K, D]], accounts: Accounts[K, D]) -> GroupPass[K, D]: ...

    def initial_block(self, capacity: Budget) -> tuple[Budget, bool]: ...

    def on_arrival(self, block: Block) -> Block: ...

    def on_clock(self, block: Block, now: dt.datetime) -> Block: ...


class BlockSteps:
    """The ledger's per-block unlock steps, derived from the policy's unlock rule."""

    unlock: UnlockRule

    def initial_block(self, capacity: Budget) -> tuple[Budget, bool]:
        """A new block's unlocked amount and whether it is already retired."""
        empty = Block("", dt.date.min, capacity, Budget(), Budget(), Budget())
        fraction, retired = self.unlock.initial()
        block = release(empty, fraction, retired)
        return block.unlocked, block.retired

    def on_arrival(self, block: Block) -> Block:
        arrivals = block.arrivals + 1
        step = self.unlock.after_arrival(arrivals)
        block = replace(block, arrivals=arrivals)
        return block if step is None else release(block, *step)

    def on_clock(self, block: Block, now: dt.datetime) -> Block:
        if block.final or not self.unlock.time_based:
            return block
        created = block.added_at
        step = self.unlock.at(Fraction((now - created) // dt.timedelta(microseconds=1), 10**6))
        return block if step is None else release(block, *step)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_LIFETIME_SECONDS = 36_525 * 86_400.0  # 100 years: unlock periods beyond it are typos, not policies
MAX_N = 1_000_000  # N arrivals per block (or unlock steps): far above any useful setting


def parse_duration(value: object) -> float:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"12h"`` or ``"30d"``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(value))
        if match is None:
            raise GatewayValidationError(
                f"lifetime {str(value)[:40]!r} is not a duration; write e.g. 30d, 12h, 15m or 90s"
            )
        seconds = float(match[1]) * _UNITS[match[2] or "s"]
    if not 0 < seconds <= MAX_LIFETIME_SECONDS:  # also refuses NaN and infinity
        raise GatewayValidationError(
            f"lifetime must be positive and at most 100 years ({MAX_LIFETIME_SECONDS // 86400:g}d), "
            f"got {str(value)[:40]!r}"
        )
    return seconds


Order = Literal["sorted", "heap_array"]  # how a greedy pass walks its claims (heap_array: quirk Q1)
Accounting = Literal["basic", "rdp"]
# PrivateKube's artifact grid (its simulator's orders): the high orders are where many small Gaussian
# demands fit a block best, and the simulator that reproduces the paper's RDP figures uses the same grid.
ARTIFACT_ALPHAS: tuple[str, ...] = (
    "1.000001",
    "1.0001",
    "1.5",
    "2",
    "4",
    "8",
    "16",
    "32",
    "64",
    "128",
    "256",
    "512",
    "1024",
    "2048",
    "20480",
)
ReleaseTo = Literal["unlocked", "locked"]  # where a never-started launch's reservation goes (locked: quirk Q6)

_USES_N = frozenset({"dpf-n", "rr-n", "dpack"})
_DPF = frozenset({"dpf-n", "dpf-t"})  # the only policies the artifact quirks Q1 and Q6 concern


class PolicySettings(BaseModel):
    """The ledger's scheduling settings, chosen at ``dpgw init`` (e.g. policy dpf-n, n 100; or dpf-t, lifetime 30d).

    ``n``: DPF-N/RR-N arrivals per block that unlock all of it, DPack's unlock steps over the lifetime.
    ``lifetime``: DPF-T/RR-T/DPack data lifetime in seconds (``"30d"`` accepted).

    Artifact compat options (note section 8), off by default, DPF only:
    ``order="heap_array"`` tries claims in ``heapq.heapify``'d array order, as PrivateKube's simulator (Q1);
    ``release_to="locked"`` returns a never-started launch's reservation to locked, as its Go system (Q6).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: str = "dpf-n"
    n: int = Field(default=10, ge=1, le=MAX_N)
    lifetime: float | None = None
    include_delta_in_share: bool = False
    order: Order = "sorted"
    release_to: ReleaseTo = "unlocked"
    accounting: Accounting = "basic"
    alphas: tuple[str, ...] | None = None  # rdp: the alpha grid as exact decimal strings (default ARTIFACT_ALPHAS)

    @field_validator("lifetime", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float | None:
        return None if value is None else parse_duration(value)

    @model_validator(mode="after")
    def _known(self) -> PolicySettings:
        if self.policy not in POLICIES:
            raise GatewayValidationError(
                f"unknown scheduling policy {self.policy!r}; choose one of: {', '.join(sorted(POLICIES))}"
            )
        if self.accounting == "rdp":
            if self.policy.startswith("rr-"):
                raise GatewayValidationError(
                    f"policy {self.policy} (round robin) hands out ε piecemeal and has no Rényi-DP form; "
                    "under --accounting rdp choose dpf-n, dpf-t, fcfs or dpack"
                )
            if self.alphas is None:
                object.__setattr__(self, "alphas", ARTIFACT_ALPHAS)
            from gateway.core.rdp import ledger_alphas

            object.__setattr__(self, "alphas", tuple(str(a) for a in ledger_alphas(self.alphas or ())))
        elif self.alphas is not None:
            raise GatewayValidationError("an alpha grid means nothing under basic accounting; use --accounting rdp")
        make_policy(self)  # a policy missing a setting (e.g. DPF-T without a lifetime) fails here, at init
        if self.policy not in _DPF:
            if self.order != "sorted":
                raise GatewayValidationError(
                    f"order {self.order} reproduces the DPF ordering of PrivateKube's simulator (quirk Q1) and "
                    f"means nothing for policy {self.policy}; use dpf-n or dpf-t, or keep order sorted"
                )
            if self.release_to != "unlocked":
                raise GatewayValidationError(
                    f"release_to {self.release_to} reproduces PrivateKube's Go DPF (quirk Q6); under policy "
                    f"{self.policy} nothing would unlock that budget again; use dpf-n or dpf-t, or keep unlocked"
                )
        return self

    def summary(self) -> str:
        """The settings that matter to this policy (FCFS has no N), for messages."""
        parts = [self.policy]
        if self.policy in _USES_N:
            parts.append(f"N={self.n}")
        if self.lifetime is not None:
            parts.append(f"lifetime {self.lifetime:g}s")
        if self.order != "sorted":
            parts.append(f"order {self.order}")
        if self.release_to != "unlocked":
            parts.append(f"release to {self.release_to}")
        if self.accounting == "rdp":
            parts.append(f"Rényi-DP accounting over {len(self.alphas or ())} orders")
        return ", ".join(parts)

    @property
    def rdp(self) -> bool:
        return self.accounting == "rdp"

    def orders(self) -> tuple[Decimal, ...]:
        """The alpha grid as decimals (rdp accounting only)."""
        from gateway.core.rdp import ledger_alphas

        return ledger_alphas(self.alphas or ())

    def lifetime_seconds(self) -> float:
        if self.lifetime is None:
            raise GatewayValidationError(f"policy {self.policy} needs a data lifetime; set it, e.g. --lifetime 30d")
        return self.lifetime


PolicyFactory = Callable[[PolicySettings], SchedulingPolicy]
POLICIES: dict[str, PolicyFactory] = {}


def register(name: str) -> Callable[[PolicyFactory], PolicyFactory]:
    def add(factory: PolicyFactory) -> PolicyFactory:
        if name in POLICIES:
            raise ValueError(f"policy {name!r} registered twice")
        POLICIES[name] = factory
        return factory

    return add


def make_policy(settings: PolicySettings) -> SchedulingPolicy:
    return POLICIES[settings.policy](settings)
