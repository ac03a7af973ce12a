"""Combine what the compute service says about a run with what the job wrote, into one ``RunStatus``.

The service's state decides whether the run is over; the outcome document decides whether it
succeeded. A run the service calls successful but that wrote no outcome (or a failed one) is FAILED:
the gateway only ever releases an answer it can read, with its receipt.
"""

from __future__ import annotations

from gateway.core.jobs import JobOutcome
from gateway.launchers.base import RunState, RunStatus


def run_status(
    state: RunState,
    service_state: str,
    outcome: JobOutcome | None,
    *,
    service_message: str | None,
    outcome_uri: str,
    log_uri: str | None,
    operator_detail: str | None = None,
) -> RunStatus:
    """``operator_detail`` (the service's failure details) is carried on every terminal failure."""
    if state is RunState.RUNNING:
        return RunStatus(RunState.RUNNING, service_state, log_uri=log_uri)
    if outcome is not None and outcome.status == "succeeded":
        if state is RunState.SUCCEEDED:
            return RunStatus(RunState.SUCCEEDED, outcome=outcome, log_uri=log_uri)
        return RunStatus(
            RunState.FAILED,
            f"the run ended {service_state} after writing its outcome: {service_message or 'no reason given'}",
            outcome=outcome,
            log_uri=log_uri,
            operator_detail=operator_detail,
        )
    if outcome is not None and outcome.error is not None:
        return RunStatus(
            RunState.FAILED,
            f"{outcome.error.type}: {outcome.error.message}",
            outcome=outcome,
            log_uri=log_uri,
            operator_detail=operator_detail,
        )
    reason = f": {service_message}" if service_message else ""
    return RunStatus(
        RunState.FAILED,
        f"the run ended {service_state} without writing an outcome to {outcome_uri}{reason}",
        log_uri=log_uri,
        operator_detail=operator_detail,
    )
