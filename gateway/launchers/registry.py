"""The launchers a gateway offers, by name: ``local`` always, ``glue`` and ``emr`` from ``AwsSettings``.

AWS clients are created on first use, so listing the launchers costs nothing and needs no credentials.
"""

from __future__ import annotations

import os
from pathlib import Path

from gateway.launchers.aws import LazyClient
from gateway.launchers.base import Launcher
from gateway.launchers.emr import EmrStepLauncher
from gateway.launchers.executor import LocalRunExecutor
from gateway.launchers.glue import GlueLauncher
from gateway.launchers.local import LocalSparkLauncher
from gateway.launchers.s3docs import S3Documents
from gateway.launchers.settings import AwsSettings, load_settings


def build_launchers(workdir: str | os.PathLike[str], settings: AwsSettings | None = None) -> dict[str, Launcher]:
    settings = settings if settings is not None else load_settings()
    executor = None
    if settings.glue.executor == "local":
        docs = S3Documents(LazyClient("s3", settings.region))
        executor = LocalRunExecutor(docs, settings.artifact_uri("dp_query_job.py"), Path(workdir) / "glue-local")
    return {
        "local": LocalSparkLauncher(workdir),
        "glue": GlueLauncher(settings, executor=executor),
        "emr": EmrStepLauncher(settings),
    }
