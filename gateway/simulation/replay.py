"""Replay a workload through the real policy code, with simulated time and float-array accounts.

The event loop only decides *when* things happen (block creations, arrivals, clock ticks, timeouts);
every decision (what a block unlocks, who is admitted, who is hopeless) is the policy's, exactly as in
the ledger. Speed comes from two exact shortcuts: identical pending tasks share a ``Group``, and a pass
only looks at groups touching a block whose unlocked budget grew since the last pass (any other group
failed before and its blocks only shrank since).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

from gateway.core import rdp as rdp_curves
from gateway.core.scheduling import Group, PolicySettings, make_policy
from gateway.core.scheduling.admission import hopeless_block
from gateway.errors import GatewayValidationError
from gateway.simulation.accounts import ArrayAccounts
from gateway.simulation.clock import SimulatedClock
from gateway.simulation.metrics import GRANTED, REJECTED, TIMED_OUT, SimulationReport, summarize
from gateway.simulation.workloads import Workload


@dataclass(frozen=True)
class ReplayOptions:
    rdp: bool = False
    alphas: tuple[float, ...] = rdp_curves.SIMULATOR_ALPHAS
    tick: float | None = None  # default: half the mean arrival interval (the artifact's adaptive tick)
    waste_held: bool = False  # round robin: lose a failed claim's accumulations, as the artifact does
    # DPF-N, dynamic blocks: retire at block interval x most blocks per task x 1.01 (101 s on pk-multi-block)
    # leaving the rest locked, so it is lost, as the artifact's _dpfn_subloop_eol_retire does (note Q8)
    retire_without_unlock: bool = False


def retirement_age(workload: Workload, settings: PolicySettings, options: ReplayOptions) -> float | None:
    """Seconds after its creation at which the artifact retires a dynamic DPF-N block (Q8), if asked."""
    if not options.retire_without_unlock:
        return None
    if settings.policy != "dpf-n":
        raise GatewayValidationError(
            f"--retire-without-unlock reproduces the artifact's DPF-N block end of life (quirk Q8); it means "
            f"nothing for policy {settings.policy}: use dpf-n or drop it"
        )
    if not workload.block_interval:
        raise GatewayValidationError(
            "--retire-without-unlock retires dynamic blocks, but this workload has a static set of blocks; "
            "give it a block interval or drop it"
        )
    return workload.block_interval * max(t.blocks for t in workload.tasks) * 1.01


def _demands(workload: Workload, options: ReplayOptions) -> list[np.ndarray]:
    cache: dict[Hashable, np.ndarray] = {}
    out = []
    for task in workload.tasks:
        if task.curve is not None:
            if not options.rdp:
                raise GatewayValidationError("this workload gives RDP curves; replay it with --rdp")
            if workload.alphas != options.alphas:
                raise GatewayValidationError(
                    f"the workload's curves use alphas {list(workload.alphas or ())}, not {list(options.alphas)}"
                )
            key: Hashable = task.curve
        else:
            key = task.epsilon
        if key not in cache:
            if task.curve is not None:
                cache[key] = np.asarray(task.curve)
            else:
                assert task.epsilon is not None  # a task has a curve or an epsilon (workloads check it)
                if options.rdp:
                    cache[key] = np.array(rdp_curves.epsilon_demand(task.epsilon, options.alphas), dtype=float)
                else:
                    cache[key] = np.asarray([task.epsilon])
        out.append(cache[key])
    return out


Observer = Callable[[float, ArrayAccounts, np.ndarray], None]


def replay(
    workload: Workload,
    settings: PolicySettings,
    options: ReplayOptions = ReplayOptions(),
    observe: Observer | None = None,
) -> SimulationReport:
    """Run ``workload`` under ``settings``; ``observe(now, accounts, status)`` sees the state after every event."""
    started = time.perf_counter()
    policy = make_policy(settings)
    rule = policy.unlock
    if options.rdp:
        capacity = rdp_curves.block_capacity(workload.block_epsilon, workload.block_delta, options.alphas)
    else:
        capacity = (workload.block_epsilon,)
    if options.rdp and policy.name.startswith("rr-"):
        raise GatewayValidationError("round robin has no RDP variant (as in the artifact); drop --rdp or pick dpf/fcfs")
    accounts = ArrayAccounts(len(capacity), options.rdp)
    accounts.waste_held = options.waste_held
    clock = SimulatedClock()
    demands = _demands(workload, options)
    n_tasks = len(workload.tasks)
    status = np.zeros(n_tasks, dtype=np.int8)
    delays = np.zeros(n_tasks)
    groups: dict[Hashable, Group] = {}
    by_block: list[list[Group]] = []
    dirty: set[int] = set()
    fresh: list[Group] = []
    deadlines: deque[tuple[float, Group, int]] = deque()
    passes = 0

    def pass_over(candidates: list[Group]) -> None:
        nonlocal passes
        passes += 1
        result = policy.admit(candidates, accounts)
        touched: set[int] = set()
        for group, (arrival, index) in result.admitted:
            status[index] = GRANTED
            delays[index] = clock.now - arrival
            touched.update(b for b in group.blocks if accounts.retired[b])
        # a retired block that lost budget may doom other groups (round robin finds its own hopeless claims)
        doom(set() if policy.holds_budget else touched, result.hopeless, set(map(id, candidates)))

    def doom(blocks: set[int], hopeless: list[Group], seen: set[int]) -> None:
        """Reject ``hopeless`` and every other waiting group that a retired block in ``blocks`` cannot serve."""
        for block in blocks:
            hopeless += [
                g
                for g in by_block[block]
                if g.members and id(g) not in seen and hopeless_block(g, accounts) is not None
            ]
        for group in hopeless:
            for _, index in group.members:
                status[index] = REJECTED
                accounts.forget(group.blocks, index)
            if policy.holds_budget:  # round robin may have given accumulations back
                dirty.update(group.blocks)
            group.members.clear()

    block_times = workload.block_times()
    tick = options.tick or 0.5 * workload.arrival_interval
    ticking = rule.time_based or policy.batched
    next_tick = tick if ticking else math.inf
    retire_age = retirement_age(workload, settings, options)
    retirements: deque[tuple[float, int]] = deque()  # (when, block), in creation order
    heap_array = settings.order == "heap_array"
    bi = ti = 0
    while True:
        t_block = block_times[bi] if bi < len(block_times) else math.inf
        t_task = workload.tasks[ti].arrival if ti < n_tasks else math.inf
        t_retire = retirements[0][0] if retirements else math.inf
        now = min(t_block, t_task, next_tick, t_retire)
        if now >= workload.duration:
            break
        clock.advance(now)
        on_tick = False
        if now == t_block:
            block = accounts.add_block(capacity, now)
            by_block.append([])
            if accounts.release(block, *rule.initial()):
                dirty.add(block)
            if retire_age is not None:
                retirements.append((now + retire_age, block))
            bi += 1
        elif now == t_retire:
            _, block = retirements.popleft()
            if not accounts.retired[block]:
                accounts.retired[block] = True  # whatever is still locked stays locked: lost (Q8)
                doom({block}, [], set())
        elif now == t_task:
            task = workload.tasks[ti]
            existing = len(by_block)
            if existing == 0:
                status[ti] = REJECTED
            else:
                k = min(task.blocks, existing)
                blocks = tuple(range(existing - k, existing))
                for block in blocks:
                    accounts.arrivals[block] += 1
                    if accounts.retired[block]:  # released all it will (or retired early, Q8): no unlock
                        continue
                    step = rule.after_arrival(accounts.arrivals[block])
                    if step is not None and accounts.release(block, *step):
                        dirty.add(block)
                demand = demands[ti]
                key = (blocks, id(demand), task.weight)
                group = groups.get(key)
                if group is None:
                    group = groups[key] = Group(blocks, (demand,) * k, task.weight)
                    for block in blocks:
                        by_block[block].append(group)
                if not group.members:
                    fresh.append(group)
                group.members.append((now, ti))
                if workload.timeout is not None:
                    deadlines.append((now + workload.timeout, group, ti))
            ti += 1
        else:
            on_tick = True
            for block, created in enumerate(accounts.created):
                if not accounts.retired[block]:
                    step = rule.at(now - created)
                    if step is not None and accounts.release(block, *step):
                        dirty.add(block)
            next_tick += tick
        while deadlines and deadlines[0][0] <= now:
            _, group, index = deadlines.popleft()
            if group.members and group.members[0][1] == index:
                group.members.popleft()
                status[index] = TIMED_OUT
                accounts.forget(group.blocks, index)
                if policy.holds_budget:  # nothing else gives budget back (an unlock would misread as Q1's)
                    dirty.update(group.blocks)
        if policy.batched:
            if on_tick:
                pass_over([g for g in groups.values() if g.members])
                dirty.clear()
                fresh.clear()
            if observe is not None:
                observe(now, accounts, status)
            continue
        if dirty or fresh:
            if heap_array:  # the artifact's list: every waiting claim after an unlock, else the new ones (Q1)
                pool = groups.values() if dirty else fresh
                candidates = {id(g): g for g in pool if g.members}
            else:
                candidates = {id(g): g for g in fresh if g.members}
                for block in dirty:
                    candidates.update((id(g), g) for g in by_block[block] if g.members)
            dirty.clear()
            fresh.clear()
            if candidates:
                pass_over(list(candidates.values()))
        if observe is not None:
            observe(now, accounts, status)

    mice = np.fromiter((t.mice for t in workload.tasks), dtype=bool, count=n_tasks)
    many = np.fromiter((t.blocks > 1 for t in workload.tasks), dtype=bool, count=n_tasks)
    return SimulationReport(
        workload=workload.name,
        policy=settings.policy,
        n=settings.n,
        lifetime=settings.lifetime,
        rdp=options.rdp,
        passes=passes,
        run_time_s=time.perf_counter() - started,
        **summarize(status, delays, mice, many),
    )
