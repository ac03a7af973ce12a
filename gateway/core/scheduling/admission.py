"""One admission pass, shared by every greedy policy: best effort, all-or-nothing, no head-of-line blocking.

``greedy_pass`` is the algorithm (over the ``Accounts`` port, used by the ledger and the simulator);
``run_pass`` adapts it to the ledger's Decimal ``Block`` records.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic

from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.core.scheduling.accounts import Accounts, D, Group, K, Member
from gateway.core.scheduling.block_accounts import BlockAccounts
from gateway.core.scheduling.policy import Order, Request, SchedulingPolicy

GroupKey = Callable[[Group[K, D]], tuple[Any, ...]]


@dataclass
class GroupPass(Generic[K, D]):
    admitted: list[tuple[Group[K, D], Member]] = field(default_factory=list)
    hopeless: list[Group[K, D]] = field(default_factory=list)  # still waiting, and can never be served


def greedy_pass(
    groups: Sequence[Group[K, D]],
    accounts: Accounts[K, D],
    key: GroupKey[K, D],
    check_hopeless: bool = True,
    order: Order = "sorted",
) -> GroupPass[K, D]:
    """Try claims in (policy key, arrival) order; admit each whose demand fits on all its blocks.

    Admitted members are popped from their group. Unlocked budget only shrinks during a pass, so a group
    whose head does not fit is done for this pass (its other members are identical). ``order="heap_array"``
    walks the heapified list instead (``_heap_array_admit``).
    """
    out: GroupPass[K, D] = GroupPass()
    if order == "heap_array":
        _heap_array_admit(groups, accounts, key, out)
    else:
        heap = [(key(g), g.head[0], g.head[1], i) for i, g in enumerate(groups) if g.members]
        heapq.heapify(heap)
        while heap:
            k, _, _, i = heapq.heappop(heap)
            group = groups[i]
            if not accounts.fits(group.blocks, group.demands):
                continue
            accounts.allocate(group.blocks, group.demands)
            out.admitted.append((group, group.members.popleft()))
            if group.members:
                heapq.heappush(heap, (k, group.head[0], group.head[1], i))
    if check_hopeless:
        out.hopeless = [g for g in groups if g.members and hopeless_block(g, accounts) is not None]
    return out


def _heap_array_admit(
    groups: Sequence[Group[K, D]], accounts: Accounts[K, D], key: GroupKey[K, D], out: GroupPass[K, D]
) -> None:
    """PrivateKube's simulator order (note Q1): ``heapify`` the per-claim list, built in arrival order, and
    try it in array order rather than popping, so a larger claim may be tried before smaller ones.

    The list holds one entry per claim, not per group, so the order is exactly the per-claim one; grouping
    only skips the rest of a group once a member fails (identical demand, and budget only shrinks).
    Admitted members may leave from the middle of a group; the others keep their arrival order.
    """
    keys = [key(g) if g.members else () for g in groups]
    entries = [(keys[i], arrival, claim, i) for i, g in enumerate(groups) for arrival, claim in g.members]
    entries.sort(key=lambda e: (e[1], e[2]))  # the artifact's wait queue is in arrival order
    heapq.heapify(entries)
    done: set[int] = set()
    taken: dict[int, set[Any]] = {}
    for _, arrival, claim, i in entries:
        group = groups[i]
        if i in done:
            continue
        if not accounts.fits(group.blocks, group.demands):
            done.add(i)
            continue
        accounts.allocate(group.blocks, group.demands)
        out.admitted.append((group, (arrival, claim)))
        taken.setdefault(i, set()).add(claim)
    for i, claims in taken.items():
        groups[i].members = deque(m for m in groups[i].members if m[1] not in claims)


def hopeless_block(group: Group[K, D], accounts: Accounts[K, D]) -> K | None:
    """A retired block never unlocks more, so a demand it cannot serve now will never be served (note §7)."""
    for block, demand in zip(group.blocks, group.demands, strict=True):
        if accounts.is_retired(block) and not accounts.fits_block(block, demand):
            return block
    return None


# --- the ledger's adapter --------------------------------------------------------------------------


@dataclass
class PassOutcome:
    admitted: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)  # claim id -> reason
    blocks: dict[str, Block] = field(default_factory=dict)  # the blocks that changed


def infeasible_reason(demands: Mapping[str, Budget], blocks: Mapping[str, Block]) -> str | None:
    """Why a claim can never run whatever the policy does (demand above a block's capacity)."""
    for key, demand in demands.items():
        capacity = blocks[key].capacity
        if not demand.admissible_in(capacity):
            return f"demand {demand} exceeds the capacity {capacity} of block {key}; it can never run"
    return None


def hopeless_reason(demands: Mapping[str, Budget], blocks: Mapping[str, Block]) -> str | None:
    """Why a waiting claim will never be served: one of its blocks is retired and cannot serve it now."""
    for key, demand in demands.items():
        block = blocks[key]
        if block.final and not demand.admissible_in(block.unlocked):
            return (
                f"block {key} has released all its budget and only {block.unlocked} is left "
                f"unallocated, below the demand {demand}"
            )
    return None


def group_requests(pending: Iterable[Request]) -> list[Group[str, Budget]]:
    groups: dict[tuple[Any, ...], Group[str, Budget]] = {}
    for request in sorted(pending, key=lambda r: (r.submitted_at, r.id)):
        demands = request.demands()
        blocks, amounts = tuple(demands), tuple(demands.values())
        weight = float(getattr(request, "weight", 1.0))
        group = groups.setdefault((blocks, amounts, weight), Group(blocks, amounts, weight))
        group.members.append((request.submitted_at, request.id))
    return list(groups.values())


def run_pass(pending: Iterable[Request], blocks: Mapping[str, Block], policy: SchedulingPolicy) -> PassOutcome:
    """One pass of ``policy`` over the ledger's pending claims and exact Decimal blocks."""
    requests = {r.id: r for r in pending}
    accounts = BlockAccounts(blocks, include_delta_in_share=policy.include_delta_in_share)
    groups = group_requests(requests.values())
    result = policy.admit(groups, accounts)
    outcome = PassOutcome(admitted=[member[1] for _, member in result.admitted])
    for group in result.hopeless:
        for _, claim_id in group.members:
            accounts.forget(group.blocks, claim_id)
            reason = hopeless_reason(requests[claim_id].demands(), accounts.blocks)
            outcome.rejected[claim_id] = reason or (
                "a block it reads has released all its budget and too little is left for the rest of its "
                "demand; resubmit with a smaller epsilon or on newer blocks"
            )
    outcome.blocks = accounts.changed()
    return outcome
