"""One classification table per service; every terminal state is where the issue says it is."""

from __future__ import annotations

import pytest

from gateway.launchers.base import RunState
from gateway.launchers.states import EMR_STEP_STATES, GLUE_JOB_RUN_STATES, classify


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("SUCCEEDED", RunState.SUCCEEDED),
        *[(s, RunState.FAILED) for s in ("FAILED", "TIMEOUT", "ERROR", "STOPPED", "EXPIRED")],
        *[(s, RunState.RUNNING) for s in ("STARTING", "WAITING", "RUNNING", "STOPPING")],
        ("SOME_NEW_STATE", RunState.RUNNING),
    ],
)
def test_glue_states(state: str, expected: RunState) -> None:
    assert classify(GLUE_JOB_RUN_STATES, state) is expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("COMPLETED", RunState.SUCCEEDED),
        *[(s, RunState.FAILED) for s in ("CANCELLED", "FAILED", "INTERRUPTED")],
        *[(s, RunState.RUNNING) for s in ("PENDING", "CANCEL_PENDING", "RUNNING")],
        ("SOME_NEW_STATE", RunState.RUNNING),
    ],
)
def test_emr_step_states(state: str, expected: RunState) -> None:
    assert classify(EMR_STEP_STATES, state) is expected


def test_the_tables_cannot_be_changed_at_runtime() -> None:
    with pytest.raises(TypeError):
        GLUE_JOB_RUN_STATES["STOPPED"] = RunState.SUCCEEDED  # type: ignore[index]
