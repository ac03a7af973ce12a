"""The real ``dpgw`` commands against the service on a real socket (uvicorn on a thread): same documents,
same messages and exit codes as embedded mode, and only one's own submissions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
import yaml

from gateway.api import create_app
from gateway.cli.client import RemoteBackend, sigv4_headers
from gateway.cli.main import main
from gateway.errors import LedgerUnavailableError
from gateway.ledger import FileLedgerStore
from tests.api.conftest import Team, make_team, spec_doc


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Team, str]]:
    team = make_team(tmp_path, store=FileLedgerStore(tmp_path / "ledger"))
    config = uvicorn.Config(create_app(team.gateway, interval=0.2), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield team, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def cli(capsys, monkeypatch, *args, url=None, token=None) -> tuple[int, str, str]:
    """Run ``dpgw`` as a remote client (url set) or embedded (url None); returns (exit code, out, err)."""
    for name, value in (("DPGW_URL", url), ("DPGW_TOKEN", token)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write_spec(tmp_path: Path, name: str, **fields) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec_doc(**fields)))
    return str(path)


def test_remote_cli_matches_embedded_mode_and_keeps_analysts_apart(served, tmp_path, capsys, monkeypatch):
    team, url = served
    ledger = str(tmp_path / "ledger")
    ann, bob = team.tokens["ann"], team.tokens["bob"]

    def remote(*args, token=ann):
        return cli(capsys, monkeypatch, *args, url=url, token=token)

    def embedded(*args):
        return cli(capsys, monkeypatch, *args, "--ledger", ledger)

    code, out, _ = remote("submit", write_spec(tmp_path, "mine", eps=0.25, client_id="c1"), "--json")
    assert code == 0, out
    mine = json.loads(out)
    assert mine["analyst"] == "ann" and mine["state"] == "running"  # the loop's pass admitted and launched it
    assert set(mine) == {
        "id", "state", "analyst", "engine", "dataset", "block_range", "budget", "reason", "launcher", "run_id",
        "client_id", "submitted_at", "updated_at", "result",
    }  # fmt: skip

    # Another analyst: exactly as if it did not exist (exit 3), for status, result and cancel.
    _, missing_out, _ = remote("status", "q-0000000000000000", "--json", token=bob)
    for command in ("status", "result", "cancel"):
        code, out, _ = remote(command, mine["id"], "--json", token=bob)
        assert code == 3
        assert out.replace(mine["id"], "X") == missing_out.replace("q-0000000000000000", "X")
    assert json.loads(remote("status", "--json", token=bob)[1]) == []

    # No token, a forged one, a spec naming someone else: exit 6.
    code, _, err = remote("status", token=None)
    assert code == 6 and "DPGW_TOKEN" in err
    assert remote("status", token=ann[:-2] + "zz")[0] == 6
    code, out, _ = remote("submit", write_spec(tmp_path, "other", analyst="bob"), "--json")
    assert code == 6 and json.loads(out)["error"]["type"] == "AuthorizationError"

    # A bad spec: the same error document as embedded mode (exit 2).
    bad = write_spec(tmp_path, "bad", aggregate={"function": "mean", "column": "v"})
    remote_bad, embedded_bad = remote("submit", bad, "--json"), embedded("submit", bad, "--json")
    assert remote_bad[0] == embedded_bad[0] == 2 and remote_bad[1] == embedded_bad[1]

    # Not finished yet: exit 5; then the loop records the finished job with no `dpgw schedule` call.
    assert remote("result", mine["id"])[0] == 5
    team.launcher.finish_all()
    deadline = time.monotonic() + 20
    while json.loads(remote("status", mine["id"], "--json")[1])["state"] != "succeeded":
        assert time.monotonic() < deadline, "the scheduling loop did not record the finished job"
        time.sleep(0.2)

    for args in (("status", mine["id"]), ("result", mine["id"]), ("blocks", "list"), ("blocks", "list", "events")):
        code, out, _ = remote(*args, "--json")
        assert code == 0 and json.loads(out) == json.loads(embedded(*args, "--json")[1]), args
    assert json.loads(remote("status", "--json")[1]) == json.loads(embedded("status", "--json")[1])
    code, table, _ = remote("result", mine["id"])
    assert code == 0 and table == embedded("result", mine["id"])[1]

    # The operator revokes bob on the ledger: his next request is refused at once.
    assert embedded("analysts", "revoke", "bob")[0] == 0
    assert remote("status", token=bob)[0] == 6


def test_cancel_from_the_cli_and_unknown_data_set(served, tmp_path, capsys, monkeypatch):
    team, url = served
    ann = team.tokens["ann"]
    code, out, _ = cli(capsys, monkeypatch, "submit", write_spec(tmp_path, "a", eps=0.9), "--json", url=url, token=ann)
    first = json.loads(out)
    code, out, _ = cli(capsys, monkeypatch, "submit", write_spec(tmp_path, "b", eps=0.9), "--json", url=url, token=ann)
    second = json.loads(out)
    assert (first["state"], second["state"]) == ("running", "rejected")  # FCFS: cannot fit beside the first
    code, out, _ = cli(capsys, monkeypatch, "cancel", first["id"], "--json", url=url, token=ann)
    assert code == 3 and "running" in json.loads(out)["error"]["message"]  # past recall
    code, out, _ = cli(capsys, monkeypatch, "blocks", "list", "nope", "--json", url=url, token=ann)
    assert code == 2 and json.loads(out)["error"]["type"] == "UnknownDatasetError"


def test_submit_wait_follows_the_job_to_its_answer(served, tmp_path, capsys, monkeypatch):
    team, url = served
    stop = threading.Event()

    def jobs_finish() -> None:
        while not stop.is_set():
            team.launcher.finish_all()
            time.sleep(0.1)

    finisher = threading.Thread(target=jobs_finish, daemon=True)
    finisher.start()
    try:
        code, out, err = cli(
            capsys, monkeypatch, "submit", write_spec(tmp_path, "w", eps=0.3), "--wait", "--json",
            url=url, token=team.tokens["bob"],
        )  # fmt: skip
    finally:
        stop.set()
        finisher.join(5)
    assert code == 0, err
    done = json.loads(out)
    assert done["state"] == "succeeded" and done["analyst"] == "bob"
    assert done["result"]["submission_id"] == done["id"] and done["result"]["values"]


def test_an_unreachable_service_is_a_clear_error(capsys, monkeypatch):
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connection refused
        code, _, err = cli(capsys, monkeypatch, "status", url=f"http://127.0.0.1:{port}", token="x")
    assert code == 3 and "cannot reach the gateway" in err


def test_sigv4_signs_requests_for_an_aws_endpoint(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "session",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    url = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/v1/submissions"
    headers = sigv4_headers("POST", url, b"{}", {"Content-Type": "application/json"})
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    assert headers["X-Amz-Security-Token"] == "session" and "X-Amz-Date" in headers

    sent = []

    def capture(request, timeout):
        sent.append(request)
        raise __import__("urllib.error").error.URLError("captured")

    monkeypatch.setattr("urllib.request.urlopen", capture)
    backend = RemoteBackend("https://abc123.execute-api.eu-west-1.amazonaws.com/prod", token="bearer-not-sent")
    with pytest.raises(LedgerUnavailableError, match="cannot reach"):
        backend.list()
    assert sent[0].get_header("Authorization").startswith("AWS4-HMAC-SHA256")
    local = RemoteBackend("http://127.0.0.1:1", token="t", auth="sigv4")
    with pytest.raises(LedgerUnavailableError, match="cannot reach"):
        local.list()
    assert sent[1].get_header("Authorization").startswith("AWS4-HMAC-SHA256")  # DPGW_AUTH=sigv4 forces it
