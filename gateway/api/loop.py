"""The serve process's scheduling loop: a pass every ``interval`` seconds and right after a submission.

Submissions only record a pending claim (no Spark job runs inside a request); this thread admits,
launches and follows jobs. A pass that fails is logged to stderr for the operator and the loop goes on:
the next pass starts again from the ledger, which every step left consistent.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable

from gateway.service import Gateway, ScheduleReport


class SchedulingLoop:
    def __init__(self, gateway_factory: Callable[[], Gateway], interval: float = 2.0) -> None:
        self.gateway_factory = gateway_factory
        self.interval = interval
        self.passes = 0
        self.failures = 0
        self._wake = threading.Event()
        self._done = threading.Condition()
        self._started = 0  # passes begun; a pass's number is its count here
        self._finished = 0  # the number of the last pass that ended
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dpgw-scheduling", daemon=True)
        self._thread.start()

    def trigger(self) -> None:
        """Run a pass now (or as soon as the current one ends)."""
        self._wake.set()

    def trigger_and_wait(self, timeout: float) -> bool:
        """Run a pass now and wait until a pass that began after this call has ended (False on timeout)."""
        with self._done:
            target = self._started + 1
        self._wake.set()
        with self._done:
            return self._done.wait_for(lambda: self._finished >= target, timeout)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> ScheduleReport | None:
        with self._done:
            self._started += 1
            number = self._started
        try:
            report = self.gateway_factory().schedule()
        except Exception as exc:  # noqa: BLE001 - one failing pass must not stop scheduling; logged, not swallowed
            self.failures += 1
            print(f"dpgw serve: scheduling pass failed: {exc}", file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)
            return None
        finally:
            self.passes += 1
            with self._done:
                self._finished = number
                self._done.notify_all()
        return report

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self.run_once()
            self._wake.wait(self.interval)
