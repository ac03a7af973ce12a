"""A reader that leaves early (``dpgw audit | head -1``): real ``dpgw`` processes writing into a closed
pipe exit 141 (128 + SIGPIPE, as a shell reports for a tool killed by it), print no traceback, and leave
the ledger byte-for-byte as it was."""

from __future__ import annotations

import datetime as dt
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway.cli.main import STDOUT_GONE, main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger whose listings are far larger than a pipe's buffer (64 KiB): 1,500 blocks."""
    root = tmp_path_factory.mktemp("pipe")
    data = root / "data"
    data.mkdir()
    pq.write_table(pa.table({"day": [dt.date(2026, 1, 1)], "v": [1.0]}), data / "part-0.parquet")
    path = root / "ledger"
    assert main(["init", "--ledger", str(path), "--policy", "fcfs", "--json"]) == 0
    assert main(["datasets", "add", "ev", "--path", str(data), "--time-column", "day", "--ledger", str(path)]) == 0
    assert (
        main(
            [
                "blocks",
                "add",
                "ev",
                "--from",
                "2022-01-01",
                "--to",
                "2026-02-08",
                "--epsilon",
                "1",
                "--ledger",
                str(path),
            ]
        )
        == 0
    )
    return path


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100"}


def dpgw(*args: str) -> list[str]:
    return [sys.executable, "-m", "gateway.cli.main", *args]


COMMANDS = [
    ["status", "--json"],
    ["audit"],
    ["audit", "--json"],
    ["blocks", "list"],
    ["blocks", "list", "--json"],
    ["status", "no-such-id", "--json"],  # the error document meets the closed pipe (exit 141, not 3)
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_writing_into_a_pipe_nobody_reads_exits_141_quietly(ledger, args):
    before = snapshot(ledger)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte
    try:
        proc = subprocess.run(
            dpgw(*args, "--ledger", str(ledger)), stdout=write_end, stderr=subprocess.PIPE, env=env(), timeout=60
        )
    finally:
        os.close(write_end)
    assert proc.returncode == STDOUT_GONE == 141, proc.stderr.decode()
    assert proc.stderr == b""  # no traceback, no "Exception ignored", no error line
    assert snapshot(ledger) == before


@pytest.mark.parametrize(
    ("command", "reader"),
    [("blocks list", "head -1"), ("blocks list --json", "head -c 10")],
)
def test_a_reader_leaving_halfway_through_a_large_output_exits_141(ledger, command, reader):
    """One large write (a whole table or JSON document) that the reader leaves halfway: Python's buffered
    stdout reports a short count there and would drop the rest silently, exiting 0."""
    big = subprocess.run(dpgw(*command.split(), "--ledger", str(ledger)), capture_output=True, env=env(), timeout=60)
    assert big.returncode == 0 and len(big.stdout) > 2 * 65536  # several pipe buffers
    before = snapshot(ledger)
    line = " ".join(map(shlex.quote, dpgw(*command.split(), "--ledger", str(ledger))))
    proc = subprocess.run(
        ["bash", "-c", f"{line} 2>err.txt | {reader} >/dev/null; echo ${{PIPESTATUS[0]}}"],
        cwd=ledger.parent,
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
    )
    assert proc.stdout.strip() == "141", proc.stderr
    assert (ledger.parent / "err.txt").read_text() == ""
    assert snapshot(ledger) == before


def test_output_the_reader_takes_whole_still_exits_0(ledger):
    proc = subprocess.run(dpgw("status", "--json", "--ledger", str(ledger)), capture_output=True, env=env(), timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"[]\n", b"")
