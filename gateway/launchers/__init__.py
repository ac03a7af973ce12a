"""Launchers (adapters of the ``Launcher`` port): where admitted jobs run (local Spark, AWS Glue, EMR)."""

from gateway.launchers.base import Launcher, RunState, RunStatus
from gateway.launchers.emr import EmrStepLauncher
from gateway.launchers.glue import GlueLauncher
from gateway.launchers.local import LocalSparkLauncher
from gateway.launchers.registry import build_launchers
from gateway.launchers.settings import AwsSettings, EmrSettings, GlueSettings, load_settings

__all__ = [
    "AwsSettings",
    "EmrSettings",
    "EmrStepLauncher",
    "GlueLauncher",
    "GlueSettings",
    "Launcher",
    "LocalSparkLauncher",
    "RunState",
    "RunStatus",
    "build_launchers",
    "load_settings",
]
