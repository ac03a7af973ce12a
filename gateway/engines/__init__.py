"""DP engines: adapters from a job request to Tumult Analytics or PipelineDP.

Each engine's library is an optional install, imported only when ``engine_for`` asks for that engine,
so the gateway (and the other engine) work without it.
"""

from __future__ import annotations

import importlib

from gateway.core.spec import Engine
from gateway.engines.base import DPEngine, EngineAnswer
from gateway.errors import EngineNotInstalledError

__all__ = ["DPEngine", "EngineAnswer", "engine_for"]

_ENGINES: dict[Engine, tuple[str, str, str]] = {
    # engine -> (module, class, pip extra)
    Engine.TUMULT: ("gateway.engines.tumult", "TumultEngine", "tumult"),
    Engine.PIPELINEDP: ("gateway.engines.pipelinedp", "PipelineDPEngine", "pipelinedp"),
}


def engine_for(name: Engine) -> DPEngine:
    """The engine for ``name``, or ``EngineNotInstalledError`` naming the extra to install."""
    module_name, class_name, extra = _ENGINES[Engine(name)]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EngineNotInstalledError(Engine(name).value, extra) from exc
    engine: DPEngine = getattr(module, class_name)()
    return engine
