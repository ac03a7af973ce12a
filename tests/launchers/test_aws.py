"""Throttling is retried with backoff; every other failure becomes a typed error chosen by its code."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from gateway.errors import LaunchError, LaunchOutcomeUnknownError, LaunchRejectedError
from gateway.launchers.aws import call
from gateway.launchers.base import START_REQUEST_BOUND


def client_error(code: str, message: str = "no") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "StartJobRun")


class Flaky:
    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self, **kwargs: object) -> dict[str, object]:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return {"ok": kwargs}


def test_throttling_is_retried_with_growing_delays(sleeps) -> None:
    fn = Flaky(client_error("ThrottlingException"), client_error("ThrottlingException"))
    assert call("start", fn, sleep=sleeps, JobName="j") == {"ok": {"JobName": "j"}}
    assert fn.calls == 3
    assert len(sleeps.delays) == 2 and sleeps.delays[1] > sleeps.delays[0] > 0


def test_throttling_that_never_ends_is_a_launch_error(sleeps) -> None:
    fn = Flaky(*[client_error("ThrottlingException")] * 10)
    with pytest.raises(LaunchError) as caught:
        call("start", fn, sleep=sleeps, attempts=4)
    assert fn.calls == 4 and len(sleeps.delays) == 3
    assert not isinstance(caught.value, LaunchRejectedError)


def test_a_busy_job_is_retried_then_rejected(sleeps) -> None:
    fn = Flaky(*[client_error("ConcurrentRunsExceededException")] * 3)
    with pytest.raises(LaunchRejectedError, match="ConcurrentRunsExceededException"):
        call("start", fn, sleep=sleeps, attempts=3)
    assert fn.calls == 3


def test_the_code_decides_not_the_message(sleeps) -> None:
    fn = Flaky(client_error("AccessDeniedException", message="Rate exceeded, throttling"))
    with pytest.raises(LaunchRejectedError):
        call("start", fn, sleep=sleeps)
    assert fn.calls == 1 and sleeps.delays == []


def test_a_lost_answer_is_not_a_launch_error(sleeps) -> None:
    fn = Flaky(ReadTimeoutError(endpoint_url="https://glue"))
    with pytest.raises(LaunchOutcomeUnknownError) as caught:
        call("start", fn, sleep=sleeps, starts_run=True)
    assert not isinstance(caught.value, LaunchError)  # the gateway must not release the budget


def test_a_lost_answer_to_a_read_is_only_a_launch_error(sleeps) -> None:
    fn = Flaky(ReadTimeoutError(endpoint_url="https://glue"))
    with pytest.raises(LaunchError, match="try again"):
        call("read", fn, sleep=sleeps)


def test_an_unreachable_endpoint_never_started_anything(sleeps) -> None:
    fn = Flaky(EndpointConnectionError(endpoint_url="https://glue"))
    with pytest.raises(LaunchError, match="could not reach AWS"):
        call("start", fn, sleep=sleeps)


def test_runs_are_started_by_a_client_that_never_resends(aws_env) -> None:
    from gateway.launchers.aws import LazyClient

    lazy = LazyClient("glue", "eu-west-1")
    assert lazy.get().meta.config.retries["total_max_attempts"] == 5
    assert lazy.starter().meta.config.retries["total_max_attempts"] == 1
    config = lazy.starter().meta.config  # a sent start is answered or given up within START_REQUEST_BOUND
    assert config.connect_timeout + config.read_timeout == START_REQUEST_BOUND
    injected = object()
    assert LazyClient("glue", None, injected).starter() is injected


def test_no_start_is_sent_after_its_deadline(sleeps) -> None:
    fn = Flaky()
    with pytest.raises(LaunchRejectedError, match="launch deadline passed"):
        call("start a run", fn, sleep=sleeps, starts_run=True, start_by=time.monotonic() - 1)
    assert fn.calls == 0


def test_throttling_retries_stop_at_the_start_deadline(sleeps) -> None:
    fn = Flaky(*[client_error("ThrottlingException")] * 3)
    with pytest.raises(LaunchRejectedError, match="launch deadline passed"):
        # the first backoff outlives the deadline
        call("start a run", fn, sleep=lambda _: time.sleep(0.2), starts_run=True, start_by=time.monotonic() + 0.1)
    assert fn.calls == 1
