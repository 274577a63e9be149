"""The ``run`` command (the default): validate everything first, then price, save, report.

With one rank (or without mpi4py) everything runs in this process; under
``mpiexec -n N`` rank 0 validates the config and becomes the master, and ranks
1..N-1 become workers (see :mod:`mlmc_hpc.parallel.roles`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..config.schema import Config
from ..errors import ConfigError, ExitCode
from ..io.checkpoint import Resume, read_checkpoint
from ..io.hdf5 import check_writable
from ..io.lock import acquire, lock_path, release
from ..io.run_result import RunResult
from ..parallel.executor import BatchExecutor
from ..parallel.roles import launch
from ..pricing.rel_eps import resolve_rel_eps
from ..pricing.run import run_pricing
from .base import (
    add_config_options,
    add_job_options,
    config_from_args,
    emit_summary,
    live_progress,
    reporters,
    stop_request,
)

RUN_EXAMPLES = """examples:
  python -m mlmc_hpc run --config spy --eps 0.001 --output results/spy.h5
  python -m mlmc_hpc run configs/aapl.yaml --set mlmc.method=mlqmc --json
  python -m mlmc_hpc run spy --rel-eps 1e-4            eps = 1e-4 x the price (1 bp)
  python -m mlmc_hpc run spy --output r.h5 --resume    continue a stopped run
"""


def add_parser(commands: Any) -> None:
    """The ``run`` sub-command and its flags."""
    run = commands.add_parser(
        "run", help="price an option (the default command)",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=RUN_EXAMPLES,
    )  # fmt: skip
    add_config_options(run)
    run.add_argument("--eps", help="target RMS error (overrides mlmc.eps)")
    run.add_argument("--rel-eps", help="target RMS error as a fraction of the price, e.g. "
                     "1e-4 = 1 bp (overrides mlmc.rel_eps; replaces eps)")  # fmt: skip
    add_job_options(run, "run")


def prepare(args: argparse.Namespace) -> tuple[Config, Resume | None]:
    """Validated config and, with --resume, the saved state to continue from; raises
    ConfigError before anything is computed or written."""
    if args.eps is not None and args.rel_eps is not None:
        raise ConfigError("give --eps or --rel-eps, not both")
    config = resolve_rel_eps(config_from_args(args, output=args.output))
    lock = acquire(config.run.output)  # before looking at the file: one run per output
    try:
        check_writable(config.run.output, overwrite=args.overwrite, resume=args.resume)
        return config, read_checkpoint(config.run.output, config) if args.resume else None
    except ConfigError:
        release(lock)
        raise


def main(args: argparse.Namespace) -> int:
    """Price (with checkpoints), save atomically, print the summary; exit 0, 1, 2 or 75."""

    def job(config: Config, resume: Resume | None, executor: BatchExecutor) -> int:
        try:
            executor.watch(stop_request(config, args.stop).reason)
            live = live_progress(executor, args.quiet, config.run.progress_s)
            progress, warn = reporters(config, args.quiet, executor.status, live)
            result = run_pricing(config, executor, progress, warn, resume, config.run.output)
            return save_and_report(result, config, args.json)
        finally:
            release(lock_path(config.run.output))

    return launch(lambda: prepare(args), job)


def save_and_report(result: RunResult, config: Config, as_json: bool) -> int:
    """Write the HDF5 file atomically, then print the summary (rank 0 or a lone process)."""
    result.save(config.run.output)
    if result.interrupted:
        iterations = len(result.iterations["L"])
        kept = len(result.checkpoint["pending_seconds"])
        print(
            f"interrupted ({result.stop_reason}) after {iterations} iterations and {kept} "
            f"batches of the next; checkpoint saved to {config.run.output}; "
            f"continue with the same command plus --resume",
            file=sys.stderr,
            flush=True,
        )
        return ExitCode.INTERRUPTED
    emit_summary(result, config.run.output, as_json)
    sys.stdout.flush()
    return ExitCode.OK
