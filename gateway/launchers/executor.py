"""Executes a Glue run on this machine: for testing the Glue path against moto, whose runs do nothing.

After AWS (moto) accepted ``start_job_run``, the launcher hands the run's id and full arguments to
``LocalRunExecutor``, which downloads the job's script from its S3 location (uploaded by
``dpgw package``) and runs it with those arguments in a child Python, exactly as Glue would call it
(``script.py --key value ...``). The job then reads its request from S3 and writes its outcome to S3,
and the launcher's ``poll`` reads it like any Glue outcome. Never use it against real AWS: the run
would execute twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from gateway.errors import LaunchError
from gateway.launchers.s3docs import S3Documents


class LocalRunExecutor:
    def __init__(self, docs: S3Documents, script_uri: str, workdir: str | os.PathLike[str]) -> None:
        self._docs = docs
        self._script_uri = script_uri
        self.workdir = Path(workdir)

    def __call__(self, run_id: str, arguments: Mapping[str, str]) -> None:
        script = self._docs.get_text(self._script_uri)
        if script is None:
            raise LaunchError(f"no job script at {self._script_uri}: run `dpgw package` first")
        run_dir = self.workdir / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / Path(self._script_uri).name
        path.write_text(script, encoding="utf-8")
        argv = [sys.executable, str(path)]
        for key, value in arguments.items():
            argv += [key, value]
        env = {**os.environ, "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable)}
        with open(run_dir / "job.log", "ab") as log:
            # The exit status is not checked: the job records success or failure in its outcome document.
            subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, check=False)
