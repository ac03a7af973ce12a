"""``dpgw simulate``: replay a workload through the real policies in simulated time and report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli import render
from gateway.core import rdp as curves
from gateway.core.scheduling.policy import Order
from gateway.errors import GatewayValidationError
from gateway.simulation import ReplayOptions, SimulationReport, replay, resolve
from gateway.simulation.sweep import parse_sweep, plot, run_sweep, settings_for


def _line(r: SimulationReport) -> str:
    setting = f"N={r.n}" + (f" T={r.lifetime:g}s" if r.lifetime is not None else "")
    classes = ", ".join(f"{k} {v}" for k, v in r.granted_by_class.items())
    delays = ", ".join(f"{k} {v:.3g}s" for k, v in r.delay_percentiles.items())
    return (
        f"{r.workload} {'RDP' if r.rdp else 'basic'} {r.policy} {setting}: arrivals {r.arrivals}, "
        f"granted {r.granted}, rejected {r.rejected}, timed out {r.timed_out}, pending at end {r.pending_at_end}\n"
        f"  granted by class: {classes}\n  scheduling delay: {delays}\n  run time {r.run_time_s:.2f}s "
        f"({r.passes} passes)"
    )


def simulate(
    workload: Annotated[str, typer.Option(help="pk-single-block, pk-multi-block, or a .csv/.jsonl trace.")],
    policy: Annotated[str, typer.Option(help="dpf-n, dpf-t, fcfs, rr-n, rr-t or dpack; comma-separated to sweep.")],
    n: Annotated[int | None, typer.Option("--n", help="N: arrivals per block unlock (DPack: unlock steps).")] = None,
    t: Annotated[float | None, typer.Option("--t", help="T: data lifetime in seconds (time policies).")] = None,
    rdp: Annotated[bool, typer.Option("--rdp", help="Renyi-DP accounting instead of basic composition.")] = False,
    alphas: Annotated[str, typer.Option(help="RDP orders: simulator or paper.")] = "simulator",
    seed: Annotated[int, typer.Option(help="Seed of the built-in workloads.")] = 3345,
    jitter: Annotated[bool, typer.Option(help="Jitter demands by U(0.9999999, 1) like the artifact (Q10).")] = False,
    timeout: Annotated[float | None, typer.Option(help="Override the workload's wait limit (seconds).")] = None,
    block_interval: Annotated[float | None, typer.Option(help="Trace files: a new block every S seconds.")] = None,
    initial_blocks: Annotated[int | None, typer.Option(help="Trace files: blocks at t=0.")] = None,
    rr_waste: Annotated[bool, typer.Option(help="Round robin loses a failed claim's holdings (artifact).")] = False,
    order: Annotated[
        Order, typer.Option(help="DPF: sorted (paper) or heap_array (the artifact walks its heap's array, Q1).")
    ] = "sorted",
    retire_without_unlock: Annotated[
        bool,
        typer.Option(
            "--retire-without-unlock",
            help="DPF-N, dynamic blocks: retire after block interval x max blocks per task x 1.01 with the rest "
            "still locked, as the artifact (Q8).",
        ),
    ] = False,
    sweep: Annotated[str | None, typer.Option(help="Sweep N or T, e.g. n=1,50,100 or t=30,60.")] = None,
    plot_file: Annotated[Path | None, typer.Option("--plot", help="With --sweep: granted vs N/T as a PNG.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Replay a workload through the real scheduling policies in simulated time."""
    if n is not None and t is not None and "," not in policy:
        raise GatewayValidationError("give --n or --t, not both (T = N x mean arrival interval)")
    if plot_file is not None and sweep is None:
        raise GatewayValidationError("--plot draws a sweep; add e.g. --sweep n=1,50,100")
    load = resolve(
        workload, rdp, seed, jitter, timeout=timeout, block_interval=block_interval, initial_blocks=initial_blocks
    )
    options = ReplayOptions(
        rdp=rdp,
        alphas=load.alphas or curves.alpha_set(alphas),
        waste_held=rr_waste,
        retire_without_unlock=retire_without_unlock,
    )
    policies = [p.strip() for p in policy.split(",") if p.strip()]
    if sweep is not None:
        axis, values = parse_sweep(sweep)
        reports = run_sweep(load, policies, axis, values, options, order)
        if plot_file is not None:
            plot(reports, axis, plot_file, f"{load.name} ({'RDP' if rdp else 'basic composition'})")
    else:
        reports = [replay(load, settings_for(p, load, n, t, order), options) for p in policies]
    if json_out:
        docs = [r.to_json() for r in reports]
        render.print_json(docs[0] if len(docs) == 1 else docs)
        return
    for report in reports:
        render.console.print(_line(report), highlight=False)
    if plot_file is not None:
        render.console.print(f"wrote {plot_file}")
