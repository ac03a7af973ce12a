"""The Lambda entry point of AWS team mode: API Gateway requests and EventBridge scheduling events.

API Gateway (REST API, IAM auth, Lambda proxy integration, payload v1) verified the caller's SigV4
signature and put the caller's ARN in ``requestContext.identity.userArn``; the app maps it to the
analyst registered with that ``--principal`` (unknown: 403). Bearer tokens are not used here.
EventBridge events (a schedule, or a Glue/EMR state change) run one scheduling pass and return its
report. Configuration comes from the environment: ``DPGW_LEDGER`` and the launcher settings.
"""

from __future__ import annotations

import dataclasses
import os
from functools import cache
from pathlib import Path
from typing import Any

from gateway.errors import GatewayValidationError
from gateway.service import Gateway

SCHEDULING_SOURCES = frozenset({"aws.events", "aws.glue", "aws.emr"})
JOBS_DIR = Path("/tmp/dpgw-jobs")  # the only writable place in Lambda (the local launcher's work dir)


def gateway_from_env() -> Gateway:
    """A gateway on ``$DPGW_LEDGER`` with the launchers the environment configures."""
    from gateway.launchers import build_launchers
    from gateway.ledger import open_store
    from gateway.sources.public import check_lookup_keys
    from gateway.sources.s3 import inspect_any_columns

    if not os.environ.get("DPGW_LEDGER"):
        raise GatewayValidationError("set DPGW_LEDGER (e.g. dynamodb://table) in the function's environment")
    return Gateway(open_store(None), build_launchers(JOBS_DIR), inspect=inspect_any_columns, lookups=check_lookup_keys)


@cache
def _asgi() -> Any:
    from mangum import Mangum

    from gateway.api.app import create_app

    app = create_app(lambda: gateway_from_env(), aws_principals=True)
    return Mangum(app, lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "httpMethod" in event:
        return _asgi()(event, context)
    if event.get("source") in SCHEDULING_SOURCES:
        return dataclasses.asdict(gateway_from_env().schedule())
    raise GatewayValidationError(
        "unsupported event: expected an API Gateway REST request or an EventBridge event from "
        + ", ".join(sorted(SCHEDULING_SOURCES))
    )
