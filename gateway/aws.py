"""The AWS plumbing the ledger stores and the launchers share: clients and error codes.

Clients are built on first use (never at import) from ``boto3.session.Session()`` with botocore's
``standard`` retry mode, which retries throttling and 5xx answers with backoff; boto3 honours
``AWS_ENDPOINT_URL`` (moto server, LocalStack) by itself. boto3 is an optional dependency (the ``aws``
extra), imported only when a client is built. Failures are told apart by their error *code*, never by
their message.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import GatewayError

# Codes that mean "slow down and send it again" across the services the gateway calls.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottlingError",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceeded",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "RequestThrottled",
    }
)


def make_client(
    service: str,
    region: str | None = None,
    *,
    attempts: int,
    needed_by: str,
    error: type[GatewayError],
    **config: Any,
) -> Any:
    """A client whose requests botocore sends at most ``attempts`` times (standard retry mode).

    ``needed_by`` and ``error``: who needs boto3 and what to raise when it is missing; ``config``: more
    botocore ``Config`` settings (timeouts).
    """
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise error(f"{needed_by} need boto3; install it with: pip install 'dp-gateway[aws]'") from exc
    settings = Config(
        retries={"mode": "standard", "total_max_attempts": attempts}, user_agent_extra="dp-gateway", **config
    )
    return boto3.session.Session().client(service, region_name=region, config=settings)


def error_code(exc: BaseException) -> str | None:
    """The botocore error code of a ``ClientError``, else None."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code is not None else None


def client_errors() -> tuple[type[Exception], ...]:
    """The botocore exceptions a call may raise (imported lazily, like the clients)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)
