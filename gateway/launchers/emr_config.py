"""The shape of EMR ``Configurations`` (the content of ``software_settings.json``), checked before upload.

EMR rejects a malformed configuration only when a cluster starts, minutes later; ``dpgw package`` and
the tests check it up front: a list of ``{"Classification": str, "Properties": {str: str},
"Configurations": [...]}`` objects and nothing else.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import GatewayValidationError

_KEYS = {"Classification", "Properties", "Configurations"}


def check_configurations(doc: Any, where: str = "Configurations") -> None:
    if not isinstance(doc, list):
        raise GatewayValidationError(f"{where} must be a list of classifications")
    for i, item in enumerate(doc):
        here = f"{where}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("Classification"), str):
            raise GatewayValidationError(f"{here} must be an object with a string Classification")
        extra = set(item) - _KEYS
        if extra:
            raise GatewayValidationError(f"{here} has unknown keys {sorted(extra)}; allowed: {sorted(_KEYS)}")
        props = item.get("Properties", {})
        if not isinstance(props, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in props.items()):
            raise GatewayValidationError(f"{here}.Properties must map strings to strings")
        check_configurations(item.get("Configurations", []), f"{here}.Configurations")
