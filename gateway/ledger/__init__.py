"""Ledger stores (adapters of the ``LedgerStore`` port), chosen by the ledger URL.

The AWS stores are imported only for their URLs, so boto3 stays an optional dependency.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from gateway.errors import GatewayValidationError
from gateway.ledger.base import LedgerStore
from gateway.ledger.local import FileLedgerStore
from gateway.ledger.memory import InMemoryLedgerStore

DEFAULT_LEDGER = "./.dpgw"

__all__ = ["DEFAULT_LEDGER", "FileLedgerStore", "InMemoryLedgerStore", "LedgerStore", "open_store", "resolve_url"]


def resolve_url(url: str | None) -> str:
    """Explicit argument, else $DPGW_LEDGER, else ./.dpgw."""
    return url or os.environ.get("DPGW_LEDGER") or DEFAULT_LEDGER


def open_store(url: str | None = None) -> LedgerStore:
    url = resolve_url(url)
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return FileLedgerStore(parsed.netloc + parsed.path if parsed.scheme == "file" else url)
    if parsed.scheme == "s3" and parsed.netloc:
        from gateway.ledger.s3 import S3LedgerStore

        return S3LedgerStore(parsed.netloc, parsed.path)
    if parsed.scheme == "dynamodb" and parsed.netloc and parsed.path in ("", "/"):
        from gateway.ledger.dynamodb import DynamoDBLedgerStore

        return DynamoDBLedgerStore(parsed.netloc)
    raise GatewayValidationError(
        f"unsupported ledger URL {url!r}: use a directory path or file://, s3://bucket/prefix, dynamodb://table"
    )
