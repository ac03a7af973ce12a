"""The mutation list stays applicable: every mutant's edit still names code that exists exactly once, and
its guarding tests still exist. Running the mutants takes many minutes and is done by hand; this check
is cheap and keeps a refactoring from silently turning a mutant into a no-op."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("run_mutants", ROOT / "tests/mutation/run_mutants.py")
assert _spec is not None and _spec.loader is not None
run_mutants = importlib.util.module_from_spec(_spec)
sys.modules["run_mutants"] = run_mutants  # dataclasses look their module up while the class is built
_spec.loader.exec_module(run_mutants)


@pytest.mark.parametrize("mutant", run_mutants.MUTANTS, ids=lambda m: m.name)
def test_each_edit_applies_once_and_its_tests_exist(mutant):
    for file, old, new in mutant.edits:
        text = (ROOT / file).read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{mutant.name}: {old!r} occurs {text.count(old)} times in {file}"
        assert old != new
    for test in mutant.tests:
        path, _, name = test.partition("::")
        assert (ROOT / path).is_file(), f"{mutant.name}: {path} does not exist"
        if name:  # a single test rather than a whole file
            source = (ROOT / path).read_text(encoding="utf-8")
            assert f"def {name.split('[')[0]}(" in source, f"{mutant.name}: {test} does not exist"
