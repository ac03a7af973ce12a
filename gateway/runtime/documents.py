"""Reads and writes the job's two documents (request, outcome) on a local path or on S3.

On Glue and EMR the request and the outcome live in S3 next to each other; locally they are files.
boto3 is imported only for ``s3://`` URIs, so a local job needs no AWS library. Writes are atomic in
both cases: a local file is replaced in one rename, an S3 object appears whole on ``put_object``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from gateway.errors import GatewayValidationError


class DocumentNotFoundError(FileNotFoundError):
    """No document at the URI (a missing file or S3 key)."""


def _s3() -> Any:
    import boto3  # lazily: only jobs with s3:// documents need it
    from botocore.config import Config

    return boto3.session.Session().client("s3", config=Config(retries={"mode": "standard"}))


def _local_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme == "":
        return Path(uri)
    if parsed.scheme == "file":
        return Path(parsed.netloc + parsed.path)
    return None


def _bucket_key(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise GatewayValidationError(f"unsupported document location {uri!r}: use a local path or s3://bucket/key")
    return parsed.netloc, parsed.path.lstrip("/")


def read_text(uri: str) -> str:
    """The document's text; ``DocumentNotFoundError`` when absent, ``OSError`` for other failures."""
    path = _local_path(uri)
    if path is not None:
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise DocumentNotFoundError(str(exc)) from exc
    bucket, key = _bucket_key(uri)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        body = _s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise DocumentNotFoundError(f"no document at {uri}") from exc
        raise OSError(f"cannot read {uri}: {exc}") from exc
    except BotoCoreError as exc:
        raise OSError(f"cannot read {uri}: {exc}") from exc
    return bytes(body).decode("utf-8")


def write_text(uri: str, text: str) -> None:
    """Write the whole document atomically; ``OSError`` when it cannot be written."""
    path = _local_path(uri)
    if path is None:
        bucket, key = _bucket_key(uri)
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            _s3().put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType="application/json")
        except (ClientError, BotoCoreError) as exc:
            raise OSError(f"cannot write {uri}: {exc}") from exc
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
