"""Launchers (adapters of the ``Launcher`` port): where admitted jobs run."""

from gateway.launchers.base import Launcher, RunState, RunStatus
from gateway.launchers.local import LocalSparkLauncher

__all__ = ["Launcher", "LocalSparkLauncher", "RunState", "RunStatus"]
