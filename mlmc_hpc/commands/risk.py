"""The ``risk`` command: portfolio VaR and CVaR with confidence intervals.

Validates everything first (one line on stderr and exit 2 for bad input, nothing
written), then runs the scenarios here or, under ``mpiexec -n N``, on N - 1 workers (the
pricer's master/worker roles), checkpointing after every iteration; writes the HDF5
result atomically and prints the notebook-style summary (or ``--json``). Exit codes as
``run``: 0, 1 (a failure), 2 (bad input), 75 (stopped early; continue with ``--resume``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..config.risk_loading import load_risk_config
from ..config.risk_schema import RiskConfig
from ..core.tail import RiskState, TailEstimate
from ..errors import ConfigError, ExitCode
from ..io.hdf5 import check_writable
from ..io.lock import acquire, lock_path, release
from ..io.risk_checkpoint import RiskResume, read_risk_checkpoint
from ..io.risk_result import RiskResult
from ..parallel.executor import BatchExecutor
from ..parallel.roles import launch
from ..pricing.risk import run_risk
from ..render.risk import risk_progress_line, risk_summary, risk_summary_dict
from .base import (
    add_config_options,
    add_job_options,
    config_source,
    flag_overrides,
    live_progress,
    stop_request,
)

RISK_EXAMPLES = """examples:
  python -m mlmc_hpc risk --config notebook_var
  python -m mlmc_hpc risk notebook_var --scenarios auto --set risk.model=exact --json
  mpiexec -n 3 python -m mlmc_hpc risk my_book.yaml --scenarios 10000000 --plot figures
"""


def add_parser(commands: Any) -> None:
    """The ``risk`` sub-command and its flags."""
    risk = commands.add_parser(
        "risk", help="portfolio VaR and CVaR with confidence intervals",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=RISK_EXAMPLES,
    )  # fmt: skip
    add_config_options(
        risk,
        "notebook_var",
        "auto,numpy",
        "override a config key, e.g. --set risk.model=exact (repeatable)",
    )
    risk.add_argument("--scenarios", help="a number, or auto (overrides risk.scenarios)")
    add_job_options(risk, "risk run")
    risk.add_argument("--plot", metavar="DIR", help="also draw the two panels into DIR (PNG)")


def risk_config_from_args(args: argparse.Namespace) -> RiskConfig:
    """The config: packaged defaults < --config < --set < the dedicated flags."""
    overrides = flag_overrides(args, (("risk.scenarios", args.scenarios), ("run.seed", args.seed),
                                      ("run.output", args.output),
                                      ("run.backend", args.backend)))  # fmt: skip
    return load_risk_config(config_source(args), overrides)


def prepare(args: argparse.Namespace) -> tuple[RiskConfig, RiskResume | None]:
    """Validated config and, with --resume, the saved state; ConfigError before any work."""
    config = risk_config_from_args(args)
    if args.plot:
        from ..render.risk_plots import require_matplotlib

        require_matplotlib()
    lock = acquire(config.run.output)
    try:
        check_writable(config.run.output, overwrite=args.overwrite, resume=args.resume)
        return config, read_risk_checkpoint(config.run.output, config) if args.resume else None
    except ConfigError:
        release(lock)
        raise


def main(args: argparse.Namespace) -> int:
    """Run, save atomically, print the summary; exit 0, 1, 2 or 75."""

    def job(config: RiskConfig, resume: RiskResume | None, executor: BatchExecutor) -> int:
        try:
            executor.watch(stop_request(config, args.stop).reason)
            live = live_progress(executor, args.quiet, config.run.progress_s, "scenarios")

            def progress(index: int, state: RiskState, found: list[TailEstimate | None]) -> None:
                if live:
                    live.clear()
                if not args.quiet:
                    seconds = state.iterations[-1][1]
                    line = risk_progress_line(index, state.sums.n, seconds, found,
                                              config.risk.rel_tol)  # fmt: skip
                    print(line + executor.status(), file=sys.stderr, flush=True)

            def warn(message: str) -> None:
                if live:
                    live.clear()
                print(f"warning: {message}", file=sys.stderr, flush=True)

            result = run_risk(config, executor, progress, warn, resume, config.run.output)
            return save_and_report(result, config, args)
        finally:
            release(lock_path(config.run.output))

    return launch(lambda: prepare(args), job)


def save_and_report(result: RiskResult, config: RiskConfig, args: argparse.Namespace) -> int:
    """Write the HDF5 file, then the summary (and figures); 75 when stopped early."""
    output = config.run.output
    result.save(output)
    if result.interrupted:
        print(f"interrupted ({result.stop_reason}) after {result.scenarios:,} scenarios; "
              f"checkpoint saved to {output}; continue with the same command plus --resume",
              file=sys.stderr, flush=True)  # fmt: skip
        return ExitCode.INTERRUPTED
    if args.plot:
        from ..render.risk_plots import risk_figures

        written = risk_figures([(output, result)], Path(args.plot))
        print(f"figure: {written[0]}", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(risk_summary_dict(result, output)))
    else:
        print(risk_summary(result, output))
    sys.stdout.flush()
    return ExitCode.OK
