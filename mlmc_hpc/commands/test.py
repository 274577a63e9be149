"""The ``test`` command: Giles' convergence and complexity tests, printed in his layout
and saved to HDF5 (root attrs alpha, beta, gamma; groups convergence, complexity and,
with --repeat, repeat). Runs on one process or, under mpiexec, on all workers."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from pathlib import Path
from typing import Any

from ..config.schema import Config
from ..core.convergence import CONVERGENCE_COLUMNS, complexity_test, convergence_test
from ..errors import ConfigError, ExitCode
from ..io.hdf5 import check_writable
from ..io.lock import acquire, lock_path, release
from ..io.test_result import TestResult, complexity_group, repeat_group
from ..models.gbm import level_cost
from ..models.options import reference_price
from ..parallel.executor import BatchExecutor
from ..parallel.roles import launch
from ..pricing.level0 import level0_plan
from ..pricing.safety import driver_plan
from ..render.giles import giles_layout
from .base import add_config_options, config_from_args, live_progress


def add_parser(commands: Any) -> None:
    """The ``test`` sub-command and its flags."""
    test = commands.add_parser(
        "test", help="Giles' convergence and complexity tests (mlmc_test), saved to HDF5"
    )
    add_config_options(test)
    test.add_argument("--samples", default="20000", help="N samples per level (default 20000)")
    test.add_argument("--levels", default="8", help="convergence test on levels 0..L (default 8)")
    test.add_argument("--eps-list", default="0.005,0.01,0.02,0.05,0.1",
                      help="complexity test accuracies, comma separated")  # fmt: skip
    test.add_argument("--repeat", default="1",
                      help="K runs per eps: RMS error against the closed form")  # fmt: skip
    test.add_argument("--output", help="HDF5 path (default results/NAME-test.h5)")
    test.add_argument("--overwrite", action="store_true",
                      help="replace a finished result at the output path")  # fmt: skip
    test.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def positive_int(flag: str, text: str, low: int) -> int:
    """``text`` as an integer >= low, else a ConfigError naming ``flag``."""
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low:
        raise ConfigError(f"{flag} must be an integer >= {low}, got {text!r}")
    return value


def eps_values(text: str) -> list[float]:
    """--eps-list as positive floats, else a ConfigError."""
    try:
        values = [float(item) for item in text.split(",") if item.strip()]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise ConfigError(f"--eps-list must be positive numbers separated by commas "
                          f"(e.g. 0.005,0.01,0.02), got {text!r}")  # fmt: skip
    return values


def prepare_test(args: argparse.Namespace) -> tuple[Config, dict[str, Any]]:
    """Validated config and test parameters; every mistake is a one-line ConfigError."""
    plan = {
        "N": positive_int("--samples", args.samples, 2),
        "L": positive_int("--levels", args.levels, 2),
        "eps_list": eps_values(args.eps_list),
        "repeat": positive_int("--repeat", args.repeat, 1),
    }
    method = config_from_args(args, probe=False).mlmc.method  # checked before the backend
    if method != "mlmc":
        raise ConfigError("the test command needs mlmc.method mlmc (it measures MLMC levels), "
                          f"got {method}")  # fmt: skip
    config = config_from_args(args)
    output = args.output or str(Path(config.run.output).with_name(f"{config.name}-test.h5"))
    lock = acquire(output)
    try:
        check_writable(output, overwrite=args.overwrite)
    except ConfigError:
        release(lock)
        raise
    plan["output"] = output
    return config, plan


def test_job(args: argparse.Namespace, config: Config, plan: dict[str, Any],
             executor: BatchExecutor) -> int:  # fmt: skip
    """Run both tests on ``executor``, save the HDF5 file, print Giles' layout."""
    started = time.perf_counter()
    live = live_progress(executor, args.quiet, config.run.progress_s)

    def say(text: str) -> None:
        if live:
            live.clear()
        if not args.quiet:
            print(text, file=sys.stderr, flush=True)

    say(f"convergence test: {plan['N']} samples on levels 0..{plan['L']}")
    cost = level_cost(config.mlmc)
    table = convergence_test(executor, plan["N"], plan["L"], cost)
    driver = driver_plan(config)
    for note in driver.notes:
        say(note)
    level0 = level0_plan(config)
    rows = complexity_test(executor, driver.settings, plan["eps_list"], table, cost,
                           plan["repeat"], say, driver.safeguards, level0.known)  # fmt: skip
    reference = reference_price(config.option)
    result = TestResult(
        name=config.name, config=config.to_yaml(), alpha=table.alpha, beta=table.beta,
        gamma=table.gamma, beta_std_error=table.beta_std_error, N=plan["N"], L=plan["L"],
        M=config.mlmc.M, theta=config.mlmc.theta, reference_price=reference,
        backend=config.run.backend, n_workers=executor.n_workers, repeat=plan["repeat"],
        wall_time_s=time.perf_counter() - started, warnings="\n".join(table.warnings),
        level0=config.mlmc.level0, level0_method=level0.method,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        convergence={name: table.columns[name] for name in CONVERGENCE_COLUMNS},
        complexity=complexity_group(rows),
        repeat_runs=repeat_group(rows, reference) if plan["repeat"] > 1 else {},
    )  # fmt: skip
    result.save(plan["output"])
    print(giles_layout(result))
    print(f"\nresult     {plan['output']}  ({result.wall_time_s:.1f} s, "
          f"{executor.n_workers} workers)")  # fmt: skip
    return ExitCode.OK


def main(args: argparse.Namespace) -> int:
    """Giles' tests in this process or, under mpiexec, on all workers."""

    def job(config: Config, plan: dict[str, Any], executor: BatchExecutor) -> int:
        try:
            return test_job(args, config, plan, executor)
        finally:
            release(lock_path(plan["output"]))

    return launch(lambda: prepare_test(args), job)
