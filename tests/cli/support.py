"""The CLI called in-process with ``--json``: its exit code checked, its one JSON document returned."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.cli.main import main


def run_json(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> Any:
    capsys.readouterr()
    got = main([*args, "--json"])
    out = capsys.readouterr()
    assert got == code, out
    return json.loads(out.out)
