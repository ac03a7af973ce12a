"""Gateway errors as HTTP answers, in one place: the status code and a JSON body the CLI reads back.

The body is the CLI's ``--json`` error document, ``{"error": {"type": ..., "message": ...}}``, so a
remote CLI re-raises the same exception class with the same text and exits with the same code.
"""

from __future__ import annotations

import sys
import traceback

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gateway.errors import (
    AuthenticationError,
    AuthorizationError,
    BudgetError,
    DuplicateSubmissionError,
    GatewayError,
    GatewayInternalError,
    GatewayValidationError,
    LaunchError,
    LaunchOutcomeUnknownError,
    LedgerConflictError,
    LedgerNotFoundError,
    LedgerUnavailableError,
    ResultNotReadyError,
    SubmissionNotFoundError,
)

# First match wins: subclasses before their bases.
STATUS: tuple[tuple[type[GatewayError], int], ...] = (
    (AuthenticationError, 401),
    (AuthorizationError, 403),
    (SubmissionNotFoundError, 404),
    (DuplicateSubmissionError, 409),
    (ResultNotReadyError, 409),
    (LedgerConflictError, 409),
    (LedgerNotFoundError, 503),
    (LedgerUnavailableError, 503),
    (GatewayValidationError, 400),
    (BudgetError, 409),
    (LaunchOutcomeUnknownError, 502),
    (LaunchError, 502),
    (GatewayInternalError, 500),
)


def status_for(exc: GatewayError) -> int:
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 500)


def error_body(kind: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"type": kind, "message": message}}


def install(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
        return JSONResponse(error_body(type(exc).__name__, str(exc)), status_code=status_for(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return JSONResponse(error_body("GatewayValidationError", f"invalid request: {problems}"), status_code=400)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        # The operator's log gets the traceback; the caller gets no internals (they may hold data values).
        traceback.print_exception(exc, file=sys.stderr)
        message = "internal error in the gateway; the operator's log has the details"
        return JSONResponse(error_body("GatewayInternalError", message), status_code=500)
