"""The HTTP service as an ASGI app: the same app under uvicorn (``dpgw serve``) and in Lambda (Mangum)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from gateway.api import errors
from gateway.api.loop import SchedulingLoop
from gateway.api.pages import pages
from gateway.api.routes import router
from gateway.service import Gateway

GatewayFactory = Callable[[], Gateway]
MAX_BODY = 256 * 1024


def create_app(
    gateway_factory: GatewayFactory, *, interval: float | None = None, aws_principals: bool = False
) -> FastAPI:
    """The API over the gateway ``gateway_factory`` builds (called once per request and per pass).

    ``interval``: run a scheduling loop in this process (a pass every ``interval`` seconds and after each
    submission); None: no loop, a submission runs its pass itself (Lambda, where EventBridge runs the rest).
    ``aws_principals``: identify callers by the IAM ARN API Gateway verified, not by a bearer token.
    """
    loop = SchedulingLoop(gateway_factory, interval) if interval is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if loop is not None:
            loop.start()
        try:
            yield
        finally:
            if loop is not None:
                loop.stop()

    app = FastAPI(
        title="dp-gateway",
        version="1",
        summary="Differentially private queries under a per-block privacy-budget ledger.",
        lifespan=lifespan,
    )
    app.state.gateway_factory = gateway_factory
    app.state.loop = loop
    app.state.aws_principals = aws_principals
    errors.install(app)

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Refuse an oversized body before reading it (a spec is a few hundred bytes)."""
        length = request.headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY:
            message = f"the request body is over {MAX_BODY} bytes; a query spec is far smaller"
            return JSONResponse(errors.error_body("GatewayValidationError", message), status_code=413)
        return await call_next(request)

    app.include_router(router)
    app.include_router(pages)
    return app
