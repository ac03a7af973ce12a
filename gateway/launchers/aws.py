"""AWS plumbing shared by the Glue and EMR launchers: lazy clients, throttling retries, typed errors.

Clients and error codes come from ``gateway.aws`` (shared with the ledger stores). On top
of botocore's own attempts, ``call`` retries the throttling and concurrency codes with exponential
backoff through an injected ``sleep``, and turns every other failure into a typed gateway error by its
error *code*, never by its message.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from gateway import aws
from gateway.aws import THROTTLING_CODES, error_code
from gateway.errors import LaunchError, LaunchOutcomeUnknownError, LaunchRejectedError
from gateway.launchers.base import START_CONNECT_TIMEOUT, START_READ_TIMEOUT, check_start_deadline

T = TypeVar("T")
Sleep = Callable[[float], None]

# Glue needs a few seconds to clean up a finished run before a concurrency slot frees (Airflow notes).
BUSY_CODES = frozenset({"ConcurrentRunsExceededException"})
# The service refused the request: the run provably never started.
REJECTED_CODES = frozenset(
    {
        "ConcurrentRunsExceededException",
        "ResourceNumberLimitExceededException",
        "AccessDeniedException",
        "InvalidInputException",
        "ValidationException",
        "EntityNotFoundException",
    }
)


def make_client(service: str, region: str | None = None, *, retries: bool = True) -> Any:
    """A boto3 client with standard retries; imported lazily so the gateway runs without the aws extra.

    ``retries=False`` gives a client that sends each request once: botocore retries timeouts too, and a
    retried ``start_job_run`` whose first answer was lost would start a second run of the same grant.
    Its timeouts bound how long a sent start can stay in flight (``START_REQUEST_BOUND``).
    """
    attempts = 5 if retries else 1
    timeouts = {} if retries else {"connect_timeout": START_CONNECT_TIMEOUT, "read_timeout": START_READ_TIMEOUT}
    return aws.make_client(
        service, region, attempts=attempts, needed_by="the AWS launchers", error=LaunchError, **timeouts
    )


class LazyClient:
    """Holds an injected client or builds one on first use; ``starter()`` is the one for starting runs.

    An injected client (tests, or a caller's own configuration) serves both roles.
    """

    def __init__(self, service: str, region: str | None, client: Any | None = None) -> None:
        self._service = service
        self._region = region
        self._client = client
        self._starter = client

    def get(self) -> Any:
        if self._client is None:
            self._client = make_client(self._service, self._region)
        return self._client

    def starter(self) -> Any:
        """A client that never resends a request (see ``make_client``); ``call`` retries only refusals."""
        if self._starter is None:
            self._starter = make_client(self._service, self._region, retries=False)
        return self._starter


def call(
    what: str,
    fn: Callable[..., T],
    /,
    *,
    sleep: Sleep = time.sleep,
    starts_run: bool = False,
    start_by: float = math.inf,
    attempts: int = 6,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
    **kwargs: Any,
) -> T:
    """Call ``fn(**kwargs)``, retrying throttling/busy codes with capped exponential backoff and jitter.

    Raises ``LaunchRejectedError`` for the codes that mean "AWS refused", ``LaunchError`` for other
    client errors and for connection failures before the request left this machine. When the request
    may have reached AWS but its answer was lost, a call that ``starts_run`` raises
    ``LaunchOutcomeUnknownError`` (the run may exist: keep the budget); any other call, ``LaunchError``.
    A call that ``starts_run`` sends no attempt after ``start_by`` (see ``check_start_deadline``).
    """
    from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

    for attempt in range(attempts):
        if starts_run:
            check_start_deadline(start_by, what)
        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = error_code(exc)
            if (code in THROTTLING_CODES or code in BUSY_CODES) and attempt + 1 < attempts:
                sleep(min(max_delay, base_delay * 2**attempt) * (0.5 + random.random() / 2))
                continue
            if code in REJECTED_CODES:
                raise LaunchRejectedError(f"AWS refused to {what} ({code}): {_message(exc)}") from exc
            raise LaunchError(f"could not {what} ({code}): {_message(exc)}") from exc
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            raise LaunchError(f"could not reach AWS to {what}: {exc}; check the region and network") from exc
        except BotoCoreError as exc:
            if not starts_run:
                raise LaunchError(f"could not {what} ({type(exc).__name__}: {exc}); try again") from exc
            raise LaunchOutcomeUnknownError(
                f"the request to {what} may have reached AWS but its answer was lost ({type(exc).__name__}); "
                "run `dpgw status` to reconcile"
            ) from exc
    raise AssertionError("unreachable: the last attempt returns or raises")


def start_run(
    what: str,
    fn: Callable[..., T],
    /,
    *,
    run_id_of: Callable[[T], str],
    find_run: Callable[[], str | None],
    start_by: float,
    sleep: Sleep = time.sleep,
    **kwargs: Any,
) -> str:
    """Start a run and return its id. When AWS's answer is lost, the run is looked up by submission id
    before giving up, so a start that did happen is recorded rather than left for reconciliation."""
    try:
        response = call(what, fn, sleep=sleep, starts_run=True, start_by=start_by, **kwargs)
    except LaunchOutcomeUnknownError:
        found = find_run()
        if found is None:
            raise
        return found
    return run_id_of(response)


def _message(exc: BaseException) -> str:
    response = getattr(exc, "response", {})
    return str(response.get("Error", {}).get("Message", "")) if isinstance(response, dict) else ""
