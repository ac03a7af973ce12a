"""``dpgw blocks add`` over a long range on the local directory store: seconds per command.

Each command is one commit (one rewrite of ``ledger.json``), so the time grows with the ledger's size,
not with the number of chunks. Ranges are split at the per-command limit (36,600 days). The last line
re-runs the first range, which must add nothing (a resumed range only adds the missing days).

    python bench/bulk_blocks.py [--days 100000]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import tempfile
import time
from pathlib import Path

from gateway.cli.main import main
from gateway.core.blocks import MAX_RANGE_DAYS
from gateway.demo import generate_purchases


def dpgw(*args: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(list(args))
    if code != 0:
        raise SystemExit(f"dpgw {' '.join(args)} exited {code}")


def run(days: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ledger = str(Path(tmp) / "ledger")
        generate_purchases(Path(tmp) / "data", days=1, users=5)
        dpgw("init", "--ledger", ledger, "--policy", "fcfs")
        dpgw("datasets", "add", "p", "--path", str(Path(tmp) / "data"), "--time-column", "day", "--ledger", ledger)
        first, total, ranges = dt.date(1800, 1, 1), 0.0, []
        while days > 0:
            span = min(days, MAX_RANGE_DAYS)
            ranges.append((first, first + dt.timedelta(days=span - 1)))
            first, days = first + dt.timedelta(days=span), days - span
        for start, end in [*ranges, ranges[0]]:
            began = time.perf_counter()
            dpgw("blocks", "add", "p", "--from", f"{start}", "--to", f"{end}", "--epsilon", "1", "--ledger", ledger)
            took = time.perf_counter() - began
            total += took
            print(f"{start}..{end} ({(end - start).days + 1} days): {took:.2f} s", flush=True)
        size = (Path(ledger) / "ledger.json").stat().st_size / 1e6
        print(f"total {total:.2f} s, ledger.json {size:.1f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=100_000)
    run(parser.parse_args().days)
