"""The README's exit codes for every kind of outcome, and exactly one JSON document with ``--json``."""

from __future__ import annotations

import json

import pytest

from gateway.cli import main as cli
from gateway.cli.main import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_an_unexpected_error_exits_70_with_one_line_and_no_traceback(capsys, monkeypatch, tmp_path):
    def broken(ledger):
        raise ZeroDivisionError("the [bold]impossible[/bold] happened")

    monkeypatch.setattr(cli, "build_gateway", broken)
    monkeypatch.delenv("DPGW_DEBUG", raising=False)
    code, out, err = run(capsys, "status", "--ledger", str(tmp_path))
    assert code == 70 and out == ""
    assert "Traceback" not in err and "ZeroDivisionError" in err and "[bold]impossible[/bold]" in err
    assert "DPGW_DEBUG=1" in err

    code, out, err = run(capsys, "status", "--ledger", str(tmp_path), "--json")
    assert code == 70 and err == ""
    assert json.loads(out)["error"]["type"] == "GatewayInternalError"

    monkeypatch.setenv("DPGW_DEBUG", "1")
    code, _, err = run(capsys, "status", "--ledger", str(tmp_path))
    assert code == 70 and "Traceback" in err


@pytest.mark.parametrize(
    "args",
    [["init", "--n", "abc"], ["init", "--bogus"], ["status", "a", "b"], ["nosuchcommand"]],
)
def test_usage_errors_exit_2_and_are_one_json_document(capsys, tmp_path, args):
    code, out, err = run(capsys, *args, "--ledger", str(tmp_path), "--json")
    assert code == 2 and "Traceback" not in out + err
    assert set(json.loads(out)) == {"error"}
    code, out, err = run(capsys, *args, "--ledger", str(tmp_path))
    assert code == 2 and out == "" and "Traceback" not in err


def test_gateway_errors_print_user_strings_as_plain_text(capsys, tmp_path):
    code, _, err = run(capsys, "status", "[/red]oops", "--ledger", str(tmp_path / "none"))
    assert code == 3 and "Traceback" not in err  # no ledger there
    code, _, err = run(capsys, "init", "--ledger", str(tmp_path / "l"))
    assert code == 0
    code, _, err = run(capsys, "status", "[/red]oops", "--ledger", str(tmp_path / "l"))
    assert code == 3 and "'[/red]oops'" in err


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    from gateway.demo import generate_purchases

    data = tmp_path / "data"
    generate_purchases(data, days=2, users=20)
    monkeypatch.setenv("DPGW_LEDGER", str(tmp_path / "ledger"))
    assert main(["init", "--policy", "fcfs"]) == 0
    assert main(["datasets", "add", "purchases", "--path", str(data), "--time-column", "day"]) == 0
    assert main(["blocks", "add", "purchases", "--from", "2026-10-01", "--to", "2026-10-02", "--epsilon", "1"]) == 0
    return tmp_path / "ledger"


def spec_file(tmp_path, epsilon: str) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(
        "engine: tumult\ndataset: purchases\nanalyst: ann\nblocks: {last: 2}\n"
        f"budget: {{epsilon: {epsilon}}}\nprivacy_unit: row\naggregate: {{function: count}}\n"
    )
    return str(path)


def test_a_rejected_submission_exits_3_and_still_prints_its_json(capsys, ledger, tmp_path):
    capsys.readouterr()
    code, out, _ = run(capsys, "submit", spec_file(tmp_path, "5"), "--json")
    assert code == 3 and json.loads(out)["state"] == "rejected"


def test_a_launch_that_never_started_exits_4(capsys, ledger, tmp_path, monkeypatch):
    monkeypatch.delenv("DPGW_AWS_BUCKET", raising=False)
    monkeypatch.setenv("DPGW_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    capsys.readouterr()
    code, out, _ = run(capsys, "submit", spec_file(tmp_path, "0.5"), "--launcher", "glue", "--json")
    doc = json.loads(out)
    assert code == 4 and doc["state"] == "released" and "DPGW_AWS_BUCKET" in doc["reason"]
    code, out, _ = run(capsys, "schedule", "--json")  # nothing wedged
    assert code == 0 and json.loads(out)["errors"] == []


class BrokenLauncher:
    """Breaks after it may have started the job, and cannot list its runs either."""

    name = "local"

    def output_for(self, submission_id: str) -> str:
        return f"none://{submission_id}"

    def launch(self, request, start_by=float("inf")):
        raise RuntimeError("[/red] the start broke")

    def find_run(self, submission_id):
        raise RuntimeError("[/red] the run list broke")

    def poll(self, run_id, submission_id):
        raise AssertionError("never running")


def test_schedule_goes_on_past_a_broken_claim_and_prints_its_error_plainly(capsys, ledger, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "build_launchers", lambda workdir: {"local": BrokenLauncher()})
    capsys.readouterr()
    code, _, err = run(capsys, "submit", spec_file(tmp_path, "0.5"))
    assert code == 70 and "the start broke" in err and "Traceback" not in err  # a launcher bug is a bug
    for _ in range(2):  # the claim stays reserved (it may have started); every pass still runs
        code, out, err = run(capsys, "schedule")
        assert code == 0 and "[/red] the run list broke" in out and "Traceback" not in out + err
    code, out, _ = run(capsys, "status", "--json")
    assert code == 0 and [c["state"] for c in json.loads(out)] == ["launching"]
