"""The serve process's scheduling loop: periodic, woken by submissions, and alive after a failing pass."""

from __future__ import annotations

import threading
import time

from gateway.api.loop import SchedulingLoop
from gateway.errors import LedgerUnavailableError
from gateway.service import ScheduleReport


class FlakyGateway:
    """Fails its first pass (the ledger is unreachable), then schedules normally."""

    calls = 0
    lock = threading.Lock()

    def schedule(self) -> ScheduleReport:
        with FlakyGateway.lock:
            FlakyGateway.calls += 1
            first = FlakyGateway.calls == 1
        if first:
            raise LedgerUnavailableError("the ledger is unreachable (a test)")
        return ScheduleReport()


def test_a_failing_pass_is_logged_and_the_loop_goes_on(capfd):
    FlakyGateway.calls = 0
    loop = SchedulingLoop(FlakyGateway, interval=0.05)
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while loop.passes < 3:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        loop.stop()
    assert loop.failures == 1 and loop.passes >= 3
    err = capfd.readouterr().err
    assert "scheduling pass failed: the ledger is unreachable (a test)" in err
    assert "LedgerUnavailableError" in err  # the traceback, for the operator


def test_a_trigger_runs_a_pass_at_once_and_waits_for_it():
    FlakyGateway.calls = 1  # no failure this time
    loop = SchedulingLoop(FlakyGateway, interval=3600)  # only a trigger can start the next pass
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while loop.passes < 1:  # the first pass runs at start
            assert time.monotonic() < deadline
            time.sleep(0.02)
        before = loop.passes
        assert loop.trigger_and_wait(timeout=10)
        assert loop.passes == before + 1
    finally:
        loop.stop()
    assert loop.failures == 0
