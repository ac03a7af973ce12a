"""Run every benchmark in turn and print its figures (``make bench``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    ["overhead.py", "--submissions", "1000"],
    ["api.py", "--submissions", "200"],
    ["e2e.py", "--repeat", "2"],
    ["ledger_throughput.py", "--clients", "1", "4", "16"],
    ["sweep.py"],
]

if __name__ == "__main__":
    for script, *args in BENCHES:
        print(f"== {script} {' '.join(args)}", flush=True)
        subprocess.run([sys.executable, str(HERE / script), *args], check=True)
