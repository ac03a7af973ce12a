"""The launcher port: start a job for an admitted claim and follow it to a terminal state."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from gateway.core.jobs import JobOutcome, JobRequest
from gateway.errors import LaunchRejectedError

# The longest a start request can be in flight once sent (the AWS starter clients' connect + read
# timeouts, sent once, never resent), and the clock skew tolerated between gateways. A gateway stops
# sending starts this long before its launch lease ends, so a claim whose lease has run out, with no
# run found, provably has no start on the way.
START_CONNECT_TIMEOUT = 10.0
START_READ_TIMEOUT = 30.0
START_REQUEST_BOUND = START_CONNECT_TIMEOUT + START_READ_TIMEOUT
CLOCK_SKEW_MARGIN = 30.0


def check_start_deadline(start_by: float, what: str) -> None:
    """Refuse to send a start after the deadline: the run provably never starts, so its budget is released."""
    if time.monotonic() > start_by:
        raise LaunchRejectedError(
            f"did not {what}: its launch deadline passed (the launch lease less the start request's timeout and "
            "clock skew), so the run never started and its budget is released; submit it again"
        )


class RunState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self is not RunState.RUNNING


@dataclass(frozen=True)
class RunStatus:
    """What a launcher knows about a run.

    ``message`` is the gateway's summary of a failure. ``operator_detail`` is the service's own account
    (Glue's ``ErrorMessage``, EMR's ``FailureDetails``) and ``log_uri`` where its logs are: both may
    quote the job's stack traces, so they are for the operator, never for an analyst-facing view.
    """

    state: RunState
    message: str | None = None
    outcome: JobOutcome | None = None
    log_uri: str | None = None
    operator_detail: str | None = None


class Launcher(Protocol):
    """Starts the job entry point (``gateway.runtime``) somewhere and reports on it.

    ``launch`` returns a run id once the run exists, or raises ``LaunchError`` when it provably never
    started (then the gateway releases the claim's budget). ``poll`` never raises for a failed job: it
    returns a FAILED status carrying the reason.
    """

    name: str

    def output_for(self, submission_id: str) -> str:
        """Where the job must write its ``JobOutcome`` document."""
        ...

    def launch(self, request: JobRequest, start_by: float = math.inf) -> str:
        """Start the run; never *send* a start after ``start_by`` (a ``time.monotonic()`` instant).

        Past it, raise ``LaunchRejectedError``: another gateway may already have released the claim's
        budget (``START_REQUEST_BOUND``), so a start sent then could run a grant nobody holds.
        """
        ...

    def poll(self, run_id: str, submission_id: str) -> RunStatus: ...

    def discard_outcome(self, submission_id: str) -> None:
        """Delete the job's outcome document: the gateway withheld its result, so nobody may read it."""
        ...

    def cancel(self, run_id: str, submission_id: str) -> None:
        """Ask the service to stop the run; a run that is already over is not an error.

        Returns once the stop was accepted, not when the run has stopped: ``poll`` reports the end. A
        cancelled run may have read data, so its budget stays charged (a stopped run is FAILED).
        Raises ``LaunchError`` when the service refuses to stop a run that is still going.
        """
        ...

    def find_run(self, submission_id: str) -> str | None:
        """The run id of the job started for this submission, if any, from the launcher's own records.

        Used after a gateway stopped between launching and recording the run id, so it must see every
        run ``launch`` may have started (the submission id travels in the run's arguments or name).
        ``None`` is taken as proof the job never started, and its budget is released.
        """
        ...
