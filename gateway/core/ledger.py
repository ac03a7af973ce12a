"""The ledger as a pure state machine.

Every operation takes a ``LedgerState`` snapshot and returns the next state plus audit events; it
performs no I/O. ``diff`` turns (old, new) into a ``Change``: the records that differ, each carrying
the version it replaces, so a store can apply it atomically and conditionally (optimistic
concurrency: if another writer changed one of those records first, the commit fails and the caller
re-reads and recomputes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.core import rdp
from gateway.core.analysts import Analyst
from gateway.core.blocks import Block, block_key, resolve_blocks, version_key
from gateway.core.budget import Budget, quantize_up
from gateway.core.claims import Claim, ClaimState, submission_id_for
from gateway.core.datasets import Dataset, check_version_label
from gateway.core.scheduling import PolicySettings, infeasible_reason, make_policy, run_pass
from gateway.core.scheduling.block_accounts import BlockAccounts
from gateway.core.spec import Engine, QuerySpec
from gateway.errors import (
    BlockRangeError,
    DuplicateSubmissionError,
    GatewayValidationError,
    LedgerConflictError,
    SubmissionNotFoundError,
    UnknownDatasetError,
)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One append-only line of the audit trail."""

    at: dt.datetime
    kind: str  # dataset-added, blocks-added, submitted, granted, rejected, launched, charged, released,
    # cancelled, analyst-added, analyst-revoked
    submission_id: str | None = None
    analyst: str | None = None
    blocks: tuple[str, ...] = ()
    amount: Budget | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "kind": self.kind,
            "submission_id": self.submission_id,
            "analyst": self.analyst,
            "blocks": list(self.blocks),
            "amount": self.amount.to_json() if self.amount else None,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditEvent:
        return cls(
            at=dt.datetime.fromisoformat(data["at"]),
            kind=data["kind"],
            submission_id=data.get("submission_id"),
            analyst=data.get("analyst"),
            blocks=tuple(data.get("blocks") or ()),
            amount=Budget.from_json(data["amount"]) if data.get("amount") else None,
            reason=data.get("reason"),
        )


@dataclass(frozen=True)
class RetiredDays:
    """The days of one data set whose blocks have left the live state (see ``is_spent``).

    Runs of consecutive days of one capacity, so the record stays a few lines however many years of
    days retire: enough for a selection to resolve exactly as if the blocks were live (a query naming a
    retired day is rejected, never moved to other days) and for ``blocks add`` to refuse re-adding one.
    """

    dataset: str
    runs: tuple[tuple[dt.date, dt.date, Budget], ...] = ()
    version: int = 1

    def days(self) -> Iterable[dt.date]:
        for first, last, _ in self.runs:
            yield from (first + dt.timedelta(days=i) for i in range((last - first).days + 1))

    def capacity_of(self, day: dt.date) -> Budget | None:
        return next((capacity for first, last, capacity in self.runs if first <= day <= last), None)

    def with_blocks(self, blocks: Iterable[Block]) -> RetiredDays:
        days = [(b.day, b.day, b.capacity) for b in blocks if b.day is not None]  # versions never retire here
        runs = sorted([*self.runs, *days], key=lambda run: run[0])
        merged: list[tuple[dt.date, dt.date, Budget]] = []
        for first, last, capacity in runs:
            if merged and merged[-1][1] + dt.timedelta(days=1) == first and merged[-1][2] == capacity:
                merged[-1] = (merged[-1][0], last, capacity)
            else:
                merged.append((first, last, capacity))
        return replace(self, runs=tuple(merged))

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "runs": [[a.isoformat(), b.isoformat(), c.to_json()] for a, b, c in self.runs],
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RetiredDays:
        return cls(
            dataset=data["dataset"],
            runs=tuple(
                (dt.date.fromisoformat(a), dt.date.fromisoformat(b), Budget.from_json(c)) for a, b, c in data["runs"]
            ),
            version=int(data["version"]),
        )


@dataclass(frozen=True)
class LedgerState:
    settings: PolicySettings
    datasets: dict[str, Dataset] = field(default_factory=dict)
    blocks: dict[str, Block] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)
    analysts: dict[str, Analyst] = field(default_factory=dict)  # absent from ledgers made before team mode
    retired: dict[str, RetiredDays] = field(default_factory=dict)  # data set -> days whose blocks left

    def dataset(self, name: str) -> Dataset:
        try:
            return self.datasets[name]
        except KeyError:
            known = ", ".join(sorted(self.datasets)) or "none yet"
            raise UnknownDatasetError(
                f"unknown data set {name!r} (registered: {known}); register it with: dpgw datasets add {name} ..."
            ) from None

    def claim(self, claim_id: str) -> Claim:
        try:
            return self.claims[claim_id]
        except KeyError:
            raise SubmissionNotFoundError(f"no submission {claim_id!r}; list them with: dpgw status") from None

    def blocks_of(self, dataset: str) -> list[Block]:
        return sorted((b for b in self.blocks.values() if b.dataset == dataset), key=lambda b: b.order)

    def retired_days(self, dataset: str) -> list[dt.date]:
        record = self.retired.get(dataset)
        return list(record.days()) if record is not None else []

    def pending(self) -> list[Claim]:
        return [c for c in self.claims.values() if c.state is ClaimState.PENDING]

    def with_(
        self,
        blocks: Iterable[Block] = (),
        claims: Iterable[Claim] = (),
        datasets: Iterable[Dataset] = (),
        analysts: Iterable[Analyst] = (),
        retired: Iterable[RetiredDays] = (),
    ) -> LedgerState:
        return replace(
            self,
            datasets={**self.datasets, **{d.name: d for d in datasets}},
            blocks={**self.blocks, **{b.key: b.check() for b in blocks}},
            claims={**self.claims, **{c.id: c for c in claims}},
            analysts={**self.analysts, **{a.name: a for a in analysts}},
            retired={**self.retired, **{r.dataset: r for r in retired}},
        )


@dataclass(frozen=True)
class Change:
    """Records to write, each with ``version`` = the stored version it replaces + 1 (1 = create).

    ``spent``: blocks that leave the live state for history (conditioned on their version like a write),
    ``retired``: the data sets' records of such days, updated to name them.
    """

    datasets: tuple[Dataset, ...] = ()
    blocks: tuple[Block, ...] = ()
    claims: tuple[Claim, ...] = ()
    events: tuple[AuditEvent, ...] = ()
    analysts: tuple[Analyst, ...] = ()
    spent: tuple[Block, ...] = ()
    retired: tuple[RetiredDays, ...] = ()

    def is_empty(self) -> bool:
        return not (self.datasets or self.blocks or self.claims or self.events or self.analysts or self.spent)


def diff(old: LedgerState, new: LedgerState, events: Iterable[AuditEvent] = ()) -> Change:
    blocks = tuple(
        replace(b, version=old.blocks[k].version + 1 if k in old.blocks else 1)
        for k, b in new.blocks.items()
        if _changed(old.blocks.get(k), b)
    )
    claims = tuple(
        replace(c, version=old.claims[k].version + 1 if k in old.claims else 1)
        for k, c in new.claims.items()
        if _changed(old.claims.get(k), c)
    )
    datasets = tuple(d for name, d in new.datasets.items() if name not in old.datasets)
    analysts = tuple(
        replace(a, version=old.analysts[k].version + 1 if k in old.analysts else 1)
        for k, a in new.analysts.items()
        if _changed(old.analysts.get(k), a)
    )
    spent, retired = _move_out(old, tuple(b for b in _spent_blocks(new, blocks, claims) if b.key in old.blocks))
    if spent:
        gone = {b.key for b in spent}
        blocks = tuple(b for b in blocks if b.key not in gone)
    return Change(
        datasets=datasets,
        blocks=blocks,
        claims=claims,
        events=tuple(events),
        analysts=analysts,
        spent=spent,
        retired=retired,
    )


def _move_out(old: LedgerState, spent: tuple[Block, ...]) -> tuple[tuple[Block, ...], tuple[RetiredDays, ...]]:
    """Spent blocks as the change that moves them out (each conditioned on its version) and their data sets'
    retired-days records updated to name them."""
    if not spent:
        return (), ()
    spent = tuple(replace(b, version=old.blocks[b.key].version + 1) for b in spent)
    retired: list[RetiredDays] = []
    for name in sorted({b.dataset for b in spent}):
        record = old.retired.get(name) or RetiredDays(name, version=0)
        updated = record.with_blocks(b for b in spent if b.dataset == name)
        retired.append(replace(updated, version=record.version + 1))
    return spent, tuple(retired)


def sweep_spent(state: LedgerState, limit: int) -> Change:
    """A change moving out up to ``limit`` spent blocks that are still live (no unfinished claim names them).

    A commit normally moves a block out as it becomes spent; a store that cannot take the move in the same
    commit (a DynamoDB transaction would exceed its action limit) leaves it live, and this picks it up on a
    later scheduling pass. Costs one look at each live block, as the pass itself does.
    """
    named = {k for c in state.claims.values() if not is_finished(c) for k in c.blocks}
    stranded = [b for k, b in state.blocks.items() if k not in named and is_spent(b)][:limit]
    spent, retired = _move_out(state, tuple(stranded))
    return Change(spent=spent, retired=retired)


def is_spent(block: Block) -> bool:
    """A block that can never grant budget again, under any policy or accounting, so it may leave the live state.

    All of: retired with nothing locked (``final``: no unlock step, by arrival or clock, will ever release
    more, and under ``release_to="locked"`` nothing re-locked waits to be released); nothing allocated and
    nothing held (no admitted or running claim whose release or finish could give budget back, no round-robin
    accumulation); and no budget left that any demand could take (a demand has ε > 0, so: ε unlocked is zero
    under basic accounting, no order above zero under rdp). A block with any budget left, however little,
    stays live. ``diff`` also keeps a spent block live while an unfinished claim names it. A snapshot's
    version block stays live: versions come one per operator ``blocks add``, not one per day, so they
    never pile up the way years of days do.
    """
    if block.day is None or not block.final or not block.allocated.is_zero() or block.held:
        return False
    if block.unlocked.curve is not None or block.capacity.is_curve:
        return not any(x > 0 for x in block.unlocked.aligned_with(block.capacity)[0])
    return block.unlocked.epsilon <= 0


def _spent_blocks(new: LedgerState, blocks: tuple[Block, ...], claims: tuple[Claim, ...]) -> tuple[Block, ...]:
    """The blocks this change leaves spent and that no unfinished claim names: they move to history.

    Candidates are the blocks the change writes and those of the claims it finishes (the last claim naming
    a spent block may finish in a change that does not touch the block)."""
    keys = [b.key for b in blocks] + [k for c in claims if is_finished(c) for k in c.blocks]
    spent = {k: new.blocks[k] for k in dict.fromkeys(keys) if k in new.blocks and is_spent(new.blocks[k])}
    if not spent:
        return ()
    named = {k for c in new.claims.values() if not is_finished(c) for k in c.blocks}
    return tuple(b for k, b in spent.items() if k not in named)


def _changed(old: object, new: object) -> bool:
    return old is not new and old != new  # untouched records are the very same objects: skip deep compares


def apply(state: LedgerState, change: Change) -> LedgerState:
    """The state a store holds after committing ``change`` (used by stores and tests alike)."""
    new = state.with_(
        blocks=change.blocks,
        claims=change.claims,
        datasets=change.datasets,
        analysts=change.analysts,
        retired=change.retired,
    )
    if not change.spent:
        return new
    gone = {b.key for b in change.spent}
    return replace(new, blocks={k: b for k, b in new.blocks.items() if k not in gone})


def utc_month() -> str:
    """The month history written now is filed under (history segments and partitions are monthly)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m")


def is_finished(claim: Claim) -> bool:
    """A claim the scheduler never looks at again: it leaves the live state for the history."""
    return claim.state.is_terminal


def finished_claims(change: Change) -> tuple[Claim, ...]:
    """The claims a change finishes (or records finished at once, e.g. rejected on arrival)."""
    return tuple(c for c in change.claims if is_finished(c))


def apply_live(state: LedgerState, change: Change) -> LedgerState:
    """The live state a history-keeping store holds after ``change``: finished claims have moved to history."""
    new = apply(state, change)
    done = [c.id for c in change.claims if is_finished(c)]
    if not done and not any(is_finished(c) for c in state.claims.values()):
        return new
    return replace(new, claims={k: c for k, c in new.claims.items() if not is_finished(c)})


def check_history(change: Change, recorded: Callable[[str], bool]) -> None:
    """The commit condition's other half: a new claim must not reuse the id of one already in history.

    (A claim's id is derived from its client id: a retry that races the original's finish must find the
    finished claim, never start a second submission under the same id.)
    """
    for claim in change.claims:
        if claim.version == 1 and recorded(claim.id):
            raise LedgerConflictError(f"submission {claim.id} is already recorded (finished)")


# --- operations -----------------------------------------------------------------------------------

Step = tuple[LedgerState, list[AuditEvent]]


def add_dataset(state: LedgerState, dataset: Dataset, now: dt.datetime) -> Step:
    if dataset.name in state.datasets:
        raise GatewayValidationError(f"data set {dataset.name!r} is already registered")
    return state.with_(datasets=[dataset]), [AuditEvent(now, "dataset-added", reason=dataset.path)]


def _block_capacity(state: LedgerState, capacity: Budget) -> tuple[Budget, Budget | None]:
    """What a block of ``capacity`` (εG, δG) holds, and its (ε, δ) guarantee: the curve of it under rdp."""
    if state.settings.rdp and not capacity.is_curve:
        curve = rdp.capacity_curve(capacity.epsilon, capacity.delta, state.settings.orders())
        return Budget(curve=curve), capacity
    return capacity, None


def blocks_to_add(state: LedgerState, dataset: str, days: list[dt.date], capacity: Budget) -> list[dt.date]:
    """The days of a range that still need a block; refuses the range if a day's block has another capacity."""
    if state.dataset(dataset).public:
        raise GatewayValidationError(f"data set {dataset!r} is a public table: it has no blocks and no budget")
    if state.dataset(dataset).snapshot:
        raise GatewayValidationError(
            f"data set {dataset!r} is a snapshot (no time column): add a block per version with "
            f"dpgw blocks add {dataset} --version LABEL --epsilon E, not days"
        )
    capacity, _ = _block_capacity(state, capacity)
    if not days:
        raise BlockRangeError("no days to add")
    missing, clashing = [], []
    retired = state.retired.get(dataset)
    for day in days:
        existing = state.blocks.get(block_key(dataset, day))
        had = existing.capacity if existing is not None else retired.capacity_of(day) if retired else None
        if had is None:
            missing.append(day)
        elif had != capacity:
            clashing.append((day, had))
    if clashing:
        day, had = clashing[0]
        raise BlockRangeError(
            f"{len(clashing)} block(s) of {dataset!r} in this range already exist with another capacity (first: "
            f"{day}, {had}); a block's capacity is fixed once added (a retired day's block, too)"
        )
    return missing


def add_blocks(state: LedgerState, dataset: str, days: list[dt.date], capacity: Budget, now: dt.datetime) -> Step:
    """Add a block per day; days that already have a block of this capacity are skipped, so re-running an
    interrupted range adds only what is missing. A day whose block has another capacity refuses the
    whole range (a block's capacity is fixed once added). Under rdp accounting a block holds the curve of
    its (εG, δG) guarantee."""
    missing = blocks_to_add(state, dataset, days, capacity)
    if not missing:
        return state, []  # every day has its block already: nothing to do
    capacity, guarantee = _block_capacity(state, capacity)
    unlocked, retired = make_policy(state.settings).initial_block(capacity)
    zero = Budget()
    blocks = [
        Block(dataset, day, capacity, unlocked, zero, zero, retired=retired, created_at=now, guarantee=guarantee)
        for day in missing
    ]
    event = AuditEvent(now, "blocks-added", blocks=tuple(b.key for b in blocks), amount=capacity)
    return state.with_(blocks=blocks), [event]


def add_version(state: LedgerState, dataset: str, label: str, capacity: Budget, now: dt.datetime) -> Step:
    """Add the block of a snapshot's new version (its data under ``<path>/version=<label>``).

    Adding the same version again with the same capacity does nothing; another capacity is refused.
    """
    target = state.dataset(dataset)
    if not target.snapshot:
        kind = "a public table: it has no blocks" if target.public else "dated: it has one block per day"
        raise GatewayValidationError(
            f"data set {dataset!r} is {kind}; --version is for snapshot data sets "
            "(dpgw datasets add NAME --path ... --no-time-column)"
        )
    check_version_label(label)
    holds, guarantee = _block_capacity(state, capacity)
    existing = state.blocks.get(version_key(dataset, label))
    if existing is not None:
        if existing.capacity != holds:
            raise BlockRangeError(
                f"version {label!r} of {dataset!r} already has a block with capacity "
                f"{existing.guarantee or existing.capacity}; a block's capacity is fixed once added"
            )
        return state, []
    unlocked, retired = make_policy(state.settings).initial_block(holds)
    zero = Budget()
    block = Block(
        dataset,
        None,
        holds,
        unlocked,
        zero,
        zero,
        retired=retired,
        created_at=now,
        guarantee=guarantee,
        data_version=label,
    )
    return state.with_(blocks=[block]), [AuditEvent(now, "blocks-added", blocks=(block.key,), amount=holds)]


def public_tables_of(state: LedgerState, spec: QuerySpec) -> dict[str, Dataset]:
    """The public tables a spec reads keys from (handed to its job)."""
    names = [spec.group_by.from_table if spec.group_by is not None else None, spec.join.table if spec.join else None]
    return {name: state.dataset(name) for name in names if name is not None}


def prepare_claim(
    state: LedgerState, spec: QuerySpec, now: dt.datetime, claim_id: str | None = None, launcher: str = "local"
) -> Claim:
    """Validate a spec against the ledger and build its claim; raises on any bad input."""
    dataset = state.dataset(spec.dataset)
    if dataset.public:
        raise GatewayValidationError(
            f"data set {dataset.name!r} is a public table: it has no budget and is not queried with DP; "
            "use it for group-by keys (group_by: {columns: [...], keys: {from: NAME}})"
        )
    spec.check_against(dataset, {n: d for n, d in state.datasets.items() if d.public})
    demand = demand_of(spec, state.settings)
    keys = resolve_blocks(dataset, spec.blocks, state.blocks_of(dataset.name), state.retired_days(dataset.name))
    return Claim(
        id=claim_id or submission_id_for(spec),
        spec=spec,
        blocks=keys,
        demand=demand,
        state=ClaimState.PENDING,
        submitted_at=now,
        updated_at=now,
        launcher=launcher,
    )


def demand_of(spec: QuerySpec, settings: PolicySettings) -> Budget:
    """What the ledger reserves per block: the spec's (ε, δ) (basic), or its mechanism's RDP curve (rdp)."""
    if not settings.rdp:
        return spec.budget.to_budget()
    budget = spec.budget
    if spec.group_by is not None and spec.group_by.private:
        raise GatewayValidationError(
            "group_by keys: private (groups selected from the data with DP) is not supported under rdp "
            "accounting yet: partition selection is an (ε, δ) mechanism with no RDP curve to charge; declare "
            "the keys (keys: [...] or keys: {from: PUBLIC_TABLE})"
        )
    if budget.rho is not None and spec.engine is not Engine.TUMULT:
        raise GatewayValidationError(
            f"engine {spec.engine.value} takes an (ε, δ) budget; give {{epsilon, delta}} or use engine tumult "
            "for a zCDP budget {rho}"
        )
    return Budget(curve=rdp.demand_curve(budget.epsilon, budget.delta, budget.rho, settings.orders()))


def existing_submission(state: LedgerState, claim: Claim) -> Claim | None:
    """The earlier submission with the same client id, if any; a different query under it is an error."""
    return same_query(state.claims.get(claim.id), claim)


def same_query(old: Claim | None, claim: Claim) -> Claim | None:
    """``old`` if it is the same query as ``claim`` (a retry), None if there is none; else an error."""
    if old is None:
        return None
    if old.spec != claim.spec:
        raise DuplicateSubmissionError(
            f"client id {claim.spec.client_id!r} was already used by {claim.spec.analyst} for a different "
            f"query (submission {old.id}); choose a new client id"
        )
    return old


def arrive(state: LedgerState, claim: Claim, now: dt.datetime) -> Step:
    """Record a new claim: reject it at once if it can never fit, else unlock per policy and queue it.

    Idempotent: a claim whose id is already recorded (a retried client id) changes nothing.
    """
    if existing_submission(state, claim) is not None:
        return state, []
    demands = claim.demands()
    reason = _retired_reason(state, claim) or infeasible_reason(demands, state.blocks)
    submitted = AuditEvent(now, "submitted", claim.id, claim.analyst, claim.blocks, claim.demand)
    if reason is not None:
        rejected = replace(claim, state=ClaimState.REJECTED, reason=reason)
        event = AuditEvent(now, "rejected", claim.id, claim.analyst, claim.blocks, claim.demand, reason)
        return state.with_(claims=[rejected]), [submitted, event]
    policy = make_policy(state.settings)
    blocks = [policy.on_arrival(state.blocks[key]) for key in claim.blocks]
    return state.with_(blocks=blocks, claims=[claim]), [submitted]


def _retired_reason(state: LedgerState, claim: Claim) -> str | None:
    """Why a claim naming a block that has left the live state can never run (it is retired and spent)."""
    gone = next((key for key in claim.blocks if key not in state.blocks), None)
    if gone is None:
        return None
    return f"block {gone} is retired and its budget is spent: it can grant nothing (see dpgw blocks list --all)"


def clock_releases(state: LedgerState, at: dt.datetime, size: int) -> list[tuple[str, ...]]:
    """The blocks whose budget the clock has unlocked by ``at`` (time-based policies), in chunks of ``size``.

    A time-based policy moves every live block at once; committing that apart from the admissions, in
    chunks, keeps each commit small (DynamoDB takes at most 100 records per transaction).
    """
    policy = make_policy(state.settings)
    if not policy.unlock.time_based:
        return []
    moved = [k for k, b in state.blocks.items() if policy.on_clock(b, at) is not b]
    return [tuple(moved[i : i + size]) for i in range(0, len(moved), size)]


def advance_clock(state: LedgerState, at: dt.datetime, keys: Iterable[str]) -> Step:
    """Release what the clock has unlocked by ``at`` on these blocks; repeating it at the same ``at`` is a no-op."""
    policy = make_policy(state.settings)
    return state.with_(blocks=[policy.on_clock(state.blocks[k], at) for k in keys]), []


def schedule(state: LedgerState, now: dt.datetime, clock_at: dt.datetime | None = None) -> Step:
    """Release what the clock has unlocked (time-based policies), then one admission pass over every pending claim.

    ``clock_at``: the instant unlocks are brought up to (default ``now``); a caller that committed
    ``advance_clock`` at that instant first passes it so that the admission steps touch only their blocks.
    """
    policy = make_policy(state.settings)
    if policy.unlock.time_based:
        state, _ = advance_clock(state, now if clock_at is None else clock_at, state.blocks)
    events: list[AuditEvent] = []
    claims: list[Claim] = []
    pending = []
    for claim in state.pending():  # one that arrived as its block left the live state (a race) is rejected
        reason = _retired_reason(state, claim)
        if reason is None:
            pending.append(claim)
            continue
        claims.append(claim.transition(ClaimState.REJECTED, (ClaimState.PENDING,), now, reason=reason))
        events.append(AuditEvent(now, "rejected", claim.id, claim.analyst, claim.blocks, claim.demand, reason))
    outcome = run_pass(pending, state.blocks, policy)
    for claim_id in outcome.admitted:
        claim = state.claims[claim_id]
        claims.append(claim.transition(ClaimState.ADMITTED, (ClaimState.PENDING,), now))
        events.append(AuditEvent(now, "granted", claim.id, claim.analyst, claim.blocks, claim.demand))
    for claim_id, reason in outcome.rejected.items():
        claim = state.claims[claim_id]
        claims.append(claim.transition(ClaimState.REJECTED, (ClaimState.PENDING,), now, reason=reason))
        events.append(AuditEvent(now, "rejected", claim.id, claim.analyst, claim.blocks, claim.demand, reason))
    return state.with_(blocks=outcome.blocks.values(), claims=claims), events


def start_launch(state: LedgerState, claim_id: str, now: dt.datetime) -> Step:
    """Record the intent to launch before calling the launcher, so a crash leaves a trace to reconcile."""
    claim = _live(state, claim_id)
    launching = claim.transition(ClaimState.LAUNCHING, (ClaimState.ADMITTED,), now)
    return state.with_(claims=[launching]), []


def record_run(state: LedgerState, claim_id: str, run_id: str, now: dt.datetime) -> Step:
    claim = _live(state, claim_id)
    running = claim.transition(ClaimState.RUNNING, (ClaimState.LAUNCHING,), now, run_id=run_id)
    event = AuditEvent(now, "launched", claim.id, claim.analyst, claim.blocks, reason=f"{claim.launcher} {run_id}")
    return state.with_(claims=[running]), [event]


def finish(
    state: LedgerState,
    claim_id: str,
    succeeded: bool,
    now: dt.datetime,
    result: dict[str, Any] | None = None,
    reason: str | None = None,
    detail: str | None = None,
    spent: Budget | None = None,
) -> Step:
    """A job ended: its reservation becomes consumed whether it succeeded or not (it may have read data).

    ``spent`` is a succeeded job's receipt (what the DP library's accountant used). When it is within
    the grant, exactly that is charged and the unspent rest goes back to the blocks the way a release
    does (e.g. a δ that a pure-DP mechanism never used). Anything else (a failure, no receipt, or a
    receipt outside the grant) charges the whole grant: never less than spent, never more than granted.
    The audit event records the amount charged and what was returned; ``detail`` (operator only) is
    stored on the claim, never in the audit trail.
    """
    claim = _live(state, claim_id)
    to = ClaimState.SUCCEEDED if succeeded else ClaimState.FAILED
    charged = claim.demand
    if succeeded and spent is not None and spent.is_non_negative() and spent.fits_in(claim.demand):
        charged = _ledger_scale(spent).min(claim.demand)  # per order under rdp
    returned = (claim.demand - charged).clipped()
    done = claim.transition(to, (ClaimState.RUNNING,), now, result=result, reason=reason, detail=detail)
    to_locked = state.settings.release_to == "locked"
    blocks = []
    for key, demand in claim.demands().items():
        block = state.blocks[key]
        unlocked = block.unlocked if to_locked else block.unlocked + returned
        blocks.append(
            replace(block, allocated=block.allocated - demand, consumed=block.consumed + charged, unlocked=unlocked)
        )
    note = reason
    if not returned.is_zero():
        note = "; ".join(x for x in (reason, f"returned unspent {returned}") if x)
    event = AuditEvent(now, "charged", claim.id, claim.analyst, claim.blocks, charged, note)
    return state.with_(blocks=blocks, claims=[done]), [event]


def _ledger_scale(amount: Budget) -> Budget:
    if amount.curve is not None:
        return Budget(curve=tuple(quantize_up(x) for x in amount.curve))
    return Budget(quantize_up(amount.epsilon), quantize_up(amount.delta))


def release(state: LedgerState, claim_id: str, reason: str, now: dt.datetime) -> Step:
    """A launch that never started gives its reservation back to the blocks' unlocked budget (the paper).

    Under ``release_to="locked"`` it goes back to locked instead, as in PrivateKube's Go system (note Q6):
    only the policy's next unlock step (an arrival, or the clock) releases it again. Our unlock rules are
    cumulative, so that step releases all of it at once where Go trickles it out (εG/N per arrival, pro rata
    per period). Locked is derived, so lowering allocated alone re-locks it.
    """
    claim = _live(state, claim_id)
    released = claim.transition(ClaimState.RELEASED, (ClaimState.ADMITTED, ClaimState.LAUNCHING), now, reason=reason)
    to_locked = state.settings.release_to == "locked"
    blocks = []
    for key, demand in claim.demands().items():
        block = state.blocks[key]
        unlocked = block.unlocked if to_locked else block.unlocked + demand
        blocks.append(replace(block, allocated=block.allocated - demand, unlocked=unlocked))
    event = AuditEvent(now, "released", claim.id, claim.analyst, claim.blocks, claim.demand, reason)
    return state.with_(blocks=blocks, claims=[released]), [event]


def cancel(state: LedgerState, claim_id: str, now: dt.datetime) -> Step:
    """The analyst withdraws a pending claim: it holds nothing, so nothing is charged.

    Under round robin a waiting claim may have accumulated budget on its blocks (``held``): that goes
    back to the blocks' unlocked budget, as when a claim leaves the queue any other way.
    """
    claim = _live(state, claim_id)
    cancelled = claim.transition(ClaimState.CANCELLED, (ClaimState.PENDING,), now, reason="cancelled by the analyst")
    accounts = BlockAccounts(state.blocks)
    accounts.forget([k for k in claim.blocks if k in state.blocks], claim.id)
    event = AuditEvent(now, "cancelled", claim.id, claim.analyst, claim.blocks, claim.demand)
    return state.with_(blocks=accounts.changed().values(), claims=[cancelled]), [event]


def add_analyst(state: LedgerState, analyst: Analyst, now: dt.datetime) -> Step:
    if analyst.name in state.analysts:
        raise GatewayValidationError(
            f"analyst {analyst.name!r} is already registered; pick another name (a revoked name stays taken)"
        )
    if any(a.key_id == analyst.key_id for a in state.analysts.values()):
        raise LedgerConflictError("token key id collision; add the analyst again")
    if analyst.principal is not None and any(
        a.principal == analyst.principal and not a.revoked for a in state.analysts.values()
    ):
        raise GatewayValidationError(f"principal {analyst.principal} already belongs to another analyst")
    event = AuditEvent(now, "analyst-added", analyst=analyst.name, reason=analyst.role.value)
    return state.with_(analysts=[analyst]), [event]


def revoke_analyst(state: LedgerState, name: str, now: dt.datetime) -> Step:
    try:
        analyst = state.analysts[name]
    except KeyError:
        raise GatewayValidationError(f"no analyst {name!r}; list them with: dpgw analysts list") from None
    if analyst.revoked:
        return state, []
    return state.with_(analysts=[replace(analyst, revoked=True)]), [AuditEvent(now, "analyst-revoked", analyst=name)]


def check_versions(state: LedgerState, change: Change) -> None:
    """The commit condition every store enforces: each record replaces exactly the version it read."""
    for dataset in change.datasets:
        if dataset.name in state.datasets:
            raise LedgerConflictError(f"data set {dataset.name!r} was registered concurrently")
    versioned: tuple[tuple[str, Iterable[Any], Mapping[str, Any], str], ...] = (
        ("block", change.blocks, state.blocks, "key"),
        ("submission", change.claims, state.claims, "id"),
        ("analyst", change.analysts, state.analysts, "name"),
        ("block", change.spent, state.blocks, "key"),
        ("retired days of", change.retired, state.retired, "dataset"),
    )
    for what, records, stored, key in versioned:
        for record in records:
            old = stored.get(getattr(record, key))
            _expect(f"{what} {getattr(record, key)}", old.version if old else 0, record.version)


def _expect(what: str, stored: int, new: int) -> None:
    if stored != new - 1:
        raise LedgerConflictError(f"{what} changed concurrently (stored version {stored}, expected {new - 1})")


def schedule_next(state: LedgerState, now: dt.datetime, clock_at: dt.datetime | None = None) -> Step:
    """An admission pass committed as small as it safely can be: its first decision alone, else all of it.

    Stores then commit admissions one claim at a time in the policy's order, so a change stays small
    whatever the queue (DynamoDB takes at most 100 actions per transaction) and racing gateways conflict
    only on what they share. The first decision is replayed with every other pending claim set aside;
    it is taken alone only if that replay writes exactly what the whole pass writes to those blocks
    (whatever the policy: unlocks that depend on the waiting claims, groups, clock releases). Otherwise
    the whole pass is the step. ``clock_at`` as for ``schedule``.
    """
    whole, events = schedule(state, now, clock_at)
    decision = next((e for e in events if e.kind in ("granted", "rejected")), None)
    if decision is None or decision.submission_id is None or len(events) == 1:
        return whole, events
    chosen = decision.submission_id
    alone = replace(
        state, claims={k: c for k, c in state.claims.items() if k == chosen or c.state is not ClaimState.PENDING}
    )
    after, step_events = schedule(alone, now, clock_at)
    touched = [k for k, b in after.blocks.items() if _changed(state.blocks.get(k), b)]
    same = (
        [e.kind for e in step_events] == [decision.kind]
        and after.claims[chosen] == whole.claims[chosen]
        and all(after.blocks[k] == whole.blocks[k] for k in touched)
    )
    if not same:
        return whole, events
    return state.with_(blocks=[after.blocks[k] for k in touched], claims=[after.claims[chosen]]), step_events


def _live(state: LedgerState, claim_id: str) -> Claim:
    """A claim a transition starts from; one already finished (moved to history) was moved by another writer."""
    claim = state.claims.get(claim_id)
    if claim is None:
        raise LedgerConflictError(f"submission {claim_id} is not live: it finished or was never recorded here")
    return claim
