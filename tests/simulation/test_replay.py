"""The simulator: the note's capacity checks, the built-in workloads' shape, trace files, and the CLI."""

from __future__ import annotations

import json

import pytest

from gateway.cli.main import main
from gateway.core.scheduling import PolicySettings
from gateway.errors import GatewayValidationError
from gateway.simulation import ReplayOptions, Task, Workload, load_file, replay, resolve
from gateway.simulation.workloads import pk_multi_block, pk_single_block


def mice_only(count: int) -> Workload:
    tasks = tuple(Task(float(i), 0.01) for i in range(count))
    return Workload("mice", tasks, duration=count + 1.0, timeout=None)


@pytest.mark.parametrize("policy", ["fcfs", "dpf-n"])
def test_single_block_fits_exactly_100_mice_under_basic_composition(policy):
    report = replay(mice_only(150), PolicySettings(policy=policy, n=1))
    assert (report.granted, report.rejected) == (100, 50)


def test_single_block_fits_exactly_14514_mice_under_rdp():
    report = replay(mice_only(14600), PolicySettings(policy="fcfs"), ReplayOptions(rdp=True))
    assert report.granted == 14514


def test_builtin_workloads_follow_the_note():
    single = pk_single_block()
    assert single.timeout == 300 and single.block_times() == [0.0]
    assert 180 < len(single.tasks) < 290  # Poisson(1/s) over 236 s
    multi = pk_multi_block()
    times = multi.block_times()
    assert times[:13] == [0.0] * 12 + [10.0] and times[-1] == 290.0  # Q13: 12 blocks at t=0
    assert multi.timeout is None and {t.blocks for t in multi.tasks} == {1, 10}
    assert 3400 < len(multi.tasks) < 4300  # 12.8/s over 300 s
    assert 60000 < len(pk_multi_block(rdp=True).tasks) < 80000  # 234.4/s
    shares = sum(t.mice for t in multi.tasks) / len(multi.tasks)
    assert 0.7 < shares < 0.8


def test_dpf_grants_more_than_fcfs_on_the_multi_block_benchmark():
    workload = pk_multi_block()
    dpf = replay(workload, PolicySettings(policy="dpf-n", n=100))
    fcfs = replay(workload, PolicySettings(policy="fcfs"))
    assert dpf.granted > 1.5 * fcfs.granted
    assert dpf.granted_by_class["mice/few"] > fcfs.granted_by_class["mice/few"]


def test_single_block_timeouts_are_counted():
    workload = resolve("pk-single-block", rdp=False, seed=1, timeout=20.0)  # the run (236 s) is shorter than 300 s
    report = replay(workload, PolicySettings(policy="dpf-t", lifetime=400))
    assert report.timed_out > 0
    assert report.granted + report.rejected + report.timed_out + report.pending_at_end == report.arrivals


def test_trace_files_csv_and_jsonl(tmp_path):
    csv_file = tmp_path / "trace.csv"
    csv_file.write_text("arrival,epsilon,blocks,weight\n0.5,0.4,1,1\n1.0,0.4,2,2\n2.0,0.4,1,1\n")
    workload = load_file(csv_file, block_interval=1.0, initial_blocks=1)
    assert [t.blocks for t in workload.tasks] == [1, 2, 1] and workload.tasks[1].weight == 2
    assert replay(workload, PolicySettings(policy="fcfs")).granted == 3
    jsonl = tmp_path / "trace.jsonl"
    lines = [{"arrival": i, "rdp": [0.1, 0.2], "alphas": [2, 4]} for i in range(3)]
    jsonl.write_text("\n".join(json.dumps(x) for x in lines))
    curves = load_file(jsonl, block_epsilon=10.0)  # (10, 1e-6): 5.39 at alpha 4, nothing at alpha 2
    assert curves.alphas == (2.0, 4.0)
    report = replay(curves, PolicySettings(policy="fcfs"), ReplayOptions(rdp=True, alphas=curves.alphas))
    assert report.granted == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("arrival,blocks\n1,1\n", "exactly one of epsilon or rdp"),
        ("arrival,epsilon\nsoon,0.1\n", "bad task record"),
        ("arrival,epsilon,blocks\n1,0.1,0\n", "blocks >= 1"),
    ],
)
def test_bad_trace_records_say_what_to_fix(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(GatewayValidationError, match=message):
        load_file(path)


def test_unknown_workload_and_rr_with_rdp_are_user_errors():
    with pytest.raises(GatewayValidationError, match="pk-single-block or pk-multi-block"):
        resolve("nope", rdp=False, seed=1)
    with pytest.raises(GatewayValidationError, match="no RDP variant"):
        replay(mice_only(3), PolicySettings(policy="rr-n", n=2), ReplayOptions(rdp=True))


def test_cli_simulate_prints_json_and_plots_a_sweep(tmp_path, capsys):
    assert main(["simulate", "--workload", "pk-single-block", "--policy", "dpf-n", "--n", "100", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["policy"] == "dpf-n" and doc["arrivals"] == doc["granted"] + doc["rejected"] + doc["timed_out"]
    png = tmp_path / "sweep.png"
    args = ["simulate", "--workload", "pk-single-block", "--policy", "dpf-n,fcfs", "--sweep", "n=1,100"]
    assert main([*args, "--plot", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main(["simulate", "--workload", "pk-single-block", "--policy", "dpf-n", "--sweep", "k=1"]) == 2


def _early_retirement_workload() -> Workload:
    """A block every 10 s; tasks read at most 2 blocks, so the artifact retires blocks 10 x 2 x 1.01 = 20.2 s old."""
    tasks = (Task(1.0, 0.05, 1), Task(2.0, 0.5, 2), Task(12.0, 0.05, 2))
    return Workload("early", tasks, duration=40.0, block_interval=10.0, initial_blocks=1, arrival_interval=10.0)


@pytest.mark.parametrize("retire_without_unlock", [False, True])
def test_dpf_n_blocks_retire_at_101_percent_of_their_window_with_budget_still_locked(retire_without_unlock):
    """Q8: block 0 has unlocked 3/10 (three arrivals) when it retires at 20.2 s; the 0.5 claim can never run."""
    seen: dict[str, object] = {}

    def observe(now, accounts, status):
        if now >= 20.2 and "retired" not in seen:
            seen.update(retired=accounts.retired[0], released=float(accounts.released[0, 0]))

    options = ReplayOptions(retire_without_unlock=retire_without_unlock)
    report = replay(_early_retirement_workload(), PolicySettings(policy="dpf-n", n=10), options, observe=observe)
    assert seen["released"] == pytest.approx(0.3)  # 0.7 still locked either way
    assert seen["retired"] is retire_without_unlock
    assert report.granted == 2
    assert (report.rejected, report.pending_at_end) == ((1, 0) if retire_without_unlock else (0, 1))


@pytest.mark.parametrize(("order", "granted"), [("sorted", 4), ("heap_array", 2)])
def test_heap_array_order_replays_the_artifact_walk(order, granted):
    """Q1: seven claims wait for DPF-T's first tick (0.56 unlocked). In arrival order their demands already
    form a heap, so the artifact's array walk takes 0.05 then the 0.5 elephant, leaving nothing for the mice."""
    demands = (0.05, 0.5, 0.06, 0.6, 0.7, 0.07, 0.08)
    tasks = tuple(Task(0.1 * (i + 1), d) for i, d in enumerate(demands))
    workload = Workload("heap", tasks, duration=1.5, arrival_interval=2.0)  # one tick, at 1 s
    report = replay(workload, PolicySettings(policy="dpf-t", lifetime=1 / 0.56, order=order))
    assert report.granted == granted


def test_retire_without_unlock_is_refused_where_it_means_nothing():
    q8 = ReplayOptions(retire_without_unlock=True)
    with pytest.raises(GatewayValidationError, match="means nothing for policy dpf-t"):
        replay(_early_retirement_workload(), PolicySettings(policy="dpf-t", lifetime=10), q8)
    with pytest.raises(GatewayValidationError, match="static set of blocks"):
        replay(mice_only(3), PolicySettings(policy="dpf-n", n=2), q8)


def test_cli_simulate_takes_the_artifact_options(tmp_path, capsys):
    trace = tmp_path / "trace.csv"
    trace.write_text("arrival,epsilon,blocks\n1,0.05,1\n2,0.5,2\n12,0.05,2\n30,0.01,1\n")
    args = ["simulate", "--workload", str(trace), "--block-interval", "10", "--policy", "dpf-n", "--n", "10", "--json"]
    assert main([*args, "--retire-without-unlock", "--order", "heap_array"]) == 0
    assert json.loads(capsys.readouterr().out)["rejected"] == 1  # block 0 retired at 20.2 s, 0.7 locked
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["rejected"] == 0
    assert main(["simulate", "--workload", "pk-single-block", "--policy", "fcfs", "--order", "heap_array"]) == 2
    assert "use dpf-n or dpf-t" in capsys.readouterr().err.replace("\n", "")
