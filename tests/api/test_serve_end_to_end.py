"""``dpgw serve`` in a real subprocess on a local ledger, driven by the real ``dpgw`` CLI over HTTP.

One real Spark job: the scheduling loop admits, launches and records it with no ``dpgw schedule``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from gateway.demo import generate_purchases

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(**extra: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPGW_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYSPARK_PYTHON"] = sys.executable
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def dpgw(*args: str, **env: str | None) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", *args], env=_env(**env), capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


def test_two_analysts_over_http_against_dpgw_serve(tmp_path):
    data, ledger = tmp_path / "data", str(tmp_path / "ledger")
    generate_purchases(data, days=3, users=40)
    assert dpgw("init", "--ledger", ledger, "--n", "4")[0] == 0  # DPF-N: each arrival unlocks a quarter
    assert dpgw("datasets", "add", "purchases", "--path", str(data), "--time-column", "day", "--ledger", ledger)[0] == 0
    code, _, err = dpgw("blocks", "add", "purchases", "--from", "2026-10-01", "--to", "2026-10-03", "--epsilon", "1",
                        "--ledger", ledger)  # fmt: skip
    assert code == 0, err
    tokens = {}
    for name in ("ann", "bob", "cal"):
        code, out, err = dpgw("analysts", "add", name, "--json", "--ledger", ledger)
        assert code == 0, err
        tokens[name] = json.loads(out)["token"]
    assert dpgw("analysts", "revoke", "cal", "--ledger", ledger)[0] == 0

    def spec(name: str, **fields) -> str:
        path = tmp_path / f"{name}.yaml"
        doc = {"engine": "tumult", "dataset": "purchases", "privacy_unit": "row", "blocks": {"last": 2},
               "aggregate": {"function": "count"}, **fields}  # fmt: skip
        path.write_text(yaml.safe_dump(doc))
        return str(path)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(port), "--interval", "1", "--ledger", ledger],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/v1/health", timeout=2) as answer:
                    assert json.loads(answer.read()) == {"status": "ok"}
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "dpgw serve did not start"
                time.sleep(0.3)

        def remote(*args: str, who: str | None = "ann") -> tuple[int, str, str]:
            return dpgw(*args, DPGW_URL=url, DPGW_TOKEN=tokens[who] if who else None)

        code, out, err = remote("submit", spec("count", budget={"epsilon": 0.25}, client_id="c1"), "--json")
        assert code == 0, err
        mine = json.loads(out)
        assert mine["analyst"] == "ann" and mine["state"] in ("admitted", "launching", "running")
        code, out, err = remote("submit", spec("big", budget={"epsilon": 0.5}), "--json", who="bob")
        assert code == 0, err
        theirs = json.loads(out)
        assert theirs["analyst"] == "bob" and theirs["state"] == "pending"  # half unlocked, a quarter left

        # Each analyst sees only their own: listing, status, result, cancel.
        assert [s["id"] for s in json.loads(remote("status", "--json")[1])] == [mine["id"]]
        assert [s["id"] for s in json.loads(remote("status", "--json", who="bob")[1])] == [theirs["id"]]
        for command in ("status", "result", "cancel"):
            assert remote(command, mine["id"], who="bob")[0] == 3
            assert remote(command, theirs["id"])[0] == 3

        # No token, a revoked token, a spec naming someone else.
        code, _, err = remote("status", who=None)
        assert code == 6 and "token" in err
        assert remote("status", who="cal")[0] == 6
        code, out, _ = remote("submit", spec("impostor", budget={"epsilon": 0.1}, analyst="ann"), "--json", who="bob")
        assert code == 6 and json.loads(out)["error"]["type"] == "AuthorizationError"

        code, out, _ = remote("cancel", theirs["id"], "--json", who="bob")
        assert code == 0 and json.loads(out)["state"] == "cancelled"

        # The loop runs the job to the end: no `dpgw schedule` anywhere.
        deadline = time.monotonic() + 240
        while (state := json.loads(remote("status", mine["id"], "--json")[1])["state"]) != "succeeded":
            assert state in ("admitted", "launching", "running"), state
            assert time.monotonic() < deadline, "the job did not finish"
            time.sleep(2)
        code, out, _ = remote("result", mine["id"], "--json")
        assert code == 0
        answer = json.loads(out)
        assert answer["spent"] == {"epsilon": "0.25", "delta": "0"} and answer["submission_id"] == mine["id"]

        # The same documents as embedded mode on the same ledger.
        for args in (("status", mine["id"]), ("result", mine["id"]), ("blocks", "list", "purchases")):
            remote_doc = json.loads(remote(*args, "--json")[1])
            assert remote_doc == json.loads(dpgw(*args, "--json", "--ledger", ledger)[1]), args

        with urllib.request.urlopen(f"{url}/openapi.json", timeout=10) as answer:
            assert "/v1/submissions/{claim_id}/result" in json.loads(answer.read())["paths"]
        assert server.poll() is None  # still serving
    finally:
        server.terminate()
        try:
            _, log = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            _, log = server.communicate()
    assert "scheduling pass failed" not in log, log
