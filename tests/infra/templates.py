"""Read CloudFormation YAML (with its short-form tags) and resolve the few intrinsics our templates use."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

INFRA = Path(__file__).resolve().parents[2] / "infra"


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


def load(name: str) -> dict[str, Any]:
    return yaml.load((INFRA / name).read_text(), Loader=_Loader)  # a SafeLoader subclass


def resolve(node: Any, refs: dict[str, str]) -> Any:
    """Substitute ``Ref`` / ``Fn::Sub`` / ``Fn::GetAtt`` from ``refs`` (GetAtt keys are ``Name.Attr``)."""
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return refs[node["Ref"]]
        if set(node) == {"Fn::GetAtt"}:
            return refs[".".join(node["Fn::GetAtt"])]
        if set(node) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda m: refs[m.group(1)], node["Fn::Sub"])
        return {k: resolve(v, refs) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, refs) for v in node]
    return node


def _branches(node: Any) -> list[Any]:
    """Every value a node may take: both arms of an ``Fn::If`` (``AWS::NoValue`` dropped), else itself."""
    if isinstance(node, dict) and set(node) == {"Fn::If"}:
        _, yes, no = node["Fn::If"]
        return [arm for branch in (yes, no) for arm in _branches(branch)]
    if node == {"Ref": "AWS::NoValue"}:
        return []
    return [node]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policies(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Logical id -> every statement of its policy documents (inline and managed), under any condition."""
    found: dict[str, list[dict[str, Any]]] = {}
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        docs = [props.get("PolicyDocument")] + [p["PolicyDocument"] for p in props.get("Policies", [])]
        statements = [s for doc in filter(None, docs) for raw in doc["Statement"] for s in _branches(raw)]
        if statements:
            found[name] = statements
    return found
