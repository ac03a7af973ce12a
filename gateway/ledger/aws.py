"""What the S3 and DynamoDB stores add to ``gateway.aws``: transient codes, the ledger's error, and bounded
jittered retries of a lost compare-and-swap (a conflict, which no botocore retry mode retries).

boto3 is an optional dependency (the ``aws`` extra): it is imported only when an AWS ledger is opened.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from gateway import aws
from gateway.aws import THROTTLING_CODES, client_errors, error_code
from gateway.errors import LedgerError, LedgerUnavailableError

__all__ = ["TRANSIENT_CODES", "Backoff", "client_errors", "error_code", "make_client", "unavailable"]

# Codes that mean "try the same request again shortly"; anything else is not transient. Throttling also
# arrives inside a cancelled transaction's reasons, which botocore's retry modes do not look into.
TRANSIENT_CODES = THROTTLING_CODES | {
    "ConditionalRequestConflict",  # S3 409: another conditional write to the key is in flight
    "TransactionConflict",
    "TransactionInProgressException",
    "InternalServerError",
    "ServiceUnavailable",
}


def make_client(service: str) -> Any:
    """A client with botocore's standard retry mode (throttling and 5xx, with backoff)."""
    return aws.make_client(service, attempts=6, needed_by=f"{service} ledgers", error=LedgerError)


def unavailable(what: str, exc: Exception) -> LedgerUnavailableError:
    code = error_code(exc) or type(exc).__name__
    return LedgerUnavailableError(
        f"the ledger at {what} could not be reached ({code}: {exc}); check the URL, credentials and network, then retry"
    )


class Backoff:
    """Bounded attempts with full-jitter exponential sleeps, so racing writers spread out."""

    def __init__(
        self, attempts: int = 8, base: float = 0.01, cap: float = 0.5, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.attempts = attempts
        self.base = base
        self.cap = cap
        self.sleep = sleep

    def pause(self, attempt: int) -> None:
        self.sleep(random.uniform(0, min(self.cap, self.base * 2**attempt)))
