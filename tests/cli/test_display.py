"""What a newcomer sees: policy-specific block columns with δ, compact block spans, noisy-value notes and
display-time post-processing, and progress plus the job log while waiting."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from gateway.cli import main as cli
from gateway.cli import render
from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.core.claims import Claim, ClaimState
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec

NOW = dt.datetime(2026, 10, 31, tzinfo=dt.UTC)


def text_of(*renderables) -> str:
    console = render.Console(width=300, record=True, color_system=None)
    for r in renderables:
        console.print(r)
    return console.export_text()


def header(table_text: str) -> list[str]:
    line = next(line for line in table_text.splitlines() if line.startswith("┃"))
    return [cell.strip() for cell in line.strip("┃").split("┃")]


def block(day: int, delta: str = "0", **changes) -> Block:
    fields = dict(
        dataset="purchases",
        day=dt.date(2026, 10, day),
        capacity=Budget.capacity(1, delta),
        unlocked=Budget.capacity("0.2", delta),
        allocated=Budget(),
        consumed=Budget(),
    )
    return Block(**{**fields, **changes})


@pytest.mark.parametrize(
    "settings, columns",
    [
        (PolicySettings(policy="fcfs"), ["block", "capacity", "available", "allocated", "consumed", "remaining"]),
        (
            PolicySettings(policy="dpf-n", n=5),
            ["block", "capacity", "unlocked", "locked", "allocated", "consumed", "remaining", "arrivals"],
        ),
        (
            PolicySettings(policy="dpf-t", lifetime="30d"),
            ["block", "capacity", "unlocked", "locked", "allocated", "consumed", "remaining", "state"],
        ),
    ],
)
def test_blocks_table_columns_follow_the_policy(settings, columns):
    text = text_of(render.blocks_table([block(1, arrivals=1)], settings))
    assert header(text) == columns
    assert "retired" not in text


def test_dpf_n_arrivals_read_k_of_n_and_retired():
    text = text_of(render.blocks_table([block(1, arrivals=5, retired=True)], PolicySettings(policy="dpf-n", n=5)))
    assert "5/5 (retired)" in text


def test_delta_is_shown_when_a_block_has_one():
    settings = PolicySettings(policy="fcfs")
    assert "ε / δ" not in text_of(render.blocks_table([block(1)], settings))
    text = text_of(render.blocks_table([block(1), block(2, delta="1e-6")], settings))
    assert "Privacy blocks (ε / δ)" in text and "1 / 1e-06" in text and "0.2 / 0" in text


def test_blocks_list_help_explains_the_columns(capsys):
    assert cli.main(["blocks", "list", "--help"]) == 0
    out = "".join(capsys.readouterr().out.split())
    for words in ("FCFS:'available'", "DPF-N/RR-N:'unlocked'", "DPF-T/RR-T/DPack", "'ε/δ'"):
        assert words in out, words


def claim(days: int, result=None, function="count", engine="pipelinedp") -> Claim:
    spec = parse_spec(
        {
            "engine": engine,
            "dataset": "purchases",
            "analyst": "alice",
            "blocks": {"last": days},
            "budget": {"epsilon": 0.5},
            "privacy_unit": "row",
            "aggregate": {"function": function},
        }
    )
    keys = tuple(f"purchases/{dt.date(2026, 1, 1) + dt.timedelta(days=i)}" for i in range(days))
    state = ClaimState.SUCCEEDED if result else ClaimState.PENDING
    return Claim("q-1", spec, keys, Budget.demand(0.5), state, NOW, NOW, result=result)


def test_a_years_blocks_are_a_range_in_json_and_one_unwrapped_span_in_the_table():
    year = claim(365)
    assert render.block_range(year) == {"first": "2026-01-01", "last": "2026-12-31", "count": 365}
    assert "blocks" not in render.claim_json(year, full_blocks=False)
    assert len(render.claim_json(year)["blocks"]) == 365
    console = render.Console(width=100, record=True, color_system=None)
    console.print(render.claims_table([year]))
    assert "2026-01-01 → 2026-12-31 (365)" in console.export_text()


RESULT = {
    "spent": {"epsilon": "0.5", "delta": "0"},
    "values": [{"key": None, "value": 2660.42}, {"key": "x", "value": -3.6}],
}


def test_noisy_counts_get_a_note_and_optional_display_post_processing():
    c = claim(3, RESULT)
    raw = text_of(render.result_table(c))
    assert "2,660.420" in raw and "-3.600" in raw and "unbiased noisy estimates" in raw
    shown = text_of(render.result_table(c, round_=True, clamp_zero=True))
    assert "post-processed (rounded + clamped at 0)" in shown
    assert "2,660.420" in shown and "2,660 " in shown  # raw value stays beside the post-processed one
    doc = render.result_json(c, round_=True, clamp_zero=True)
    assert [(v["value"], v["post_processed"]) for v in doc["values"]] == [(2660.42, 2660.0), (-3.6, 0.0)]
    assert doc["post_processing"] == ["round", "clamp_zero"]
    assert c.result == RESULT  # the stored answer is untouched
    assert "post_processed" not in json.dumps(render.result_json(c))


class FakeGateway:
    """Stands in for Gateway.wait/job_log: a job that goes admitted → launching → running → failed."""

    def __init__(self, states):
        self.states = states

    def wait(self, claim_id, on_tick):
        for state in self.states:
            current = Claim(
                claim_id,
                claim(2).spec,
                claim(2).blocks,
                Budget.demand(0.5),
                state,
                NOW,
                NOW,
                launcher="local",
                run_id="r1",
            )
            on_tick(current)
        return current

    def job_log(self, c):
        return f"/ledger/jobs/{c.id}/job.log"

    def status(self, claim_id):
        return Claim(claim_id, claim(2).spec, claim(2).blocks, Budget.demand(0.5), ClaimState.RUNNING, NOW, NOW)


def test_wait_reports_each_step_with_elapsed_time_and_the_job_log(monkeypatch):
    console = render.Console(width=200, record=True, color_system=None, stderr=True)
    monkeypatch.setattr(render, "err_console", console)
    submitted = Claim("q-1", claim(2).spec, claim(2).blocks, Budget.demand(0.5), ClaimState.ADMITTED, NOW, NOW)
    states = [ClaimState.LAUNCHING, ClaimState.RUNNING, ClaimState.RUNNING, ClaimState.FAILED]
    done = cli._wait_with_progress(FakeGateway(states), submitted, started=0.0)
    assert done.state is ClaimState.FAILED
    lines = [line.split("s  ", 1)[-1].strip() for line in console.export_text().splitlines() if line.strip()]
    assert lines == [
        "q-1 queued, admitted",
        "q-1 launching",
        "q-1 running",
        "job log: /ledger/jobs/q-1/job.log",
        "q-1 failed",
    ]


class InterruptedGateway(FakeGateway):
    def wait(self, claim_id, on_tick):
        raise KeyboardInterrupt


def test_ctrl_c_stops_waiting_and_shows_where_the_job_is(monkeypatch):
    console = render.Console(width=200, record=True, color_system=None, stderr=True)
    monkeypatch.setattr(render, "err_console", console)
    submitted = Claim("q-1", claim(2).spec, claim(2).blocks, Budget.demand(0.5), ClaimState.RUNNING, NOW, NOW)
    done = cli._wait_with_progress(InterruptedGateway([]), submitted, started=0.0)
    assert done.state is ClaimState.RUNNING
    assert "stopped waiting; the job goes on: dpgw status q-1" in console.export_text()


def test_status_of_a_failed_job_prints_its_log_location(tmp_path, monkeypatch, capsys):
    from gateway.demo import generate_purchases

    generate_purchases(tmp_path / "data", days=2, users=10)
    ledger = tmp_path / "ledger"
    monkeypatch.setenv("DPGW_LEDGER", str(ledger))
    assert cli.main(["init", "--n", "10"]) == 0
    assert (
        cli.main(
            [
                "datasets",
                "add",
                "p",
                "--path",
                str(tmp_path / "data"),
                "--time-column",
                "day",
                "--add-blocks",
                "--epsilon",
                "1",
            ]
        )
        == 0
    )
    spec = tmp_path / "q.yaml"
    spec.write_text(
        json.dumps(
            {
                "engine": "tumult",
                "dataset": "p",
                "analyst": "ann",
                "blocks": {"last": 2},
                "budget": {"epsilon": 0.5},
                "privacy_unit": "row",
                "aggregate": {"function": "count"},
            }
        )
    )
    capsys.readouterr()
    assert cli.main(["submit", str(spec), "--json"]) == 0
    claim_id = json.loads(capsys.readouterr().out)["id"]  # pending: one arrival unlocks 0.1 of 1
    doc = json.loads((ledger / "ledger.json").read_text())
    doc["claims"][claim_id].update(state="failed", launcher="local", run_id="local-x", reason="job failed")
    (ledger / "ledger.json").write_text(json.dumps(doc))
    monkeypatch.setattr(render.console, "width", 400)
    assert cli.main(["status", claim_id]) == 0
    assert f"job log: {ledger / 'jobs' / claim_id / 'job.log'}" in capsys.readouterr().out


def test_several_aggregates_on_two_group_columns_print_one_column_each() -> None:
    spec = parse_spec(
        {
            "engine": "tumult",
            "dataset": "purchases",
            "analyst": "alice",
            "blocks": {"last": 1},
            "budget": {"epsilon": 0.5},
            "privacy_unit": "row",
            "where": "amount >= 5",
            "aggregates": [
                {"function": "count", "budget_share": 0.5},
                {"function": "sum", "column": "amount", "low": 0, "high": 9, "budget_share": 0.5},
            ],
            "group_by": {"columns": ["region", "member"], "keys": {"region": ["n"], "member": [True, False]}},
        }
    )
    values = [
        [{"key": ["n", True], "value": 12.0}, {"key": ["n", False], "value": 3.0}],
        [{"key": ["n", True], "value": 80.5}, {"key": ["n", False], "value": 7.25}],
    ]
    answers = [
        {
            "name": name,
            "budget_share": "0.5",
            "spent": {"epsilon": "0.25", "delta": "0"},
            "caps": "each row once",
            "noise_sd": None,
            "values": v,
        }
        for name, v in zip(("count", "sum(amount)"), values, strict=True)
    ]
    result = {"spent": {"epsilon": "0.5", "delta": "0"}, "values": values[0], "answers": answers}
    c = Claim("q-2", spec, ("purchases/2026-01-01",), Budget.demand(0.5), ClaimState.SUCCEEDED, NOW, NOW, result=result)
    text = text_of(render.result_table(c))
    assert header(text) == ["region, member", "count (ε 0.25)", "sum(amount) (ε 0.25)"]
    assert "count(*), sum(amount) by region, member where amount >= 5" in text
    row = next(line for line in text.splitlines() if "n, True" in line)
    assert "12.000" in row and "80.500" in row


def test_an_aggregates_spend_reads_well_as_a_float_or_a_curve():
    from gateway.cli.render import _spent_label

    assert _spent_label({"epsilon": "0.049999999999999996", "delta": "0"}) == "ε 0.05"  # handed rounded down
    assert _spent_label({"curve": ["0.1", "0.2"], "alphas": ["2", "4"]}) == "a Rényi-DP curve"  # rdp: no ε key
