"""Property-based fuzzing of the CLI, in process: hostile spec documents and hostile arguments.

The property, for every generated command: the exit code is 0, 2 or 3 (never 1, 4 or 70); nothing
prints a traceback; with ``--json`` stdout is exactly one JSON document; and the ledger directory is
byte-for-byte unchanged unless the command succeeded. Jobs never start: the CLI's launchers are
replaced by one that records a run and starts nothing, so an accepted query costs no Spark.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.cli import main as cli
from gateway.core.claims import ClaimState
from gateway.demo import generate_purchases
from gateway.launchers import RunState, RunStatus
from gateway.ledger import FileLedgerStore
from gateway.ledger.base import full_view

GOOD: dict[str, Any] = {
    "engine": "tumult",
    "dataset": "purchases",
    "analyst": "alice",
    "blocks": {"last": 2},
    "budget": {"epsilon": 0.01},
    "privacy_unit": "row",
    "aggregate": {"function": "mean", "column": "amount", "low": 0, "high": 100},
}
NUMERIC = [
    ("budget", "epsilon"),
    ("budget", "delta"),
    ("aggregate", "low"),
    ("aggregate", "high"),
    ("blocks", "last"),
    ("privacy_unit", "max_rows_per_id"),
]
DATES = [("blocks", "from"), ("blocks", "to")]
FIELDS = [
    ("engine",),
    ("dataset",),
    ("analyst",),
    ("client_id",),
    ("blocks",),
    ("budget",),
    ("privacy_unit",),
    ("privacy_unit", "id_column"),
    ("aggregate", "function"),
    ("aggregate", "column"),
    ("group_by",),
    ("group_by", "keys"),
    ("group_by", "column"),
    ("epsilom",),
]
NASTY = [
    "[/red]",
    "[bold]x",
    "[link=file:///etc/passwd]x[/link]",
    "\x00",
    "\x1b[31mred",
    "\u202eevil",
    "\ud7ff",
    "../../etc/passwd",
    "",
    " ",
    "a" * 300,
    "1e10",
    "1e400",
    "-1e400",
    "NaN",
    "-0",
    "1e-19",
    "0x10",
    "2026-02-30",
    "0000-01-01",
    "9999-12-31",
    "2026-10-01",
    "purchases",
    "amount",
    "region",
    "user_id",
    "row",
    "count",
    "sum",
    "tumult",
    "pipelinedp",
    "\u0661\u0662",
    "true",
    "null",
    "~",
    "*a",
    "&a",
    "!!python/object",
]
STATES_OK = {0, 2, 3}
EXAMPLES = int(os.environ.get("DPGW_FUZZ_EXAMPLES", "250"))  # per property; raise it for a longer local hunt

texts = st.one_of(st.sampled_from(NASTY), st.text(max_size=12))
huge = st.sampled_from([1e10, 10**10, "1e10", 1e300, "1e400", 10**30, "9" * 40, 2**63, 10**6 + 1, "1e999999999"])
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 0.5, 1e-30, "1e-19", "0." + "9" * 30, 10**6, 36_600, 36_601]),
    huge,
    huge,
)
near_dates = st.dates(min_value=dt.date(2026, 9, 25), max_value=dt.date(2026, 10, 8))
scalars = st.one_of(st.none(), st.booleans(), numbers, texts, st.dates(), near_dates)
values = st.recursive(
    st.one_of(numbers, numbers.map(str), near_dates, scalars),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "from", "to", "keys"]), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def spec_documents(draw) -> tuple[bytes, bool]:
    """A spec file's bytes: a mutated good spec as YAML or JSON, or plainly hostile bytes."""
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "good", "bytes", "deep", "duplicate", "big"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300)), False
    if kind == "deep":
        depth = draw(st.integers(min_value=20, max_value=20_000))
        return (yaml.safe_dump(GOOD) + "group_by: " + "[" * depth + "]" * depth).encode(), False
    if kind == "duplicate":
        return (yaml.safe_dump(GOOD) + "budget: {epsilon: 0.02}\n").encode(), False
    if kind == "big":
        return b"# " + b"x" * (1 << 20) + b"\n" + yaml.safe_dump(GOOD).encode(), False
    doc = copy.deepcopy(GOOD)
    if kind == "mutated":
        for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
            group = draw(st.sampled_from(["numeric", "numeric", "date", "other"]))
            if group == "numeric":
                path, value = draw(st.sampled_from(NUMERIC)), st.one_of(numbers, numbers.map(str), values)
            elif group == "date":
                path, value = draw(st.sampled_from(DATES)), st.one_of(near_dates, st.dates(), texts)
            else:
                path, value = draw(st.sampled_from(FIELDS)), values
            target = doc
            for key in path[:-1]:
                if not isinstance(target.get(key), dict):
                    target[key] = {}
                target = target[key]
            if path == ("blocks", "from") or path == ("blocks", "to"):
                target.pop("last", None)
            if draw(st.integers(0, 9)) == 0 and path[-1] in target:
                del target[path[-1]]
            else:
                target[path[-1]] = draw(value)
    form = draw(st.sampled_from(["yaml", "json"]))
    try:
        text = yaml.safe_dump(doc, allow_unicode=True) if form == "yaml" else json.dumps(doc, default=str)
    except (ValueError, yaml.YAMLError):  # e.g. a surrogate or NaN JSON cannot hold: send the repr
        text = repr(doc)
    return text.encode("utf-8", "surrogatepass"), kind == "good"


dates = st.one_of(near_dates.map(str), near_dates.map(str), st.dates().map(str), texts)
amounts = st.one_of(numbers.map(str), texts)


@st.composite
def commands(draw) -> list[str]:
    """CLI arguments (the ledger and --json are added by the test)."""
    name = draw(st.one_of(st.just("purchases"), texts))
    choice = draw(
        st.sampled_from(
            [
                "blocks add",
                "init",
                "status",
                "result",
                "blocks list",
                "audit",
                "schedule",
                "datasets add",
                "datasets list",
                "submit-option",
            ]
        )
    )
    if choice == "blocks add":
        args = ["blocks", "add", name, "--from", draw(dates), "--to", draw(dates), "--epsilon", draw(amounts)]
        return args + (["--delta", draw(amounts)] if draw(st.booleans()) else [])
    if choice == "init":
        args = ["init", "--policy", draw(st.one_of(st.sampled_from(["dpf-n", "dpf-t", "fcfs", "dpack"]), texts))]
        args += ["--n", draw(st.one_of(numbers.map(str), texts))] if draw(st.booleans()) else []
        return args + (["--lifetime", draw(st.one_of(texts, numbers.map(str)))] if draw(st.booleans()) else [])
    if choice in ("status", "result"):
        return [choice, draw(texts)]
    if choice == "blocks list":
        return ["blocks", "list", name]
    if choice == "audit":
        return ["audit", "--submission", draw(texts)]
    if choice == "datasets add":  # paths that do not exist: inspecting odd files is the sources' concern
        return [
            "datasets",
            "add",
            name,
            "--path",
            "/nonexistent/" + draw(st.text(max_size=8)),
            "--time-column",
            draw(texts),
            "--format",
            draw(st.sampled_from(["parquet", "csv", "xml"])),
        ]
    if choice == "submit-option":
        return ["submit", "/nonexistent/spec.yaml", "--launcher", draw(texts)]
    return [choice] if choice != "datasets list" else ["datasets", "list"]


class NoJobLauncher:
    """Records a run and starts nothing: an accepted query costs no Spark."""

    name = "local"

    def output_for(self, submission_id: str) -> str:
        return f"none://{submission_id}"

    def launch(self, request, start_by: float = float("inf")) -> str:
        return f"run-{request.submission_id}"

    def find_run(self, submission_id: str) -> str | None:
        return None

    def poll(self, run_id: str, submission_id: str) -> RunStatus:
        return RunStatus(RunState.RUNNING)


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    generate_purchases(root / "data", days=4, users=30)
    ledger = str(root / "ledger")
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["init", "--ledger", ledger, "--policy", "fcfs"]) == 0
        assert (
            cli.main(
                [
                    "datasets",
                    "add",
                    "purchases",
                    "--path",
                    str(root / "data"),
                    "--time-column",
                    "day",
                    "--ledger",
                    ledger,
                ]
            )
            == 0
        )
        assert (
            cli.main(
                [
                    "blocks",
                    "add",
                    "purchases",
                    "--from",
                    "2026-10-01",
                    "--to",
                    "2026-10-04",
                    "--epsilon",
                    "1",
                    "--ledger",
                    ledger,
                ]
            )
            == 0
        )
    return root / "ledger"


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args)
    return code, out.getvalue(), err.getvalue()


def check(template: Path, args: list[str], json_out: bool, spec: bytes | None = None) -> int:
    """Run one command on a fresh copy of the ledger and check the property; returns the exit code."""
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Path(tmp) / "ledger"
        shutil.copytree(template, ledger)
        if spec is not None:
            (Path(tmp) / "spec.yaml").write_bytes(spec)
            args = ["submit", str(Path(tmp) / "spec.yaml")]
        before, state = digest(ledger), full_view(FileLedgerStore(ledger))
        code, out, err = run_cli([*args, "--ledger", str(ledger), *(["--json"] if json_out else [])])
        assert code in STATES_OK, (args, code, out[-2000:], err[-2000:])
        assert "Traceback" not in out + err, (args, err[-3000:])
        if json_out:
            json.loads(out)  # exactly one JSON document, nothing else on stdout
        if code != 0 and digest(ledger) != before:  # only a rejected submission is recorded (exit 3)
            after = full_view(FileLedgerStore(ledger))  # a rejected claim is finished: it is in history
            added = [c for k, c in after.claims.items() if k not in state.claims]
            assert args[0] == "submit" and code == 3 and after.blocks == state.blocks, (args, code, err)
            assert len(after.claims) == len(state.claims) + 1
            assert len(added) == 1 and added[0].state is ClaimState.REJECTED
    return code


@pytest.fixture
def no_jobs(monkeypatch):
    monkeypatch.setattr(cli, "build_launchers", lambda workdir: {"local": NoJobLauncher()})
    for name in ("DPGW_LEDGER", "DPGW_DEBUG", "DPGW_AWS_BUCKET"):
        monkeypatch.delenv(name, raising=False)


def test_fuzz_cli_never_crashes_and_changes_the_ledger_only_on_success(template, no_jobs, capsys):
    seen = {"cases": 0, "codes": {}}

    def note(code: int) -> None:
        seen["cases"] += 1
        seen["codes"][code] = seen["codes"].get(code, 0) + 1

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(document=spec_documents(), json_out=st.booleans())
    def specs(document: tuple[bytes, bool], json_out: bool) -> None:
        spec, good = document
        code = check(template, [], json_out, spec)
        if good:
            assert code == 0
        note(code)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(args=commands(), json_out=st.booleans())
    def arguments(args: list[str], json_out: bool) -> None:
        note(check(template, args, json_out))

    specs()
    arguments()
    with capsys.disabled():
        print(f"\nfuzz: {seen['cases']} CLI cases, exit codes {dict(sorted(seen['codes'].items()))}")
    assert seen["cases"] >= EXAMPLES and {0, 2, 3} <= set(seen["codes"])
