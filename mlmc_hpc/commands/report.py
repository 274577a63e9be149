"""The ``report`` command: tables from HDF5 results (run or test files), and figures.

One table per run (N_l, mean, variance, timesteps, seconds, share of time, totals); for
several runs, the study's side-by-side tables of per-level runtime and timesteps; a test
file (from ``mlmc_hpc test``) is printed in Giles' layout; a risk result (from
``mlmc_hpc risk``) as its VaR/CVaR summary. ``--plot DIR`` hands the same files to
:mod:`mlmc_hpc.render.plots` (and risk results to :mod:`mlmc_hpc.render.risk_plots`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ExitCode, config_error_exit
from ..io.book_result import BookResult
from ..io.hdf5 import file_kind
from ..io.risk_result import RiskResult
from ..io.run_result import RunResult
from ..io.tables import write_csv
from ..io.test_result import TestResult
from ..render.report import report_text
from ..render.risk import risk_summary


def add_parser(commands: Any) -> None:
    """The ``report`` sub-command and its flags."""
    report = commands.add_parser("report", help="tables (and --plot figures) from HDF5 results")
    report.add_argument("files", nargs="+", metavar="RESULT.h5",
                        help="run, test or risk results")  # fmt: skip
    report.add_argument("--plot", metavar="DIR", help="write PNG figures to DIR (matplotlib)")
    report.add_argument("--csv", metavar="DIR",
                        help="write every table as CSV to DIR (<file>_levels.csv ...)")  # fmt: skip


def csv_tables(runs: list[tuple[str, RunResult]], tests: list[tuple[str, TestResult]],
               risks: list[tuple[str, RiskResult]], directory: Path) -> list[Path]:  # fmt: skip
    """Every table of every file as CSV (``<file stem>_<table>.csv``)."""
    written = []
    for path, run in runs:
        tables = {"levels": run.levels, "iterations": run.iterations, "batches": run.batches}
        file, _, contract = path.partition(":")
        written += write_csv(tables, directory, Path(file).stem + (f"_{contract}" if contract
                                                                    else ""))  # fmt: skip
    for path, test in tests:
        tables = {"convergence": test.convergence, "complexity": test.complexity}
        written += write_csv(tables, directory, Path(path).stem)
    for path, risk in risks:
        tables = {"levels": risk.levels, "iterations": risk.iterations, "batches": risk.batches}
        written += write_csv(tables, directory, Path(path).stem, {"levels": "confidence"})
    return written


Loaded = tuple[list[tuple[str, RunResult]], list[tuple[str, TestResult]],
               list[tuple[str, RiskResult]]]  # fmt: skip


def load_results(paths: list[str]) -> Loaded:
    """Run, test and risk results by content; unreadable files raise ConfigError (one line)."""
    runs, tests, risks = [], [], []
    for path in paths:
        try:
            kind = file_kind(path)
        except OSError:
            raise ConfigError(f"cannot read {path}: not an HDF5 file or not found") from None
        if kind is None:
            raise ConfigError(f"{path} is not a run, test or risk result of mlmc_hpc")
        if kind == "test":
            tests.append((path, TestResult.load(path)))
        elif kind in ("risk", "risk_checkpoint"):
            risks.append((path, RiskResult.load(path)))
        elif kind in ("book", "book_checkpoint"):  # its contracts, as run results
            book = BookResult.load(path)
            runs += [(f"{path}:{name}", run) for name, run in book.results.items()]
        else:
            runs.append((path, RunResult.load(path)))
    return runs, tests, risks


def main(args: argparse.Namespace) -> int:
    """Print the tables; with --plot also write the figures (needs matplotlib)."""
    try:
        runs, tests, risks = load_results(args.files)
    except ConfigError as error:
        return config_error_exit(error, "report error")
    written: list[Path] = []
    if args.plot:
        try:
            from ..render.plots import write_figures
            from ..render.risk_plots import risk_figures
        except ImportError:
            missing = ConfigError("--plot needs matplotlib: pip install 'mlmc_hpc[plot]'")
            return config_error_exit(missing, "report error")
        if runs or tests:
            written = write_figures(runs, tests, Path(args.plot))
        written += risk_figures([(p, r) for p, r in risks if r.scenarios], Path(args.plot))
    if args.csv:
        written_csv = csv_tables(runs, tests, risks, Path(args.csv))
        print(f"tables ({len(written_csv)}) in {args.csv}: "
              + ", ".join(p.name for p in written_csv), file=sys.stderr)  # fmt: skip
    blocks = [report_text(runs, [test for _, test in tests])] if runs or tests else []
    blocks += [f"{path}\n{risk_summary(result)}" for path, result in risks]
    print("\n\n".join(blocks))
    if args.plot:
        print(f"\nfigures ({len(written)}) in {args.plot}: " + ", ".join(p.name for p in written))
    return ExitCode.OK
