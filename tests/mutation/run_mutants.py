"""Mutation check for the privacy guarantees: each mutant must make its tests fail ("killed").

Usage: ``python tests/mutation/run_mutants.py [--only NAME ...] [--list]``. For each mutant the working
tree's files (``git ls-files``) are copied to a temporary directory, the mutant's text edits are applied
there (each ``old`` must occur exactly once), and the tests that guard that property run against the copy
(``PYTHONPATH`` = the copy). A non-zero pytest exit means killed; exit 0 means the mutant survived. Not
collected by pytest (no ``test_`` prefix). Spark mutants take one to three minutes each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CAL = "tests/engines/test_calibration.py::test_noise_spread_matches_the_mechanism"


@dataclass(frozen=True)
class Mutant:
    name: str
    why: str  # what the mutant breaks
    edits: tuple[tuple[str, str, str], ...]  # (file, old, new)
    tests: tuple[str, ...]


MUTANTS = [
    Mutant(
        "budget-x1000",
        "both engines get 1000x the granted epsilon",
        (
            (
                "gateway/engines/base.py",
                "return float_at_most(granted.epsilon), float_at_most(granted.delta)",
                "return float_at_most(granted.epsilon) * 1000, float_at_most(granted.delta)",
            ),
        ),
        (f"{CAL}[tumult-count-row]", f"{CAL}[pipelinedp-count-row]"),
    ),
    Mutant(
        "pipelinedp-accountant-x1000-receipt-lies",
        "PipelineDP's accountant gets 1000x epsilon and the receipt still says 'the grant' (only noise shows it)",
        (
            (
                "gateway/engines/pipelinedp.py",
                "NaiveBudgetAccountant(total_epsilon=eps,",
                "NaiveBudgetAccountant(total_epsilon=eps * 1000,",
            ),
            (
                "gateway/engines/pipelinedp.py",
                "spent = _receipt(request, accountant, eps, delta, granted)",
                "spent = granted",
            ),
        ),
        (f"{CAL}[pipelinedp-count-row]",),
    ),
    Mutant(
        "pipelinedp-accountant-x2-receipt-lies",
        "PipelineDP's accountant gets 2x epsilon, receipt unchanged",
        (
            (
                "gateway/engines/pipelinedp.py",
                "NaiveBudgetAccountant(total_epsilon=eps,",
                "NaiveBudgetAccountant(total_epsilon=eps * 2,",
            ),
            (
                "gateway/engines/pipelinedp.py",
                "spent = _receipt(request, accountant, eps, delta, granted)",
                "spent = granted",
            ),
        ),
        (f"{CAL}[pipelinedp-sum-row]",),
    ),
    Mutant(
        "tumult-session-x2-receipt-lies",
        "Tumult's session gets 2x epsilon, receipt unchanged",
        (
            (
                "gateway/engines/tumult.py",
                "    return PureDPBudget(eps)",
                "    return PureDPBudget(eps * 2)",
            ),
            (
                "gateway/engines/tumult.py",
                "spent = _receipt(request, budget, session.remaining_privacy_budget)",
                "spent = Budget(granted.epsilon, ZERO)",
            ),
        ),
        (f"{CAL}[tumult-sum-id]",),
    ),
    Mutant(
        "no-rounding-toward-zero",
        "the float handed to a library may exceed the grant (float(Decimal('0.1')) rounds up)",
        (("gateway/engines/base.py", "    if Decimal(value) > amount:\n", "    if False:\n"),),
        ("tests/engines/test_engine_base.py",),
    ),
    Mutant(
        "pipelinedp-sum-bounds-widened",
        "PipelineDP clamps sums to [low, 2*high]",
        (
            (
                "gateway/engines/pipelinedp.py",
                'bounds = {"min_value": agg.low, "max_value": agg.high}',
                'bounds = {"min_value": agg.low, "max_value": agg.high * 2}',
            ),
        ),
        ("tests/engines/test_pipelinedp.py::test_values_are_clamped_and_each_id_contributes_at_most_k_rows",),
    ),
    Mutant(
        "join-fanout-ignored",
        "a row joined to 3 public rows is protected as if it contributed 1 (one-to-many join, rows as the unit)",
        (("gateway/engines/_prepare.py", "    return max_matches(spark, ", "    return 1 or max_matches(spark, "),),
        ("tests/engines/test_one_to_many_join.py::test_rows_as_unit_noise_scales_with_the_largest_key_multiplicity",),
    ),
    Mutant(
        "mean-clamp-widened",
        "post-processing lets a mean leave [low, high]",
        (
            (
                "gateway/engines/base.py",
                "return min(max(value, low), high)",
                "return min(max(value, low - 1), high + 1)",
            ),
        ),
        ("tests/engines/test_engine_base.py",),
    ),
    Mutant(
        "pipelinedp-cap-ignored",
        "PipelineDP treats every row as its own id: a user with 40 rows contributes 40",
        (
            (
                "gateway/engines/pipelinedp.py",
                "    if spec.privacy_unit.is_row and fanout is None:\n        pid = F.monotonically_increasing_id()",
                "    if True:\n        pid = F.monotonically_increasing_id()",
            ),
        ),
        ("tests/engines/test_pipelinedp.py::test_values_are_clamped_and_each_id_contributes_at_most_k_rows",),
    ),
    Mutant(
        "pipelinedp-noise-for-one-row-per-id",
        "PipelineDP calibrates id-level noise to 1 row while the cap is 3",
        (
            (
                "gateway/engines/pipelinedp.py",
                'contributions = {"max_contributions": cap}',
                'contributions = {"max_contributions": 1}',
            ),
        ),
        (f"{CAL}[pipelinedp-count-id]",),
    ),
    Mutant(
        "noise-kind-swapped",
        "PipelineDP uses Gaussian noise for pure-DP grants and Laplace for approximate ones",
        (
            (
                "gateway/engines/pipelinedp.py",
                "noise = pipeline_dp.NoiseKind.LAPLACE if granted.delta == 0 else pipeline_dp.NoiseKind.GAUSSIAN",
                "noise = pipeline_dp.NoiseKind.GAUSSIAN if granted.delta == 0 else pipeline_dp.NoiseKind.LAPLACE",
            ),
        ),
        (f"{CAL}[pipelinedp-count-row]",),
    ),
    Mutant(
        "outcome-overwritable",
        "a second run can replace the first answer",
        (("gateway/runtime/documents.py", "        os.link(tmp, path)\n", "        os.replace(tmp, path)\n"),),
        ("tests/runtime/test_entrypoint.py::test_a_second_run_cannot_overwrite_an_outcome_even_without_a_claim",),
    ),
    Mutant(
        "no-claim",
        "a second run of one request reads data again",
        (("gateway/runtime/entrypoint.py", "        claim_request(request, args.request_sha256)\n", "        pass\n"),),
        ("tests/cli/test_privacy_leaks.py::test_running_the_local_job_twice_yields_one_answer",),
    ),
    Mutant(
        "no-digest-check",
        "a request changed after launch runs",
        (("gateway/runtime/entrypoint.py", "    if found_digest != digest:", "    if False:"),),
        ("tests/runtime/test_entrypoint.py::test_a_request_changed_after_launch_is_refused",),
    ),
    Mutant(
        "withheld-outcome-kept",
        "a withheld result stays readable in outcome.json",
        (("gateway/service.py", "                launcher.discard_outcome(claim.id)\n        else:", "        else:"),),
        ("tests/service/test_gateway.py::test_result_spending_more_than_granted_is_withheld",),
    ),
    Mutant(
        "error-text-to-analyst",
        "the job's error text becomes the analyst-visible reason",
        (
            (
                "gateway/service.py",
                "reason, detail = category.reason(ref), _operator_detail(status)",
                "reason, detail = _operator_detail(status), None",
            ),
        ),
        ("tests/service/test_gateway.py::test_a_failed_job_shows_the_analyst_only_its_category",),
    ),
    Mutant(
        "error-text-in-outcome",
        "the job writes the exception text into the analyst-facing error",
        (
            (
                "gateway/core/jobs.py",
                "return cls(type=category.value, message=category.text, ref=ref)",
                "return cls(type=category.value, message=category.text + ' ' + "
                "str(__import__('sys').exc_info()[1]), ref=ref)",
            ),
        ),
        ("tests/runtime/test_entrypoint.py::test_a_request_changed_after_launch_is_refused",),
    ),
    Mutant(
        "charge-below-spend",
        "the ledger charges half of what the receipt says was spent",
        (
            (
                "gateway/core/ledger.py",
                "return Budget(quantize_up(amount.epsilon), quantize_up(amount.delta))",
                "return Budget(quantize_up(amount.epsilon / 2), quantize_up(amount.delta))",
            ),
        ),
        ("tests/core/test_finish_charges.py",),
    ),
    Mutant(
        "tumult-rho-x2-receipt-lies",
        "under rdp Tumult's zCDP session gets 2x rho and the receipt still says the grant",
        (
            (
                "gateway/engines/tumult.py",
                "return RhoZCDPBudget(float_at_most(budget.rho))",
                "return RhoZCDPBudget(float_at_most(budget.rho) * 2)",
            ),
            (
                "gateway/engines/tumult.py",
                "spent = _receipt(request, budget, session.remaining_privacy_budget)",
                "spent = granted",
            ),
        ),
        ("tests/engines/test_calibration_rdp.py::test_gaussian_noise_matches_the_charged_curve[tumult-count-rho]",),
    ),
    Mutant(
        "rdp-admission-ignores-the-demand",
        "under rdp a block admits a demand whatever its unlocked curve",
        (("gateway/core/budget.py", "return any(x <= y for x, y in zip(a, b, strict=True))", "return True"),),
        ("tests/core/scheduling/test_rdp_properties.py", "tests/core/test_rdp_ledger.py"),
    ),
    Mutant(
        "failures-refunded",
        "a failed job is charged only its (claimed) spend",
        (("gateway/core/ledger.py", "if succeeded and spent is not None", "if spent is not None"),),
        ("tests/core/test_finish_charges.py",),
    ),
]


def copy_tree(dest: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = ROOT / name.decode()
        if src.is_file():
            target = dest / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def apply(dest: Path, mutant: Mutant) -> None:
    for file, old, new in mutant.edits:
        path = dest / file
        text = path.read_text(encoding="utf-8")
        if text.count(old) != 1:
            raise SystemExit(
                f"mutant {mutant.name}: {old!r} occurs {text.count(old)} times in {file}; update the mutant"
            )
        path.write_text(text.replace(old, new), encoding="utf-8")


def run(mutant: Mutant) -> tuple[str, float]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.name}-") as tmp:
        dest = Path(tmp)
        copy_tree(dest)
        apply(dest, mutant)
        env = {**os.environ, "PYTHONPATH": str(dest)}
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutant.tests],
            cwd=dest,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode in (4, 5):  # usage error / nothing collected: the check itself is broken
        verdict = f"ERROR (pytest exit {proc.returncode}): {proc.stdout[-300:]}"
    elif proc.returncode == 0:
        verdict = "survived"
    else:  # say which check failed, so a kill for the wrong reason (an import error) is visible
        first = next((line.strip() for line in proc.stdout.splitlines() if line.startswith("E ")), "")
        verdict = f"killed  [{first[:110]}]"
    return verdict, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="mutant names to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    if args.list:
        for m in chosen:
            print(f"{m.name}: {m.why}")
        return 0
    results = []
    for mutant in chosen:
        verdict, seconds = run(mutant)
        results.append((mutant, verdict))
        print(f"{mutant.name:<42} {seconds:5.0f}s  {mutant.why}\n    -> {verdict}", flush=True)
    killed = sum(v.startswith("killed") for _, v in results)
    print(f"\n{killed} killed, {len(results) - killed} not killed, of {len(results)} mutants")
    return 0 if killed == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
