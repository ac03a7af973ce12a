"""Round robin (RR-N, RR-T): unlocked budget is shared max-min fairly among the claims waiting on a block.

Each waiting claim accumulates budget per block; the residual of a block is water-filled across the
remaining needs of its waiting claims (everyone gets their need if it all fits, else an equal share,
recursively: ``simulator/dpsched/utils/misc.py``). A claim is admitted once every accumulator is full.
Accumulated budget already counts as allocated, so the block invariant holds throughout; a claim that
is rejected or times out gives its accumulations back (the artifact wastes them: note section 6.2).
Basic composition only (the artifact has no RDP round robin, Q11). Budget is filled on epsilon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from gateway.core.scheduling.accounts import Accounts, D, D_contra, Group, K, K_contra, Member
from gateway.core.scheduling.admission import GroupPass
from gateway.core.scheduling.policy import BlockSteps, PolicySettings, register
from gateway.core.scheduling.unlocking import OverLifetime, PerArrival, UnlockRule

FULL = 1e-12  # below this, a need counts as met (float accounts round)


@runtime_checkable
class HoldingAccounts(Accounts[K_contra, D_contra], Protocol[K_contra, D_contra]):
    """What round robin needs on top of ``Accounts``: per-(block, claim) accumulators, on epsilon."""

    def residual(self, block: K_contra) -> float: ...

    def need(self, block: K_contra, claim: Any, demand: D_contra) -> float: ...

    def hold(self, block: K_contra, claim: Any, demand: D_contra, amount: float) -> None: ...

    def complete(self, blocks: Sequence[K_contra], claim: Any) -> None: ...

    def forget(self, blocks: Sequence[K_contra], claim: Any) -> None: ...


def water_fill(residual: float, needs: Sequence[float]) -> list[float]:
    """Max-min fair split of ``residual`` over ``needs`` (nobody gets more than their need)."""
    order = sorted(range(len(needs)), key=needs.__getitem__)
    given = [0.0] * len(needs)
    left = residual
    for rank, i in enumerate(order):
        give = min(needs[i], left / (len(needs) - rank))
        given[i] = give
        left -= give
    return given


def round_robin_pass(groups: Sequence[Group[K, D]], accounts: HoldingAccounts[K, D]) -> GroupPass[K, D]:
    waiting: dict[K, list[tuple[Group[K, D], Member, D]]] = {}
    for group in groups:
        for member in group.members:
            for block, demand in zip(group.blocks, group.demands, strict=True):
                waiting.setdefault(block, []).append((group, member, demand))
    for block, claims in waiting.items():
        residual = accounts.residual(block)
        if residual <= FULL:
            continue
        needs = [accounts.need(block, m[1], d) for _, m, d in claims]
        for (_, member, demand), give in zip(claims, water_fill(residual, needs), strict=True):
            if give > 0:
                accounts.hold(block, member[1], demand, give)
    out: GroupPass[K, D] = GroupPass()
    for group in groups:
        for member in list(group.members):
            needs = [accounts.need(b, member[1], d) for b, d in zip(group.blocks, group.demands, strict=True)]
            if all(n <= FULL for n in needs):
                accounts.complete(group.blocks, member[1])
                group.members.remove(member)
                out.admitted.append((group, member))
            elif any(
                accounts.is_retired(b) and n > FULL and accounts.residual(b) <= FULL
                for b, n in zip(group.blocks, needs, strict=True)
            ):
                out.hopeless.append(Group(group.blocks, group.demands, group.weight))
                out.hopeless[-1].members.append(member)
                group.members.remove(member)
    return out


@dataclass(frozen=True)
class RoundRobinPolicy(BlockSteps):
    n: int | None = None
    lifetime: float | None = None
    include_delta_in_share: bool = False
    batched: bool = False
    holds_budget: bool = True

    @property
    def name(self) -> str:
        return "rr-n" if self.lifetime is None else "rr-t"

    @property
    def unlock(self) -> UnlockRule:  # type: ignore[override]
        return PerArrival(self.n or 1) if self.lifetime is None else OverLifetime(self.lifetime)

    def admit(self, groups: Sequence[Group[K, D]], accounts: Accounts[K, D]) -> GroupPass[K, D]:
        if not isinstance(accounts, HoldingAccounts):
            raise TypeError(f"round robin needs accounts with per-claim accumulators, got {type(accounts).__name__}")
        return round_robin_pass(groups, accounts)


@register("rr-n")
def _rr_n(settings: PolicySettings) -> RoundRobinPolicy:
    return RoundRobinPolicy(n=settings.n)


@register("rr-t")
def _rr_t(settings: PolicySettings) -> RoundRobinPolicy:
    return RoundRobinPolicy(lifetime=settings.lifetime_seconds())
