"""One table per compute service from its run states to the gateway's ``RunState``.

Every code path (launch, poll, status, reconciliation) classifies through ``classify``, so a state
cannot mean success in one place and failure in another (Airflow's STOPPED inconsistency). A state
missing from a table is treated as still running: AWS adds states, and a run that never ends is bounded
by the service's own timeout (Glue ``Timeout``, the EMR cluster's idle auto-termination).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from gateway.launchers.base import RunState

GLUE_JOB_RUN_STATES: Mapping[str, RunState] = MappingProxyType(
    {
        "STARTING": RunState.RUNNING,
        "WAITING": RunState.RUNNING,
        "RUNNING": RunState.RUNNING,
        "STOPPING": RunState.RUNNING,
        "SUCCEEDED": RunState.SUCCEEDED,
        "FAILED": RunState.FAILED,
        "TIMEOUT": RunState.FAILED,
        "ERROR": RunState.FAILED,
        "STOPPED": RunState.FAILED,  # a stopped run may have read data: never a success
        "EXPIRED": RunState.FAILED,
    }
)

EMR_STEP_STATES: Mapping[str, RunState] = MappingProxyType(
    {
        "PENDING": RunState.RUNNING,
        "CANCEL_PENDING": RunState.RUNNING,
        "RUNNING": RunState.RUNNING,
        "COMPLETED": RunState.SUCCEEDED,
        "CANCELLED": RunState.FAILED,
        "FAILED": RunState.FAILED,
        "INTERRUPTED": RunState.FAILED,
    }
)


def classify(table: Mapping[str, RunState], service_state: str) -> RunState:
    """The gateway state for a service state; unknown states are non-terminal."""
    return table.get(service_state, RunState.RUNNING)
