"""The launcher port: start a job for an admitted claim and follow it to a terminal state."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from gateway.core.jobs import JobOutcome, JobRequest


class RunState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self is not RunState.RUNNING


@dataclass(frozen=True)
class RunStatus:
    state: RunState
    message: str | None = None
    outcome: JobOutcome | None = None
    log_uri: str | None = None


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

    def launch(self, request: JobRequest) -> str: ...

    def poll(self, run_id: str, submission_id: str) -> RunStatus: ...

    def find_run(self, submission_id: str) -> str | None:
        """The run id of the job started for this submission, if any, from the launcher's own records.

        Used after a gateway stopped between launching and recording the run id, so it must see every
        run ``launch`` may have started (the submission id travels in the run's arguments or name).
        ``None`` is taken as proof the job never started, and its budget is released.
        """
        ...
