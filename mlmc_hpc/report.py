"""The ``report`` command: tables from HDF5 results (run or test files), and figures.

One table per run (N_l, mean, variance, timesteps, seconds, share of time, totals); for
several runs, the study's side-by-side tables of per-level runtime and timesteps; a test
file (from ``mlmc_hpc test``) is printed in Giles' layout. ``--plot DIR`` hands the
same files to :mod:`mlmc_hpc.plots`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np

from .cli import EXIT_OK, EXIT_USAGE
from .diagnose import TestResult, giles_layout
from .results import RunResult


def load_results(paths: list[str]) -> tuple[list[tuple[str, RunResult]], list[TestResult]]:
    """Run and test results by content; unreadable files raise ValueError (one line)."""
    runs, tests = [], []
    for path in paths:
        try:
            with h5py.File(path, "r") as h5:
                kind = "test" if "convergence" in h5 else "run" if "levels" in h5 else None
        except (OSError, FileNotFoundError):
            raise ValueError(f"cannot read {path}: not an HDF5 file or not found") from None
        if kind is None:
            raise ValueError(f"{path} is neither a run result nor a test result of mlmc_hpc")
        if kind == "test":
            tests.append(TestResult.load(path))
        else:
            runs.append((path, RunResult.load(path)))
    return runs, tests


def run_label(result: RunResult) -> str:
    return f"{result.name} eps={result.eps:g} w={result.n_workers}"


def run_table(path: str, result: RunResult) -> str:
    lv = result.levels
    seconds = np.asarray(lv["compute_time_s"], dtype=float)
    total_s = float(seconds.sum())
    state = "" if result.finished else "  (UNFINISHED: resume with --resume)"
    lines = [
        f"== {result.name}  {path}{state}",
        f"   price {result.price:.6f} +- {result.std_error:.6f}  eps {result.eps:g}  "
        f"L {result.L}  {result.method}  backend {result.backend}  workers {result.n_workers}  "
        f"wall {result.wall_time_s:.2f} s",
        f"{'level':>5} {'N_l':>12} {'mean':>13} {'variance':>10} {'timesteps':>11} "
        f"{'seconds':>9} {'share':>6}",
    ]
    for level in range(len(lv["n_samples"])):
        share = seconds[level] / total_s if total_s else 0.0
        lines.append(
            f"{level:5d} {int(lv['n_samples'][level]):12d} {lv['mean'][level]:13.6e} "
            f"{lv['variance'][level]:10.3e} {float(lv['timesteps'][level]):11.4e} "
            f"{seconds[level]:9.3f} {100 * share:5.1f}%"
        )
    lines.append(
        f"{'total':>5} {int(lv['n_samples'].sum()):12d} {'':>13} {'':>10} "
        f"{float(lv['timesteps'].sum()):11.4e} {total_s:9.3f} {'100.0%' if total_s else '':>6}"
    )
    return "\n".join(lines)


def side_by_side(runs: list[tuple[str, RunResult]], column: str, title: str, fmt: str) -> str:
    """Rows = levels, columns = runs (the study's per-level runtime/timestep tables)."""
    labels = [run_label(r) for _, r in runs]
    width = max(14, *(len(label) for label in labels))
    depth = max(len(r.levels[column]) for _, r in runs)
    lines = [title, f"{'level':>5} " + " ".join(f"{label:>{width}}" for label in labels)]
    for level in range(depth):
        cells = []
        for _, r in runs:
            values = r.levels[column]
            cells.append(format(float(values[level]), fmt) if level < len(values) else "-")
        lines.append(f"{level:5d} " + " ".join(f"{c:>{width}}" for c in cells))
    totals = [format(float(np.sum(r.levels[column])), fmt) for _, r in runs]
    lines.append(f"{'total':>5} " + " ".join(f"{c:>{width}}" for c in totals))
    return "\n".join(lines)


def report_text(runs: list[tuple[str, RunResult]], tests: list[TestResult]) -> str:
    blocks = [run_table(path, result) for path, result in runs]
    if len(runs) > 1:
        blocks.append(side_by_side(runs, "compute_time_s", "Per-level runtime (s)", ".3f"))
        blocks.append(side_by_side(runs, "timesteps", "Per-level timesteps", ".4e"))
    blocks += [giles_layout(test) for test in tests]
    return "\n\n".join(blocks)


def report_command(args: argparse.Namespace) -> int:
    try:
        runs, tests = load_results(args.files)
    except ValueError as error:
        print(f"report error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.plot:
        try:
            from .plots import write_figures
        except ImportError:
            print("report error: --plot needs matplotlib: pip install 'mlmc_hpc[plot]'",
                  file=sys.stderr)  # fmt: skip
            return EXIT_USAGE
        written = write_figures(runs, tests, Path(args.plot))
    print(report_text(runs, tests))
    if args.plot:
        print(f"\nfigures ({len(written)}) in {args.plot}: " + ", ".join(p.name for p in written))
    return EXIT_OK
