"""The job entry point, the same on local Spark, AWS Glue and EMR.

It reads a ``JobRequest`` (refused unless it hashes to ``--request-sha256``), claims it create-only,
answers it on exactly the granted blocks with at most the granted budget, and writes one
``JobOutcome`` to ``request.output``, create-only: one grant, one answer. It imports no ledger or launcher code, and
boto3 only for ``s3://`` documents (Glue, EMR): the gateway trusts only the outcome document, and the
in-job accountant is a second line of defence.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import traceback
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from gateway.core.jobs import (
    FailureCategory,
    GrantedBudget,
    JobError,
    JobOutcome,
    JobRequest,
    JobResult,
    blocks_text,
    sha256_hex,
)
from gateway.engines import engine_for
from gateway.errors import BudgetExceededError, DataNotFoundError, GatewayError, GatewayValidationError
from gateway.runtime import documents
from gateway.runtime.reader import read_granted_blocks, read_granted_version, read_public_keys, spec_columns

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


CLAIM_NAME = "claimed.json"


class DataReadError(GatewayError):
    """The granted blocks could not be read (the cause, which may quote data, stays in the job log)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run_job(spark: SparkSession, request: JobRequest) -> JobResult:
    """Answer one request; refuse to return an answer that cost more than the grant."""
    started = _now()
    spec = request.spec
    spec.check_against(request.dataset, request.public_tables)
    if spec.group_by is not None and spec.group_by.from_table is not None:
        request = with_public_keys(spark, request)
        spec = request.spec
    engine = engine_for(spec.engine)
    try:
        columns = spec_columns(spec, request.dataset)
        if request.version is not None:
            df = read_granted_version(spark, request.dataset, request.version, columns=columns)
        else:
            df = read_granted_blocks(spark, request.dataset, request.blocks, columns=columns)
    except DataNotFoundError:
        raise
    except Exception as exc:
        raise DataReadError(f"reading the granted blocks of {request.dataset.name} failed: {exc}") from exc
    answer = engine.run(df, request)
    granted = request.granted.to_budget()
    if not answer.spent.is_non_negative() or not answer.spent.fits_in(granted):
        raise BudgetExceededError(
            f"the {engine.name} engine reports spending {answer.spent}, outside the grant of {granted}; "
            "the answer is withheld"
        )
    return JobResult(
        submission_id=request.submission_id,
        engine=engine.name,
        engine_version=engine.version(),
        dataset=request.dataset.name,
        blocks=request.blocks,
        version=request.version,
        granted=request.granted,
        spent=GrantedBudget.of(answer.spent, request.granted.alphas),
        aggregate=spec.first.function.value,
        column=spec.first.column,
        group_by=", ".join(spec.group_by.names) if spec.group_by is not None else None,
        values=answer.values,
        answers=list(answer.answers),
        notes=list(answer.notes),
        started_at=started,
        finished_at=_now(),
    )


def with_public_keys(spark: SparkSession, request: JobRequest) -> JobRequest:
    """The request with the group-by keys read from its public table (public data, read before any
    private row), so the engines see declared keys as always."""
    group = request.spec.group_by
    assert group is not None and group.from_table is not None
    table = request.public_tables.get(group.from_table)
    if table is None:
        raise GatewayValidationError(f"the request lacks public table {group.from_table!r}")
    combos = read_public_keys(spark, table, group.names)
    if not combos:
        raise GatewayValidationError(f"public table {table.name!r} holds no keys for {', '.join(group.names)}")
    spec = request.spec.model_copy(update={"group_by": group.with_keys(combos)})  # type: ignore[arg-type]
    return request.model_copy(update={"spec": spec})


def _master_configured() -> bool:
    """True when something other than this code chose the cluster manager (spark-submit, Glue, EMR).

    Looks at what spark-submit would use: a running session, a driver started by spark-submit
    (``PYSPARK_GATEWAY_PORT``), ``MASTER`` / ``PYSPARK_SUBMIT_ARGS``, and ``spark.master`` in
    ``spark-defaults.conf`` (where EMR and Glue put ``yarn``).
    """
    from pyspark.sql import SparkSession

    env = os.environ
    if SparkSession.getActiveSession() is not None or "PYSPARK_GATEWAY_PORT" in env:
        return True
    if env.get("MASTER") or "--master" in env.get("PYSPARK_SUBMIT_ARGS", ""):
        return True
    conf_dir = env.get("SPARK_CONF_DIR") or (str(Path(env["SPARK_HOME"]) / "conf") if "SPARK_HOME" in env else None)
    if conf_dir is None:
        return False
    try:
        lines = (Path(conf_dir) / "spark-defaults.conf").read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    return any(line.split(maxsplit=1)[:1] == ["spark.master"] for line in lines)


def build_spark(app_name: str) -> SparkSession:
    """Get or create the job's SparkSession: UTC session time, no UI, ``local[*]`` only if nothing else.

    ``PYSPARK_PYTHON`` defaults to this interpreter so Python workers find the DP libraries.
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
    )
    if not _master_configured():
        builder = builder.master("local[*]")
    return builder.getOrCreate()


def write_outcome(outcome: JobOutcome, output: str) -> None:
    """Write the outcome create-only (a local path or ``s3://``): readers see no document or all of it.

    ``DocumentExistsError`` when an outcome is already there: the first answer stays the only one.
    NaN values (an engine may return one, with a note) are written as the ``NaN`` token that Python's
    ``json`` and pydantic read back; ``model_dump_json`` would turn them into ``null`` and make the
    outcome unreadable.
    """
    documents.create_text(output, json.dumps(outcome.model_dump(mode="json"), indent=2))


def claim_request(request: JobRequest, digest: str) -> None:
    """Create ``claimed.json`` beside the outcome, create-only, before any data is read.

    A second run of the same request finds it and stops (``DocumentExistsError``): one grant, one answer.
    """
    claim = {"submission_id": request.submission_id, "request_sha256": digest, "claimed_at": _now().isoformat()}
    documents.create_text(documents.sibling(request.output, CLAIM_NAME), json.dumps(claim, indent=2))


def category_of(exc: BaseException) -> FailureCategory:
    """The analyst-safe category of a job failure (its message is never shown to the analyst)."""
    if isinstance(exc, DataReadError | DataNotFoundError):
        return FailureCategory.DATA
    if isinstance(exc, BudgetExceededError):
        return FailureCategory.WITHHELD
    if isinstance(exc, GatewayValidationError):
        return FailureCategory.REFUSED
    return FailureCategory.ENGINE


def _failed(submission_id: str, category: FailureCategory, ref: str, detail: str) -> JobOutcome:
    return JobOutcome(submission_id=submission_id, status="failed", error=JobError.of(category, ref), detail=detail)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gateway.runtime", description=__doc__.splitlines()[0])
    parser.add_argument("--request", required=True, help="path of the JobRequest JSON document")
    parser.add_argument(
        "--submission-id", required=True, help="the request's submission id (shown in the process list)"
    )
    parser.add_argument(
        "--request-sha256", required=True, help="sha256 of the request document; any other document is refused"
    )
    # Optional copies of the grant, as Glue/EMR show them in the run's arguments; when given they must
    # match the request document, or the job refuses to run (the document was changed after launch).
    parser.add_argument("--blocks", help="granted days, comma-separated ISO dates, or version=V (a snapshot)")
    parser.add_argument("--epsilon", help="granted epsilon")
    parser.add_argument("--delta", help="granted delta")
    parser.add_argument("--output", help="where the outcome goes")
    return parser.parse_args(argv)


def _check_arguments(request: JobRequest, args: argparse.Namespace) -> None:
    """The run's arguments and the request document must describe the same grant."""
    expected = {
        "blocks": blocks_text(request),
        "epsilon": str(request.granted.epsilon),
        "delta": str(request.granted.delta),
        "output": request.output,
    }
    for name, value in expected.items():
        given = getattr(args, name)
        if given is not None and given != value:
            raise GatewayValidationError(
                f"the run's --{name} {given!r} differs from the request document's {value!r}; refusing to run"
            )


class _UnusableRequestError(GatewayValidationError):
    """The request file cannot be run; ``output`` is where to say so, if that place is surely ours."""

    def __init__(self, message: str, output: str | None = None) -> None:
        super().__init__(message)
        self.output = output


def _load_request(path: str, submission_id: str, digest: str, output: str | None) -> JobRequest:
    """Read the request, checking it is the one the gateway wrote and named on the command line.

    The document must hash to ``--request-sha256``: a request changed after launch is refused.
    ``output`` (the ``--output`` argument, from the gateway) is where a refusal is reported.
    """
    try:
        text = documents.read_text(path)
    except (OSError, GatewayValidationError) as exc:
        raise _UnusableRequestError(f"cannot read the request at {path}: {exc}", output) from exc
    found_digest = sha256_hex(text)
    if found_digest != digest:
        raise _UnusableRequestError(
            f"the request at {path} has sha256 {found_digest}, not the launched {digest}; refusing to run it",
            output,
        )
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise _UnusableRequestError(f"the request at {path} is not JSON: {exc}", output) from exc
    found = raw.get("submission_id") if isinstance(raw, dict) else None
    if found != submission_id:
        raise _UnusableRequestError(
            f"the request at {path} is for submission {found!r}, not {submission_id!r}; refusing to run it"
        )
    try:
        return JobRequest.model_validate(raw)
    except ValidationError as exc:
        stated = raw.get("output")
        raise _UnusableRequestError(
            f"the request at {path} is invalid: {exc}", output or (stated if isinstance(stated, str) else None)
        ) from exc


def main(argv: list[str] | None = None) -> int:
    """Run one job from a request file; 0 when the outcome says succeeded, 1 otherwise.

    Order: check the request (digest, submission id, arguments), claim it (``claimed.json``,
    create-only), and only then read data. A request that cannot be run is reported to ``--output``
    when given (else its own ``output`` if the document is the gateway's), as a refusal; a request
    already claimed by an earlier run stops here and writes nothing. Every later failure, expected or
    not, is recorded in the outcome as a category only; its full text and traceback go to stderr (the
    job log) and to the outcome's operator-only ``detail``, under the same reference id.
    """
    args = _parse_args(argv)
    ref = uuid.uuid4().hex[:12]
    try:
        request = _load_request(args.request, args.submission_id, args.request_sha256, args.output)
        _check_arguments(request, args)
    except _UnusableRequestError as exc:
        print(f"dpgw runtime [ref {ref}]: {exc}", file=sys.stderr)
        if exc.output is None:
            return 1
        return _report(_failed(args.submission_id, FailureCategory.REFUSED, ref, str(exc)), exc.output)
    except GatewayValidationError as exc:
        print(f"dpgw runtime [ref {ref}]: {exc}", file=sys.stderr)
        return _report(_failed(request.submission_id, FailureCategory.REFUSED, ref, str(exc)), request.output)
    try:
        claim_request(request, args.request_sha256)
    except documents.DocumentExistsError:
        print(
            f"dpgw runtime [ref {ref}]: submission {request.submission_id} was already run (its claim exists "
            "beside the outcome); one grant gets one answer, so this run stops without reading data",
            file=sys.stderr,
        )
        return 1
    except (OSError, GatewayError) as exc:
        print(f"dpgw runtime [ref {ref}]: cannot claim the request: {exc}", file=sys.stderr)
        return 1
    try:
        spark = build_spark(f"dpgw-{request.submission_id}")
        result = run_job(spark, request)
        outcome = JobOutcome(submission_id=request.submission_id, status="succeeded", result=result)
    except Exception as exc:  # noqa: BLE001 - the top level records any failure in the outcome
        detail = "".join(traceback.format_exception(exc))
        print(f"dpgw runtime [ref {ref}]: {type(exc).__name__}\n{detail}", file=sys.stderr)
        outcome = _failed(request.submission_id, category_of(exc), ref, detail)
    return _report(outcome, request.output)


def _report(outcome: JobOutcome, output: str) -> int:
    try:
        write_outcome(outcome, output)
    except documents.DocumentExistsError:
        print(f"dpgw runtime: an outcome already exists at {output}; it stays the only answer", file=sys.stderr)
        return 1
    except (OSError, GatewayError) as exc:
        print(f"dpgw runtime: could not write the outcome to {output}: {exc}", file=sys.stderr)
        return 1
    return 0 if outcome.status == "succeeded" else 1
