"""Where the AWS launchers run jobs: bucket and prefix, Glue job, EMR cluster, region.

One place, one precedence: ``DPGW_*`` environment variables override the ``[aws]`` table of a TOML file
(``$DPGW_CONFIG``, else ``./dpgw.toml`` when present), which overrides the defaults below. Environment
names follow one rule: ``DPGW_AWS_<FIELD>`` for the top level, ``DPGW_GLUE_<FIELD>`` and
``DPGW_EMR_<FIELD>`` for the sections (for example ``DPGW_S3_BUCKET`` is spelt ``DPGW_AWS_BUCKET``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway import __version__
from gateway.errors import GatewayValidationError

# The DP libraries the job needs on Glue/EMR, pinned like the local install (see pyproject extras).
DP_LIBRARIES = ("tmlt.analytics==0.21.0", "pipeline-dp==0.3.1")


class GlueSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    job_name: str = "dpgw-query"
    role_arn: str | None = None
    glue_version: str = "5.0"  # Spark 3.5 on Python 3.11: the pair Tumult 0.21 and PipelineDP 0.3.1 need
    worker_type: str = "G.1X"
    number_of_workers: int = Field(default=2, ge=2)
    timeout_minutes: int = Field(default=60, ge=1)
    max_concurrent_runs: int = Field(default=10, ge=1)
    # "local" runs the job on this machine with the run's arguments after AWS accepted the start: for
    # testing against moto (whose runs never execute anything), never for production.
    executor: Literal["aws", "local"] = "aws"


class EmrSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cluster_id: str | None = None  # None: each job gets a transient cluster that ends with its step
    execution_role_arn: str | None = None
    release_label: str = "emr-7.5.0"  # EMR 7.x ships Python 3.11 next to Spark 3.5
    instance_type: str = "m5.xlarge"  # x86: tmlt.core and python-dp publish no Linux ARM wheels
    core_instance_count: int = Field(default=2, ge=0)
    service_role: str = "EMR_DefaultRole"
    job_flow_role: str = "EMR_EC2_DefaultRole"
    subnet_id: str | None = None
    idle_timeout_seconds: int = Field(default=3600, ge=60)


class AwsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str | None = None  # None: boto3's own resolution (AWS_REGION, profile)
    bucket: str | None = None
    prefix: str = "dpgw"
    glue: GlueSettings = GlueSettings()
    emr: EmrSettings = EmrSettings()

    def uri(self, *parts: str) -> str:
        """``s3://bucket/prefix/part/...``; fails with what to set when no bucket is configured."""
        if not self.bucket:
            raise GatewayValidationError(
                "no S3 bucket configured for the AWS launchers: set DPGW_AWS_BUCKET or `bucket` in the [aws] "
                "table of dpgw.toml (see infra/README.md)"
            )
        key = "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))
        return f"s3://{self.bucket}/{key}"

    # --- the S3 layout, in one place -----------------------------------------------------------

    def request_uri(self, submission_id: str) -> str:
        return self.uri("jobs", submission_id, "request.json")

    def outcome_uri(self, submission_id: str) -> str:
        return self.uri("jobs", submission_id, "outcome.json")

    def artifact_uri(self, name: str) -> str:
        return self.uri("artifacts", __version__, name)

    @property
    def wheel_name(self) -> str:
        return f"dp_gateway-{__version__}-py3-none-any.whl"

    @property
    def warehouse_uri(self) -> str:
        """Tumult writes intermediate tables: on a cluster they must go to shared storage."""
        return self.uri("warehouse") + "/"


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise GatewayValidationError(f"not an s3://bucket/key URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def load_settings(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> AwsSettings:
    """Defaults, then the TOML file's ``[aws]`` table, then ``DPGW_*`` variables."""
    env = os.environ if environ is None else environ
    doc: dict[str, Any] = {}
    file = Path(path) if path is not None else Path(env.get("DPGW_CONFIG", "dpgw.toml"))
    if path is not None or "DPGW_CONFIG" in env or file.exists():
        try:
            doc = dict(tomllib.loads(file.read_text(encoding="utf-8")).get("aws", {}))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise GatewayValidationError(f"cannot read launcher settings from {file}: {exc}") from exc
    for section, model, env_prefix in (
        (None, AwsSettings, "DPGW_AWS_"),
        ("glue", GlueSettings, "DPGW_GLUE_"),
        ("emr", EmrSettings, "DPGW_EMR_"),
    ):
        target = doc if section is None else doc.setdefault(section, {})
        for field in model.model_fields:
            value = env.get(env_prefix + field.upper())
            if value is not None and field not in ("glue", "emr"):
                target[field] = value
    try:
        return AwsSettings.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise GatewayValidationError(f"invalid launcher settings: {problems}") from None
