"""Nothing but DP answers reaches an analyst: no data row or data-quoting error in any command's output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.cli.main import build_gateway, main
from gateway.core import ledger as core
from gateway.core.jobs import FailureCategory
from gateway.core.spec import parse_spec

SECRET = "SECRET-ROW-4242"
SPEC = {
    "engine": "pipelinedp",
    "dataset": "events",
    "analyst": "ann",
    "blocks": {"from": "2026-10-01", "to": "2026-10-02"},
    "budget": {"epsilon": 0.5},
    "privacy_unit": "row",
    "aggregate": {"function": "sum", "column": "v", "low": 0, "high": 10},
}


def write_csv(path: Path) -> None:
    """A CSV with a malformed line quoting the secret (an unterminated quote and a non-number)."""
    path.mkdir()
    (path / "part-0.csv").write_text(
        "day,user,v\n"
        "2026-10-01T10:00:00,u1,3\n"
        f'2026-10-01T11:00:00,"{SECRET} unterminated,{SECRET}\n'
        f"2026-10-02T09:00:00,u2,{SECRET}\n"
        "2026-10-02T12:00:00,u3,4\n"
    )


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "events"
    write_csv(data)
    monkeypatch.setenv("DPGW_LEDGER", str(tmp_path / "ledger"))
    assert main(["init", "--policy", "fcfs"]) == 0
    assert (
        main(
            [
                "datasets",
                "add",
                "events",
                "--path",
                str(data),
                "--format",
                "csv",
                "--time-column",
                "day",
                "--schema",
                "day:timestamp,user:string,v:double",
            ]
        )
        == 0
    )
    assert main(["blocks", "add", "events", "--from", "2026-10-01", "--to", "2026-10-02", "--epsilon", "1"]) == 0
    return tmp_path / "ledger"


def outputs(capsys: pytest.CaptureFixture[str], claim_id: str) -> list[tuple[list[str], int, str]]:
    """Every analyst-facing view of one submission, plain and ``--json``."""
    seen = []
    for args in (
        ["status", claim_id],
        ["status"],
        ["result", claim_id],
        ["audit"],
        ["audit", "--submission", claim_id],
    ):
        for extra in ([], ["--json"]):
            capsys.readouterr()
            code = main([*args, *extra])
            captured = capsys.readouterr()
            seen.append((args + extra, code, captured.out + captured.err))
    return seen


def fail_with_detail(claim_id: str, detail: str) -> None:
    """Record a failure as the gateway does for a job whose error quoted data."""
    gw = build_gateway(None)
    reason = FailureCategory.ENGINE.reason("ref0001")
    gw._mutate(lambda s, now: core.finish(s, claim_id, False, now, reason=reason, detail=detail))


def running_claim(tmp_path: Path) -> str:
    """A claim admitted and marked running without starting a job (no Spark needed)."""
    gw = build_gateway(None)
    spec = parse_spec(SPEC)
    claim = core.prepare_claim(gw.state(), spec, gw.clock(), "q-leaktest", "local")
    gw._mutate(lambda s, now: core.arrive(s, claim, now))
    gw._mutate(lambda s, now: core.schedule(s, now))
    gw._mutate(lambda s, now: core.start_launch(s, claim.id, now))
    gw._mutate(lambda s, now: core.record_run(s, claim.id, "local-none", now))
    job = tmp_path / "ledger" / "jobs" / claim.id
    job.mkdir(parents=True)
    (job / "run.json").write_text(json.dumps({"run_id": "local-none", "pid": None}))
    return claim.id


def test_a_failure_quoting_data_shows_the_analyst_only_its_category(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    claim_id = running_claim(tmp_path)
    fail_with_detail(claim_id, f"ValueError: could not convert '{SECRET}' to float\nTraceback ...")
    for args, code, out in outputs(capsys, claim_id):
        assert SECRET not in out, args
        assert code in (0, 5), (args, out)
    capsys.readouterr()
    assert main(["status", claim_id, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["reason"] == "the job failed in the DP engine (ref ref0001)" and "detail" not in doc
    assert main(["status", claim_id, "--detail", "--json"]) == 0  # operator view
    assert SECRET in json.loads(capsys.readouterr().out)["detail"]
    assert main(["status", claim_id, "--detail"]) == 0
    assert SECRET in capsys.readouterr().out


@pytest.mark.slow
def test_a_malformed_csv_row_never_appears_in_any_output(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    capsys.readouterr()
    assert main(["submit", str(spec), "--wait"]) == 0  # the gateway reads no row; the job parses them
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err
    assert main(["submit", str(spec), "--json"]) == 0  # a second submission (no client id), still no rows read
    submitted = capsys.readouterr()
    assert SECRET not in submitted.out + submitted.err
    claim_id = json.loads(submitted.out)["id"]
    build_gateway(None).wait(claim_id, timeout=300)
    for args, _code, text in outputs(capsys, claim_id):
        assert SECRET not in text, args
    job_dir = tmp_path / "ledger" / "jobs" / claim_id
    assert {p.name for p in job_dir.iterdir()} >= {"claimed.json", "outcome.json", "request.json"}
    assert build_gateway(None).claim(claim_id).state.value == "succeeded"  # finished: in history


def test_running_the_local_job_twice_yields_one_answer(ledger: Path, tmp_path: Path) -> None:
    """The launcher's own command line, run a second time on the same request: refused, nothing overwritten."""
    import subprocess
    import sys

    from gateway.core.jobs import request_text, sha256_hex

    claim_id = running_claim(tmp_path)
    job = tmp_path / "ledger" / "jobs" / claim_id
    (job / "claimed.json").write_text("{}")  # the first run's claim
    (job / "outcome.json").write_text("first answer")
    gw: Any = build_gateway(None)
    state = gw.state()
    from gateway.core.jobs import GrantedBudget, JobRequest

    claim = state.claim(claim_id)
    request = JobRequest(
        submission_id=claim_id,
        spec=claim.spec,
        dataset=state.dataset("events"),
        blocks=tuple(state.blocks[k].day for k in claim.blocks),
        granted=GrantedBudget.of(claim.demand),
        output=str(job / "outcome.json"),
    )
    (job / "request.json").write_text(request_text(request))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.runtime",
            "--request",
            str(job / "request.json"),
            "--submission-id",
            claim_id,
            "--request-sha256",
            sha256_hex(request_text(request)),
            "--output",
            request.output,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1 and "already run" in proc.stderr
    assert (job / "outcome.json").read_text() == "first answer"
