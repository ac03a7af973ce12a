"""The gateway as an HTTP service (team mode): FastAPI routes over the same use cases as the CLI."""

from gateway.api.app import create_app

__all__ = ["create_app"]
