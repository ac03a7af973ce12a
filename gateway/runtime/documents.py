"""Reads and writes the job's documents (request, claim, outcome) on a local path or on S3.

On Glue and EMR the documents live in S3 next to each other (``jobs/<submission_id>/``); locally they
are files. boto3 is imported only for ``s3://`` URIs, so a local job needs no AWS library. Writes are
atomic in both cases: a local file appears in one rename or link, an S3 object appears whole.

``create_text`` is create-only (S3 ``PutObject`` with ``IfNoneMatch="*"``, locally ``link``, which
fails when the name exists): the claim and the outcome are written that way, so a second run of one
request can neither claim it again nor overwrite the first answer.
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


class DocumentExistsError(FileExistsError):
    """A create-only write found a document already there (another run wrote it first)."""


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
    tmp = _durable_temp(path, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _durable_temp(path: Path, text: str) -> Path:
    """The text in a new, fsynced temporary file beside ``path``, to be renamed or linked into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _put_if_absent(client: Any, bucket: str, key: str, body: bytes) -> None:
    """``PutObject`` with ``If-None-Match: *``, sent as a header rather than the ``IfNoneMatch`` parameter.

    The parameter exists only in botocore releases from late 2024 on; Glue 5.0 ships botocore 1.34, which
    rejects it before sending anything. The header is what S3 reads either way, so adding it just before
    the request is signed works on every botocore the job may run with.
    """

    def if_none_match(request: Any, **_: Any) -> None:
        request.headers["If-None-Match"] = "*"

    event = "before-sign.s3.PutObject"
    client.meta.events.register(event, if_none_match, unique_id="dpgw-if-none-match")
    try:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    finally:
        client.meta.events.unregister(event, unique_id="dpgw-if-none-match")


def create_text(uri: str, text: str) -> None:
    """Write the whole document only if none exists: ``DocumentExistsError`` if one does.

    Locally the text goes to a temporary file that is then hard-linked to the name (``link`` fails if
    the name exists, atomically, and readers never see a partial document); on S3 a conditional put.
    """
    path = _local_path(uri)
    if path is None:
        bucket, key = _bucket_key(uri)
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            _put_if_absent(_s3(), bucket, key, text.encode("utf-8"))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                raise DocumentExistsError(f"{uri} already exists") from exc
            raise OSError(f"cannot write {uri}: {exc}") from exc
        except BotoCoreError as exc:
            raise OSError(f"cannot write {uri}: {exc}") from exc
        return
    tmp = _durable_temp(path, text)
    try:
        os.link(tmp, path)
    except FileExistsError as exc:
        raise DocumentExistsError(f"{uri} already exists") from exc
    finally:
        tmp.unlink(missing_ok=True)


def sibling(uri: str, name: str) -> str:
    """The URI of the document ``name`` in the same directory (or S3 prefix) as ``uri``."""
    head, sep, _ = uri.rpartition("/")
    return f"{head}{sep}{name}" if sep else name
