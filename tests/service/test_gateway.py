"""The service's lifecycle with a scripted launcher: charge before launch, release only if never started."""

from __future__ import annotations

import datetime as dt
import math
import time

import pytest

from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.datasets import ColumnType, DataFormat
from gateway.core.jobs import GrantedBudget, GroupValue, JobOutcome, JobRequest, JobResult
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec
from gateway.errors import DataNotFoundError, GatewayValidationError, LaunchError
from gateway.launchers import RunState, RunStatus
from gateway.launchers.base import CLOCK_SKEW_MARGIN, START_REQUEST_BOUND, check_start_deadline
from gateway.ledger import InMemoryLedgerStore
from gateway.ledger.base import full_view
from gateway.service import Gateway

COLUMNS = {"day": ColumnType.DATE, "v": ColumnType.DOUBLE}


class ScriptedLauncher:
    name = "fake"

    def __init__(self):
        self.requests: list[JobRequest] = []
        self.fail_launch = False
        self.spend_factor = 1
        self.done: set[str] = set()
        self.budget_seen_at_launch: list[Budget] = []
        self.start_windows: list[float] = []  # seconds left before each launch's start deadline
        self.gateway: Gateway | None = None
        self.failure: JobOutcome | None = None  # the outcome a failed run reports, if set
        self.discarded: list[str] = []

    def output_for(self, submission_id):
        return f"mem://{submission_id}"

    def launch(self, request, start_by=math.inf):
        self.start_windows.append(start_by - time.monotonic())
        check_start_deadline(start_by, f"start {request.submission_id}")  # as every launcher must
        if self.gateway is not None:  # the reservation must be in the ledger before the job starts
            block = self.gateway.state().blocks[f"events/{request.blocks[0]}"]
            self.budget_seen_at_launch.append(block.allocated)
        if self.fail_launch:
            raise LaunchError("no capacity")
        self.requests.append(request)
        return f"run-{len(self.requests)}"

    def find_run(self, submission_id):
        return next((f"run-{i + 1}" for i, r in enumerate(self.requests) if r.submission_id == submission_id), None)

    def discard_outcome(self, submission_id):
        self.discarded.append(submission_id)

    def poll(self, run_id, submission_id):
        if submission_id not in self.done:
            return RunStatus(RunState.RUNNING)
        if self.failure is not None:
            error = self.failure.error
            return RunStatus(RunState.FAILED, f"{error.type}: {error.message}", outcome=self.failure, log_uri="log://x")
        request = next(r for r in self.requests if r.submission_id == submission_id)
        spent = request.granted.to_budget()
        spent = Budget(spent.epsilon * self.spend_factor, spent.delta)
        now = dt.datetime.now(dt.UTC)
        result = JobResult(
            submission_id=submission_id,
            engine="tumult",
            engine_version="x",
            dataset="events",
            blocks=request.blocks,
            granted=request.granted,
            spent=GrantedBudget.of(spent),
            aggregate="count",
            values=[GroupValue(key=None, value=41.5)],
            started_at=now,
            finished_at=now,
        )
        outcome = JobOutcome(submission_id=submission_id, status="succeeded", result=result)
        return RunStatus(RunState.SUCCEEDED, outcome=outcome)


def spec(eps=0.2, client_id=None):
    data = {
        "engine": "tumult",
        "dataset": "events",
        "analyst": "ann",
        "blocks": {"last": 2},
        "budget": {"epsilon": eps},
        "privacy_unit": "row",
        "aggregate": {"function": "count"},
    }
    if client_id:
        data["client_id"] = client_id
    return parse_spec(data)


@pytest.fixture
def env():
    launcher = ScriptedLauncher()
    inspected = {"missing": False}

    def inspect(path, fmt):
        if inspected["missing"]:
            raise DataNotFoundError(f"no data at {path}")
        return dict(COLUMNS)

    def locate(dataset, days):
        if inspected["missing"]:
            raise DataNotFoundError(f"no partitions at {dataset.path}")

    gw = Gateway(InMemoryLedgerStore(), {"fake": launcher}, inspect=inspect, locate=locate, default_launcher="fake")
    launcher.gateway = gw
    gw.init(PolicySettings(policy="dpf-n", n=2))
    gw.add_dataset("events", "/data", DataFormat.PARQUET, "day")
    gw.add_blocks("events", dt.date(2026, 10, 1), dt.date(2026, 10, 3), Budget.capacity(1))
    return gw, launcher, inspected


def test_admitted_claim_is_reserved_before_launch_and_charged_when_done(env):
    gw, launcher, _ = env
    claim = gw.submit(spec(0.2))
    assert claim.state is ClaimState.RUNNING and claim.run_id == "run-1"
    assert launcher.budget_seen_at_launch == [Budget.demand(0.2)]
    request = launcher.requests[0]
    assert request.granted.to_budget() == Budget.demand(0.2)
    assert request.blocks == (dt.date(2026, 10, 2), dt.date(2026, 10, 3))
    launcher.done.add(claim.id)
    claim = gw.status(claim.id)
    assert claim.state is ClaimState.SUCCEEDED and claim.result["values"][0]["value"] == 41.5
    block = full_view(gw.store).blocks["events/2026-10-03"]
    assert (block.allocated, block.consumed) == (Budget(), Budget.demand(0.2))
    assert [e.kind for e in gw.store.audit()][-4:] == ["submitted", "granted", "launched", "charged"]


def test_a_launch_that_never_started_is_released(env):
    gw, launcher, _ = env
    launcher.fail_launch = True
    claim = gw.submit(spec(0.2))
    assert claim.state is ClaimState.RELEASED and "no capacity" in claim.reason
    block = full_view(gw.store).blocks["events/2026-10-03"]
    assert (block.allocated, block.consumed, block.unlocked) == (Budget(), Budget(), Budget.demand(0.5))


def test_retry_with_client_id_never_charges_twice(env):
    gw, launcher, _ = env
    first = gw.submit(spec(0.2, client_id="weekly"))
    again = gw.submit(spec(0.2, client_id="weekly"))
    assert again.id == first.id and len(launcher.requests) == 1
    assert full_view(gw.store).blocks["events/2026-10-03"].arrivals == 1


def test_waiting_claim_is_admitted_by_a_later_pass(env):
    gw, _, _ = env
    big = gw.submit(spec(0.9))
    assert big.state is ClaimState.PENDING  # 0.5 unlocked of 1 after one arrival (N=2)
    small = gw.submit(spec(0.05))  # the second arrival unlocks the rest; both fit now
    assert small.state is ClaimState.RUNNING
    assert gw.status(big.id).state is ClaimState.RUNNING


def test_result_spending_more_than_granted_is_withheld(env):
    gw, launcher, _ = env
    launcher.spend_factor = 2
    claim = gw.submit(spec(0.2))
    launcher.done.add(claim.id)
    claim = gw.status(claim.id)
    assert claim.state is ClaimState.FAILED and claim.result is None and "withheld" in claim.reason
    assert launcher.discarded == [claim.id]  # the outcome document is deleted: nobody can read it later
    assert "spending" in claim.detail and "spending" not in claim.reason


def test_a_failed_job_shows_the_analyst_only_its_category(env):
    gw, launcher, _ = env
    claim = gw.submit(spec(0.2))
    launcher.failure = JobOutcome(
        submission_id=claim.id,
        status="failed",
        error={"type": "engine-failure", "message": "the job failed in the DP engine", "ref": "abc123"},
        detail="ValueError: could not convert 'alice@example.com' to float",
    )
    launcher.done.add(claim.id)
    claim = gw.status(claim.id)
    assert claim.state is ClaimState.FAILED
    assert claim.reason == "the job failed in the DP engine (ref abc123)"
    assert "alice" in claim.detail and "log://x" in claim.detail
    assert "alice" not in str([e.to_json() for e in gw.store.audit()])
    assert full_view(gw.store).blocks["events/2026-10-03"].consumed == Budget.demand(0.2)  # failures are charged


def test_bad_input_changes_nothing(env):
    gw, launcher, inspected = env
    before = (full_view(gw.store), gw.store.audit())
    with pytest.raises(GatewayValidationError):
        gw.submit(spec(0.2), launcher="glue")
    inspected["missing"] = True
    with pytest.raises(DataNotFoundError):
        gw.submit(spec(0.2))
    assert (full_view(gw.store), gw.store.audit()) == before and launcher.requests == []


# --- crash recovery: LAUNCHING claims left behind by a gateway that stopped ------------------------


def submit_stopping_at(gw, name, eps=0.2):
    """Submit with the gateway dying at checkpoint ``name``; the same gateway object then acts as its restart."""

    class Stopped(BaseException):
        pass

    def checkpoint(reached):
        if reached == name:
            raise Stopped(name)

    gw.checkpoint = checkpoint
    with pytest.raises(Stopped):
        gw.submit(spec(eps))
    gw.checkpoint = lambda name: None


def test_a_launch_interrupted_before_the_launcher_is_released_only_after_the_lease(env):
    gw, launcher, _ = env
    submit_stopping_at(gw, "launching")
    claim = next(iter(full_view(gw.store).claims.values()))
    assert claim.state is ClaimState.LAUNCHING
    report = gw.schedule()  # still within the lease: a live gateway may be launching it right now
    assert report.released == [] and full_view(gw.store).claim(claim.id).state is ClaimState.LAUNCHING
    gw.clock = lambda: dt.datetime.now(dt.UTC) + gw.launch_lease
    report = gw.schedule()
    assert report.released == [claim.id] and launcher.requests == []
    block = full_view(gw.store).blocks["events/2026-10-03"]
    assert (block.allocated, block.unlocked) == (Budget(), Budget.demand(0.5))


def test_every_start_is_due_well_before_the_launch_lease_ends(env):
    gw, launcher, _ = env
    gw.submit(spec(0.2))
    lease = gw.launch_lease.total_seconds()
    (window,) = launcher.start_windows
    # a start sent at the deadline is answered (or timed out) START_REQUEST_BOUND later, still
    # CLOCK_SKEW_MARGIN before any other gateway may release the claim
    due = lease - START_REQUEST_BOUND - CLOCK_SKEW_MARGIN
    assert due - 5 < window <= due


def test_a_start_past_its_deadline_is_refused_and_released(env):
    gw, launcher, _ = env
    gw._start_window = -1.0  # a gateway that stalled past its start deadline before reaching the launcher
    claim = gw.submit(spec(0.2))
    assert full_view(gw.store).claim(claim.id).state is ClaimState.RELEASED and launcher.requests == []
    assert "launch deadline passed" in (full_view(gw.store).claim(claim.id).reason or "")
    assert full_view(gw.store).blocks["events/2026-10-03"].allocated == Budget()


def test_a_lease_too_short_for_a_start_request_is_refused():
    with pytest.raises(GatewayValidationError, match="launch lease"):
        Gateway(InMemoryLedgerStore(), {}, inspect=lambda p, f: {}, launch_lease=dt.timedelta(seconds=60))


def test_a_launch_interrupted_after_the_launcher_is_recorded_from_its_run_list(env):
    gw, launcher, _ = env
    submit_stopping_at(gw, "launched")
    report = gw.schedule()  # the run exists: recorded at once, no need to wait for the lease
    claim = full_view(gw.store).claim(report.recovered[0])
    assert claim.state is ClaimState.RUNNING and claim.run_id == "run-1" and len(launcher.requests) == 1
    assert full_view(gw.store).blocks["events/2026-10-03"].allocated == Budget.demand(0.2)


def test_an_admission_interrupted_before_launch_is_launched_by_the_next_pass(env):
    gw, launcher, _ = env
    submit_stopping_at(gw, "admitted")
    report = gw.schedule()
    assert report.admitted == [] and len(report.launched) == 1 and len(launcher.requests) == 1


@pytest.mark.parametrize("disjoint", [True, False])
def test_admitting_claim_by_claim_matches_one_admission_pass(disjoint):
    from gateway.core import ledger as core

    gw = Gateway(InMemoryLedgerStore(), {}, inspect=lambda p, f: dict(COLUMNS), default_launcher="none")
    gw.init(PolicySettings(policy="dpf-n", n=3))
    gw.add_dataset("events", "/data", DataFormat.PARQUET, "day")
    gw.add_blocks("events", dt.date(2026, 10, 1), dt.date(2026, 10, 3), Budget.capacity(1))
    demands = [0.3, 0.05, 0.2, 0.25, 0.1, 0.6, 0.15]
    for i, eps in enumerate(demands[:3] if disjoint else demands):  # disjoint: one claim per block
        day = f"2026-10-0{1 + i % 3}"
        blocks = {"from": day, "to": day} if disjoint else {"last": 1 + i % 3}
        claim = core.prepare_claim(
            gw.state(), parse_spec(spec(eps).to_json() | {"blocks": blocks}), gw.clock(), launcher="none"
        )
        gw._mutate(lambda s, now, c=claim: core.arrive(s, c, now))
    state = full_view(gw.store)
    whole, _ = core.schedule(state, gw.clock())
    stepped, sizes = state, []
    while True:
        after, events = core.schedule_next(stepped, gw.clock())
        if not events:
            break
        stepped = after
        sizes.append(len(events))
    # Claims on separate blocks go one by one; where decisions share a block the whole pass is one step.
    assert (sizes == [1] * len(sizes) and len(sizes) >= 3) if disjoint else sizes[0] > 1
    assert {k: c.state for k, c in stepped.claims.items()} == {k: c.state for k, c in whole.claims.items()}
    assert stepped.blocks == whole.blocks


@pytest.mark.parametrize(
    "settings",
    [
        PolicySettings(policy="dpf-n", n=3),
        PolicySettings(policy="dpf-t", lifetime="12h"),
        PolicySettings(policy="fcfs"),
        PolicySettings(policy="rr-n", n=3),
        PolicySettings(policy="rr-t", lifetime="12h"),
        PolicySettings(policy="dpack", n=3, lifetime="12h"),
    ],
    ids=lambda s: s.policy,
)
def test_stepped_admission_equals_one_pass_for_every_policy(settings):
    """Round robin holds budget for claims it does not admit, and time-based policies unlock by the clock:
    the steps the service commits must still add up to exactly one pass of the policy."""
    from gateway.core import ledger as core

    times = iter(dt.datetime(2026, 11, 1, tzinfo=dt.UTC) + dt.timedelta(hours=h) for h in range(1000))
    gw = Gateway(
        InMemoryLedgerStore(),
        {},
        inspect=lambda p, f: dict(COLUMNS),
        default_launcher="none",
        clock=lambda: next(times),
    )
    gw.init(settings)
    gw.add_dataset("events", "/data", DataFormat.PARQUET, "day")
    gw.add_blocks("events", dt.date(2026, 10, 1), dt.date(2026, 10, 3), Budget.capacity(1))
    for i, eps in enumerate([0.3, 0.05, 0.2, 0.25, 0.1, 0.6, 0.15]):
        data = spec(eps).to_json() | {"blocks": {"last": 1 + i % 3}}
        claim = core.prepare_claim(gw.state(), parse_spec(data), gw.clock(), launcher="none")
        gw._mutate(lambda s, now, c=claim: core.arrive(s, c, now))
    state, now = full_view(gw.store), gw.clock()
    whole, _ = core.schedule(state, now)
    stepped = state
    while True:
        after, events = core.schedule_next(stepped, now)
        stepped = after  # a step without decisions may still record clock unlocks or round-robin holdings
        if not events:
            break
    assert {k: c.state for k, c in stepped.claims.items()} == {k: c.state for k, c in whole.claims.items()}
    assert stepped.blocks == whole.blocks
    assert any(c.state is ClaimState.ADMITTED for c in whole.claims.values())
