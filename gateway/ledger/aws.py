"""What the S3 and DynamoDB stores share: lazily built clients, error codes, bounded jittered retries.

boto3 is an optional dependency (the ``aws`` extra): it is imported only when an AWS ledger is opened.
Clients honour ``AWS_ENDPOINT_URL`` (boto3 reads it itself), which is how tests point at a moto server.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from gateway.errors import LedgerError, LedgerUnavailableError

# Codes that mean "try the same request again shortly"; anything else is not transient.
TRANSIENT_CODES = frozenset(
    {
        "ConditionalRequestConflict",  # S3 409: another conditional write to the key is in flight
        "TransactionConflict",
        "TransactionInProgressException",
        "ThrottlingException",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "SlowDown",
    }
)


def make_client(service: str) -> Any:
    """A client with botocore's standard retry mode (throttling and 5xx, with backoff)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise LedgerError(f"{service} ledgers need boto3; install it with: pip install 'dp-gateway[aws]'") from exc
    config = Config(retries={"mode": "standard", "max_attempts": 5})
    return boto3.session.Session().client(service, config=config)


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def client_errors() -> tuple[type[Exception], ...]:
    """The botocore exceptions a store call may raise (imported lazily, like the clients)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


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
