"""The gateway's use cases: register data, add blocks, submit, schedule, launch and follow jobs.

Each ledger mutation is read → pure step → conditional commit, retried when another writer got in
first. Budget is reserved (allocated) by the admission commit *before* a job is launched, and moved to
consumed when the job ends, whatever its outcome; only a launch that provably never started gives its
budget back.

Crash safety: every step is persisted before the next begins (admitted → launching → launch → running),
so a gateway that dies anywhere leaves a state the next ``schedule`` finishes from the ledger and the
launcher's own run list (``Launcher.find_run``). ``checkpoint(name)`` is called at each step boundary
(a no-op by default) so tests can stop a gateway exactly there.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from pydantic import ValidationError

from gateway.core import ledger as core
from gateway.core.blocks import Block, block_key, days_between, version_key
from gateway.core.budget import Budget
from gateway.core.burndown import BurnDown, burn_down
from gateway.core.claims import Claim, ClaimState, submission_id_for
from gateway.core.datasets import VERSION_PARTITION, BlockPeriod, ColumnType, DataFormat, Dataset
from gateway.core.forecast import Forecast, forecast
from gateway.core.jobs import FailureCategory, GrantedBudget, JobOutcome, JobRequest, JobResult
from gateway.core.ledger import AuditEvent
from gateway.core.preview import Preview
from gateway.core.preview import preview as preview_claim
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import QuerySpec
from gateway.dashboard.model import Dashboard
from gateway.dashboard.model import build as build_dashboard
from gateway.errors import (
    AuthorizationError,
    GatewayInternalError,
    GatewayValidationError,
    LaunchError,
    LedgerConflictError,
    LedgerError,
    ResultNotReadyError,
    SpecError,
    SubmissionNotFoundError,
)
from gateway.launchers.base import CLOCK_SKEW_MARGIN, START_REQUEST_BOUND, Launcher, RunState, RunStatus
from gateway.ledger.base import LedgerStore, find_claim, full_view

T = TypeVar("T")
Clock = Callable[[], dt.datetime]
Inspector = Callable[[str, DataFormat], dict]  # a data set's schema from metadata ({} for CSV: declared)
Locator = Callable[[Dataset, Sequence[dt.date]], None]  # the granted partitions exist; reads no rows
LookupCheck = Callable[[Dataset, Sequence[str]], None]  # a public table holds each key once (public data)
Checkpoint = Callable[[str], None]

# Step boundaries, in lifecycle order, where ``checkpoint`` is called.
CHECKPOINTS = ("submitted", "admitted", "launching", "launched", "running", "finished")
NEVER_LAUNCHED = "the gateway stopped before launching the job, which never started"
BLOCKS_PER_COMMIT = 90  # below DynamoDB's 100 actions per transaction, with room for the audit item
SPENT_PER_SWEEP = 40  # spent blocks moved out per sweep commit: two DynamoDB actions each, plus their records
# Where a claim can be once its run is recorded (by this gateway or by one recovering the launch).
RECORDED_RUN_STATES = (ClaimState.RUNNING, ClaimState.SUCCEEDED, ClaimState.FAILED)


# A retried submission still here gets the pass its first submit may have died before (a launch left
# half-way is recovered by it once its run is found).
RETRY_SCHEDULES = (ClaimState.PENDING, ClaimState.ADMITTED, ClaimState.LAUNCHING)


def no_checkpoint(name: str) -> None:
    """The default hook: production gateways do not stop anywhere."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class ScheduleReport:
    admitted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    launched: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)  # launches found running after a gateway stopped
    # One line per claim whose step failed this pass ("<id>: <what happened>"); the pass went on without it.
    errors: list[str] = field(default_factory=list)


@dataclass
class _Pass:
    """One scheduling pass in progress: its report, and the exception behind each claim's error line."""

    report: ScheduleReport = field(default_factory=ScheduleReport)
    failures: dict[str, Exception] = field(default_factory=dict)

    def fail(self, claim_id: str, exc: Exception, message: str | None = None) -> None:
        self.report.errors.append(f"{claim_id}: {message or f'{type(exc).__name__}: {exc}'}")
        self.failures[claim_id] = exc


class Gateway:
    def __init__(
        self,
        store: LedgerStore,
        launchers: Mapping[str, Launcher],
        *,
        inspect: Inspector,
        locate: Locator | None = None,
        lookups: LookupCheck | None = None,
        default_launcher: str = "local",
        clock: Clock = utc_now,
        max_retries: int = 20,
        launch_lease: dt.timedelta = dt.timedelta(minutes=5),
        checkpoint: Checkpoint = no_checkpoint,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.launchers = dict(launchers)
        self.inspect = inspect
        self.locate = locate  # None: submissions are not checked against the data's location
        self.lookups = lookups  # None: a lookup join's public table is checked by the job only
        self.default_launcher = default_launcher
        self.clock = clock
        self.max_retries = max_retries
        # A claim LAUNCHING for longer than this, with no run found, belongs to a gateway that stopped
        # before launching: its budget goes back. A live gateway sends no start after its start deadline,
        # START_REQUEST_BOUND + CLOCK_SKEW_MARGIN before the lease ends, so no start can land after a release.
        self._start_window = launch_lease.total_seconds() - START_REQUEST_BOUND - CLOCK_SKEW_MARGIN
        if self._start_window <= 0:
            raise GatewayValidationError(
                f"the launch lease ({launch_lease}) must exceed {START_REQUEST_BOUND + CLOCK_SKEW_MARGIN:g} s: "
                "the longest a start request can be in flight plus the clock skew allowed between gateways"
            )
        self.launch_lease = launch_lease
        self.checkpoint = checkpoint
        self.sleep = sleep

    # --- ledger plumbing ------------------------------------------------------------------------

    def _mutate(self, step: Callable[[core.LedgerState, dt.datetime], core.Step]) -> core.LedgerState:
        return self._commit_step(step)[0]

    def _commit_step(
        self, step: Callable[[core.LedgerState, dt.datetime], core.Step], start: core.LedgerState | None = None
    ) -> tuple[core.LedgerState, core.Change]:
        """Read, compute, commit conditionally; on a conflict read again. A step that raises is final.

        ``start``: a state this gateway just committed or loaded, used for the first attempt instead of a
        load (every write is conditional, so a stale one costs a conflict and a fresh read, never a wrong write).
        """
        for attempt in range(self.max_retries):
            old = start if attempt == 0 and start is not None else self.store.load()
            new, events = step(old, self.clock())
            change = core.diff(old, new, events)
            try:
                self.store.commit(change)
            except LedgerConflictError:
                # Full jitter: racing gateways spread out instead of all re-reading at once.
                self.sleep(random.uniform(0, min(0.5, 0.005 * 2**attempt)))
                continue
            return core.apply(old, change), change
        raise LedgerConflictError(
            f"the ledger kept changing under this update ({self.max_retries} attempts); try again"
        )

    def state(self) -> core.LedgerState:
        """The live state: settings, data sets, analysts, blocks and the claims not yet finished."""
        return self.store.load()

    def blocks(self, dataset: str | None = None, include_spent: bool = False) -> list[Block]:
        """The blocks (of ``dataset``, if given) by key: those that can still grant, and with ``include_spent``
        also those that left the live state, retired and spent (read from history)."""
        state = self.store.load()
        if dataset is not None:
            state.dataset(dataset)
        blocks = list(state.blocks.values()) + (self.store.history_blocks() if include_spent else [])
        return sorted((b for b in blocks if dataset in (None, b.dataset)), key=lambda b: b.key)

    def claim(self, claim_id: str) -> Claim:
        """A submission, live or finished (from history); ``SubmissionNotFoundError`` if there is none."""
        return _visible(find_claim(self.store, self.store.load(), claim_id), claim_id, None)

    # --- set-up ---------------------------------------------------------------------------------

    def init(self, settings: PolicySettings) -> None:
        self.store.create(settings)

    def add_dataset(
        self,
        name: str,
        path: str,
        fmt: DataFormat,
        time_column: str | None,
        period: BlockPeriod = BlockPeriod.DAY,
        launcher: str | None = None,
        schema: Mapping[str, ColumnType] | None = None,
        public: bool = False,
    ) -> Dataset:
        """Register a data set: Parquet's schema from its footers, CSV's from ``schema`` (required).

        A declared ``schema`` on Parquet overrides the footer types of the columns it names, which must
        exist. The path is checked to be a data set of the format; no row is read.
        """
        self.store.load()  # fail early, before inspecting data, if there is no ledger
        found = self.inspect(path, fmt)
        if period is BlockPeriod.VERSION:  # the version=V directories are blocks, not a column the job sees
            found = {c: k for c, k in found.items() if c != VERSION_PARTITION}
        columns = _declared_columns(fmt, found, schema)
        try:
            dataset = Dataset(
                name=name,
                path=path,
                format=fmt,
                time_column=time_column,
                public=public,
                block_period=period,
                columns=columns,
                launcher=launcher,
            )
        except ValidationError as exc:
            problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
            raise GatewayValidationError(f"invalid data set: {problems}") from None
        self._mutate(lambda s, now: core.add_dataset(s, dataset, now))
        return dataset

    def add_blocks(self, dataset: str, start: dt.date, end: dt.date, capacity: Budget) -> list[Block]:
        """Add a block per day of the range, in as few commits as the store takes; returns the blocks added.

        The whole range is checked first. Days that already have a block of this capacity are skipped, so
        re-running a range that was interrupted (a store that commits in chunks) adds only what is missing.
        """
        days = days_between(start, end)
        missing = core.blocks_to_add(self.store.load(), dataset, days, capacity)  # refuse the whole range up front
        new_keys = [block_key(dataset, d) for d in missing]
        limit = getattr(self.store, "records_per_commit", None)
        size = len(days) if limit is None else max(1, limit - 1)  # one record is the commit's audit events
        state = None
        for first in range(0, len(days), size):
            state = self._add_chunk(dataset, days[first : first + size], capacity)
        return [state.blocks[k] for k in new_keys if state is not None and k in state.blocks]

    def add_version(self, dataset: str, label: str, capacity: Budget) -> Block | None:
        """Add the block of a snapshot's version ``label`` (its rows: ``<path>/version=<label>``).

        The version's directory must exist (checked by name, no row read). Returns the new block, or
        None when that version already has its block (same capacity).
        """
        state = self.store.load()
        target = state.dataset(dataset)
        core.add_version(state, dataset, label, capacity, self.clock())  # refuses a bad label or data set first
        if self.locate is not None:
            self.locate(target.model_copy(update={"path": target.version_path(label)}), [])
        before = state.blocks.get(version_key(dataset, label))
        after = self._mutate(lambda s, now: core.add_version(s, dataset, label, capacity, now))
        return None if before is not None else after.blocks.get(version_key(dataset, label))

    def _add_chunk(self, dataset: str, days: list[dt.date], capacity: Budget) -> core.LedgerState:
        return self._mutate(lambda s, now: core.add_blocks(s, dataset, days, capacity, now))

    # --- submissions ----------------------------------------------------------------------------

    def submit(
        self, spec: QuerySpec, launcher: str | None = None, analyst: str | None = None, schedule: bool = True
    ) -> Claim:
        """Validate, persist as pending (or return the earlier submission of the same client id), schedule.

        ``analyst``: the authenticated caller (team mode); the spec may leave ``analyst`` out or name the
        caller, never someone else. Without it the spec must name its analyst. ``schedule=False`` only
        records the submission (the HTTP service's scheduling loop runs the pass, off the request).
        """
        spec = _with_analyst(spec, analyst)
        state = self.store.load()
        launcher = launcher or state.dataset(spec.dataset).launcher or self.default_launcher
        if launcher not in self.launchers:
            raise GatewayValidationError(
                f"unknown launcher {launcher!r}; available: {', '.join(sorted(self.launchers))}"
            )
        claim = core.prepare_claim(state, spec, self.clock(), submission_id_for(spec), launcher)
        existing = core.existing_submission(state, claim) or core.same_query(self.store.history_claim(claim.id), claim)
        if existing is not None and not (schedule and existing.state in RETRY_SCHEDULES):
            return existing
        if existing is None:
            if self.locate is not None:  # the granted partitions must be there: fail before any charge
                self._locate(state, claim)
            join = claim.spec.join
            if self.lookups is not None and join is not None and join.matches == "one":
                self.lookups(state.dataset(join.table), join.on)

            def arrive(s: core.LedgerState, now: dt.datetime) -> core.Step:
                if claim.id not in s.claims and self.store.history_claim(claim.id) is not None:
                    return s, []  # a retry raced the first submission, which has finished already
                return core.arrive(s, core.prepare_claim(s, spec, now, claim.id, launcher), now)

            self._commit_step(arrive, state)  # starts from the state just read: no second load
            self.checkpoint("submitted")
        if schedule:
            failure = self._schedule_pass().failures.get(claim.id)
            if failure is not None:  # the rest of the pass went on; the submitter hears what befell its claim
                raise failure
        return self.claim(claim.id)

    def _locate(self, state: core.LedgerState, claim: Claim) -> None:
        """The claim's day partitions, or its snapshot version's directory, exist (by name; no row read)."""
        assert self.locate is not None
        dataset = state.dataset(claim.spec.dataset)
        blocks = [state.blocks[key] for key in claim.blocks if key in state.blocks]  # a spent one: rejected later
        if dataset.snapshot:
            for block in blocks:
                assert block.data_version is not None
                self.locate(dataset.model_copy(update={"path": dataset.version_path(block.data_version)}), [])
            return
        self.locate(dataset, [b.day for b in blocks if b.day is not None])

    def preview(self, spec: QuerySpec, analyst: str | None = None) -> Preview:
        """Would ``spec`` be admitted now on a quiet ledger, why not, and how many more copies could be granted.

        Validates exactly as ``submit`` does and records nothing: no claim, no audit event, no charge.
        """
        spec = _with_analyst(spec, analyst)
        state = self.store.load()
        now = self.clock()
        claim = core.prepare_claim(state, spec, now, submission_id_for(spec))
        return preview_claim(state, claim, now)

    def schedule(self) -> ScheduleReport:
        """Finish interrupted launches, follow running jobs, admit in policy order, launch what is admitted.

        What the clock has unlocked (time-based policies) commits first, in chunks, at one instant; then
        admissions commit one claim at a time (``core.schedule_next``), so a change stays small and
        racing gateways conflict only on what they share. Admitted claims whose gateway stopped before
        launching them are launched here too.
        """
        return self._schedule_pass().report

    def _schedule_pass(self) -> _Pass:
        run = _Pass()
        report = run.report
        state = self.store.load()
        if self._recover_launches(run, state):
            state = self.store.load()
        report.finished = self.reconcile(run=run, state=state)
        if report.finished:
            state = self.store.load()
        state = self._sweep_spent(state)
        at = self.clock()
        for keys in core.clock_releases(state, at, BLOCKS_PER_COMMIT):
            state = self._advance_clock(at, keys)
        while True:  # each admission step starts from the state the previous one committed
            state, change = self._commit_step(lambda s, now: core.schedule_next(s, now, clock_at=at), state)
            if not change.claims:
                break
            for claim in change.claims:
                if claim.state is ClaimState.ADMITTED:
                    report.admitted.append(claim.id)
                    self.checkpoint("admitted")
                elif claim.state is ClaimState.REJECTED:
                    report.rejected.append(claim.id)
        for claim in state.claims.values():
            if claim.state is ClaimState.ADMITTED:
                outcome = self._confined(run, claim, partial(self._launch, claim, run))
                if outcome == "launched":
                    report.launched.append(claim.id)
                elif outcome == "released":
                    report.released.append(claim.id)
        return run

    def _sweep_spent(self, state: core.LedgerState) -> core.LedgerState:
        """Move out spent blocks an earlier commit had no room to move (see ``core.sweep_spent``). A conflict
        means another gateway committed meanwhile: the state is read again and the next pass sweeps."""
        change = core.sweep_spent(state, SPENT_PER_SWEEP)
        if change.is_empty():
            return state
        try:
            self.store.commit(change)
        except LedgerConflictError:
            return self.store.load()
        return core.apply(state, change)

    def _confined(self, run: _Pass, claim: Claim, step: Callable[[], T]) -> T | None:
        """Run one claim's step so that its failure stays with that claim: noted in the report, pass goes on.

        The ledger's own errors concern every claim and a broken invariant (``GatewayInternalError``)
        must stop the gateway, so those end the pass; so does a stop (BaseException). A claim left as it
        was keeps its budget reserved: the next pass (or recovery) takes it from there.
        """
        try:
            return step()
        except (LedgerError, GatewayInternalError):
            raise
        except Exception as exc:  # noqa: BLE001 - confined to this claim and reported, never swallowed
            run.fail(claim.id, exc)
            return None

    def _advance_clock(self, at: dt.datetime, keys: tuple[str, ...]) -> core.LedgerState:
        return self._mutate(lambda s, now: core.advance_clock(s, at, keys))

    def _recover_launches(self, run: _Pass, state: core.LedgerState) -> bool:
        """LAUNCHING claims left by a gateway that stopped: record the run if it exists, else release.

        A launch younger than ``launch_lease`` may still be under way in a live gateway: left alone.
        Returns whether there were any.
        """
        now = self.clock()
        launching = [c for c in state.claims.values() if c.state is ClaimState.LAUNCHING]
        for claim in launching:
            self._confined(run, claim, partial(self._recover_launch, claim, now, run.report))
        return bool(launching)

    def _launcher_of(self, claim: Claim) -> Launcher:
        name = claim.launcher or self.default_launcher
        try:
            return self.launchers[name]
        except KeyError:
            raise LaunchError(
                f"this gateway has no launcher {name!r} (it has: {', '.join(sorted(self.launchers)) or 'none'})"
            ) from None

    def _recover_launch(self, claim: Claim, now: dt.datetime, report: ScheduleReport) -> None:
        run_id = self._launcher_of(claim).find_run(claim.id)
        try:
            if run_id is not None:
                self._mutate(lambda s, at: core.record_run(s, claim.id, run_id, at))
                report.recovered.append(claim.id)
            elif now - claim.updated_at >= self.launch_lease:
                self._mutate(lambda s, at: core.release(s, claim.id, NEVER_LAUNCHED, at))
                report.released.append(claim.id)
        except LedgerConflictError:
            return  # another gateway recovered it first

    def _launch(self, claim: Claim, run: _Pass) -> str:
        """Launch one admitted claim: 'launched', 'released' (never started), 'skipped' (raced) or 'unknown'.

        Whatever fails before the launcher is called (no such launcher, a setting missing to build the
        request) provably started nothing: the claim is released with the reason. A ``LaunchError`` from
        the launcher means the same (the port's contract). Anything else the launcher raises may have
        come after a start was sent, so the claim stays LAUNCHING with its budget reserved: recovery
        records the run if ``find_run`` finds one, and releases it after the launch lease if not.
        """
        start_by = time.monotonic() + self._start_window  # taken before the LAUNCHING time is stamped
        try:
            launcher = self._launcher_of(claim)
            state = self._mutate(lambda s, now: core.start_launch(s, claim.id, now))
        except LedgerConflictError:
            return "skipped"  # another gateway is launching it
        except LaunchError as exc:
            return self._release(claim.id, f"launch failed: {exc}")
        self.checkpoint("launching")
        try:
            dataset = state.dataset(claim.spec.dataset)
            granted_blocks = [state.blocks[k] for k in claim.blocks]
            request = JobRequest(
                submission_id=claim.id,
                spec=claim.spec,
                dataset=dataset,
                blocks=tuple(b.day for b in granted_blocks if b.day is not None),
                version=next((b.data_version for b in granted_blocks if b.data_version is not None), None),
                granted=GrantedBudget.of(claim.demand, state.settings.orders() if state.settings.rdp else None),
                output=launcher.output_for(claim.id),
                public_tables=core.public_tables_of(state, claim.spec),
            )
        except (GatewayValidationError, LaunchError, ValidationError) as exc:  # nothing was sent yet
            return self._release(claim.id, f"launch failed before starting: {exc}")
        try:
            run_id = launcher.launch(request, start_by)
        except LaunchError as exc:
            return self._release(claim.id, f"launch failed: {exc}")
        except Exception as exc:  # noqa: BLE001 - the run may exist: reserved until recovery decides
            run.fail(
                claim.id,
                exc,
                f"the launch ended in an error after it may have started the job; its budget stays reserved "
                f"until `dpgw schedule` finds the run or the launch lease ({self.launch_lease}) runs out: "
                f"{type(exc).__name__}: {exc}",
            )
            return "unknown"
        self.checkpoint("launched")
        try:
            self._mutate(lambda s, now: core.record_run(s, claim.id, run_id, now))
        except LedgerConflictError:
            current = self.claim(claim.id)
            if current.run_id == run_id and current.state in RECORDED_RUN_STATES:
                return "skipped"  # a recovering gateway found our run and recorded it first
            raise GatewayInternalError(
                f"run {run_id} of {claim.id} started, but the ledger shows the claim {current.state.value}"
                f"{f' with run {current.run_id}' if current.run_id else ''}: its launch outlived the launch "
                f"lease ({self.launch_lease}); stop the run and report this"
            ) from None
        self.checkpoint("running")
        return "launched"

    def _release(self, claim_id: str, reason: str) -> str:
        """Give back the budget of a launch that provably never started."""
        try:
            self._mutate(lambda s, now: core.release(s, claim_id, reason, now))
        except LedgerConflictError:
            return "skipped"  # another gateway moved it first
        return "released"

    def reconcile(
        self, only: str | None = None, run: _Pass | None = None, state: core.LedgerState | None = None
    ) -> list[str]:
        """Poll running jobs and record the ones that ended; returns their ids.

        Within a scheduling pass (``run``), a job that cannot be polled is noted in its report and stays
        running (charged when it is seen to end); the other jobs are still followed. ``state``: the pass's
        snapshot, to find the running jobs without another load.
        """
        finished = []
        for claim in list((state or self.store.load()).claims.values()):
            if claim.state is not ClaimState.RUNNING or (only and claim.id != only):
                continue
            if run is None:
                done = self._record_outcome(claim)
            else:
                done = bool(self._confined(run, claim, partial(self._record_outcome, claim)))
            if done:
                finished.append(claim.id)
        return finished

    def _record_outcome(self, claim: Claim) -> bool:
        """Record a finished run: the checked result, or an analyst-safe failure category.

        The analyst sees ``reason`` (a fixed category and a reference id); the launcher's message, the
        job's error and traceback go to the operator-only ``detail``. A result that is withheld has its
        outcome document deleted *before* the failure is recorded, so it is never readable afterwards.
        A succeeded job is charged what its receipt says it spent (at most the grant).
        """
        assert claim.launcher is not None and claim.run_id is not None
        launcher = self._launcher_of(claim)
        status = launcher.poll(claim.run_id, claim.id)
        if not status.state.is_terminal:
            return False
        outcome = status.outcome
        ref = outcome.error.ref if outcome and outcome.error and outcome.error.ref else uuid.uuid4().hex[:12]
        result = spent = reason = detail = None
        succeeded = status.state is RunState.SUCCEEDED
        if succeeded:
            assert outcome is not None and outcome.result is not None
            try:
                checked = self._checked_result(claim, outcome.result)
                result, spent = checked.to_json(), checked.spent.to_budget()
            except GatewayInternalError as exc:
                succeeded, reason, detail = False, FailureCategory.WITHHELD.reason(ref), str(exc)
                launcher.discard_outcome(claim.id)
        else:
            category = _failure_category(outcome)
            reason, detail = category.reason(ref), _operator_detail(status)
            if outcome is not None and outcome.result is not None:
                launcher.discard_outcome(claim.id)  # the run failed after writing an answer: withheld too
        try:
            self._mutate(
                lambda s, now: core.finish(
                    s, claim.id, succeeded, now, result=result, reason=reason, detail=detail, spent=spent
                )
            )
        except LedgerConflictError:
            return False  # someone else recorded it first
        self.checkpoint("finished")
        return True

    def _checked_result(self, claim: Claim, result: JobResult) -> JobResult:
        """Refuse to release a result whose receipt does not match the grant."""
        spent = result.spent.to_budget()
        if result.submission_id != claim.id:
            raise GatewayInternalError(f"the outcome of {claim.id} is for {result.submission_id}; result withheld")
        # per order under rdp: a receipt above the grant at any order, or over other orders, is withheld
        if (
            not spent.is_non_negative()
            or not spent.fits_in(claim.demand)
            or result.granted.to_budget() != claim.demand
            or result.spent.alphas != result.granted.alphas
        ):
            raise GatewayInternalError(
                f"job for {claim.id} reports spending {spent} against a grant of {claim.demand}; result withheld"
            )
        state = self.store.load()
        granted_blocks = [state.blocks[k] for k in claim.blocks]
        days = [b.day for b in granted_blocks if b.day is not None]
        versions = [b.data_version for b in granted_blocks if b.data_version is not None]
        if list(result.blocks) != days or ([result.version] if result.version else []) != versions:
            raise GatewayInternalError(f"job for {claim.id} read other blocks than granted; result withheld")
        return result

    def forecast(self, claim_id: str, analyst: str | None = None) -> Forecast:
        """When the claim can be admitted if nothing else competes, or why it never will (``analyst``: theirs only)."""
        state = full_view(self.store)  # recent finished claims count as arrivals for the estimate
        _visible(state.claims.get(claim_id), claim_id, analyst)
        return forecast(state, claim_id, self.clock())

    def audit(self) -> list[AuditEvent]:
        return self.store.audit()

    def burn_down(self, dataset: str) -> BurnDown:
        """A data set's blocks (spent ones too) and their remaining budget over time (from the audit trail)."""
        state = full_view(self.store)
        state.dataset(dataset)  # an unknown data set is a clear error
        return burn_down(
            state.blocks_of(dataset), self.store.audit(), state.settings.orders() if state.settings.rdp else ()
        )

    def dashboard(self, viewer: str | None) -> Dashboard:
        """The dashboard's content as ``viewer`` may see it (None: an operator, who sees every query)."""
        # The full view: forecasts count recent arrivals, finished ones included.
        return build_dashboard(full_view(self.store), self.store.audit(), self.clock(), viewer)

    def status(self, claim_id: str, analyst: str | None = None) -> Claim:
        """One submission, refreshed if its job is running; ``analyst`` set: only one of theirs."""
        claim = _visible(find_claim(self.store, self.store.load(), claim_id), claim_id, analyst)
        if claim.state is ClaimState.RUNNING:
            self.reconcile(only=claim_id)
            claim = self.claim(claim_id)
        return claim

    def job_log(self, claim: Claim) -> str | None:
        """Where the job's log is (a local path or an s3:// / console URI), once it has been launched."""
        if claim.launcher is None or claim.run_id is None or claim.launcher not in self.launchers:
            return None
        return self.launchers[claim.launcher].poll(claim.run_id, claim.id).log_uri

    def submissions(self, analyst: str | None = None) -> list[Claim]:
        """Every submission (``analyst`` set: only theirs), oldest first: live ones and history's."""
        claims = full_view(self.store).claims.values()
        return sorted((c for c in claims if analyst in (None, c.analyst)), key=lambda c: (c.submitted_at, c.id))

    def result(self, claim_id: str, analyst: str | None = None) -> Claim:
        """A succeeded submission (with its answer), else ``ResultNotReadyError`` saying what it is."""
        claim = self.status(claim_id, analyst)
        if claim.state is not ClaimState.SUCCEEDED:
            hint = f": {claim.reason}" if claim.reason else ""
            raise ResultNotReadyError(f"submission {claim_id} is {claim.state.value}, so it has no result{hint}")
        return claim

    def cancel(self, claim_id: str, analyst: str | None = None) -> Claim:
        """Withdraw a pending submission (``analyst`` set: only one of theirs); admitted ones are past recall."""
        claim = _visible(find_claim(self.store, self.store.load(), claim_id), claim_id, analyst)
        if core.is_finished(claim):  # in history: says why it cannot be cancelled
            claim.transition(ClaimState.CANCELLED, (ClaimState.PENDING,), self.clock())
        _, change = self._commit_step(lambda s, now: core.cancel(s, claim_id, now))
        return next(c for c in change.claims if c.id == claim_id)

    def wait(
        self,
        claim_id: str,
        timeout: float | None = None,
        poll_every: float = 0.5,
        on_tick: Callable[[Claim], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Claim:
        """Poll until the claim is terminal or still pending (waiting for budget is not a job to wait on)."""
        started = time.monotonic()
        while True:
            claim = self.status(claim_id)
            if on_tick:
                on_tick(claim)
            if claim.state.is_terminal or claim.state is ClaimState.PENDING:
                return claim
            if timeout is not None and time.monotonic() - started > timeout:
                return claim
            sleep(poll_every)


def _with_analyst(spec: QuerySpec, analyst: str | None) -> QuerySpec:
    """The spec as submitted by ``analyst`` (the authenticated caller), or as the spec names it."""
    if analyst is None:
        if spec.analyst is None:
            raise SpecError("invalid query spec:\n  analyst: missing (name the analyst who submits the query)")
        return spec
    if spec.analyst not in (None, analyst):
        raise AuthorizationError(
            f"the spec names analyst {spec.analyst!r} but you are {analyst!r}; "
            "remove the analyst field (your credential says who you are)"
        )
    return spec.model_copy(update={"analyst": analyst})


def _visible(claim: Claim | None, claim_id: str, analyst: str | None) -> Claim:
    """A submission the caller may see: another analyst's is reported exactly like a missing one."""
    if claim is not None and analyst in (None, claim.analyst):
        return claim
    raise SubmissionNotFoundError(f"no submission {claim_id!r}; list them with: dpgw status")


def _declared_columns(
    fmt: DataFormat, found: Mapping[str, ColumnType], schema: Mapping[str, ColumnType] | None
) -> dict[str, ColumnType]:
    """The registered columns: CSV's declared schema; Parquet's footer types, overridden where declared."""
    if fmt is DataFormat.CSV:
        if not schema:
            raise GatewayValidationError(
                "a CSV data set needs a declared schema (its types are never guessed from rows): "
                f"--schema col:type,... with types {', '.join(t.value for t in ColumnType)}"
            )
        return dict(schema)
    if schema:
        unknown = [name for name in schema if name not in found]
        if unknown:
            raise GatewayValidationError(
                f"declared column(s) {', '.join(unknown)} are not in the data set; its columns are: {', '.join(found)}"
            )
        return {**found, **schema}
    return dict(found)


def _failure_category(outcome: JobOutcome | None) -> FailureCategory:
    """The category a failed run's outcome names; a run that wrote none was killed or timed out."""
    if outcome is None or outcome.error is None:
        return FailureCategory.KILLED
    try:
        return FailureCategory(outcome.error.type)
    except ValueError:
        return FailureCategory.ENGINE  # an older job that wrote an exception type: never shown


def _operator_detail(status: RunStatus) -> str:
    parts = [status.message or "", status.outcome.detail if status.outcome and status.outcome.detail else ""]
    if status.log_uri:
        parts.append(f"job log: {status.log_uri}")
    return "\n".join(p for p in parts if p)
