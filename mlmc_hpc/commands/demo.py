"""The ``demo`` command: the study's poster demo in a plain terminal.

Choose a preset or enter S0, K, T, sigma, r and eps; watch the adaptive loop live (samples
per level, variance and bias against their targets, elapsed time); then the same problem
under mpiexec on one worker and on all workers, with both times and the speedup.
Flags answer every question, so scripts and tests run it without a terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..config.loading import load_config, preset_config, preset_names
from ..config.schema import Config
from ..core.driver import IterationRecord
from ..errors import ConfigError, ExitCode, config_error_exit
from ..parallel.executor import serial_executor
from ..pricing.run import run_pricing
from ..render.progress import progress_line
from ..render.summary import price_lines

PARAMETERS = ("S0", "K", "T", "sigma", "r", "eps")


def add_parser(commands: Any) -> None:
    """The ``demo`` sub-command and its flags."""
    demo = commands.add_parser("demo", help="live demo: one problem, progress, speedup")
    demo.add_argument("--preset", help="a packaged preset: aapl | giles | spy | tsla")
    for name in PARAMETERS:
        demo.add_argument(f"--{name}", help=f"{name} (overrides the preset)")
    demo.add_argument("--type", help="option type (default call)")
    demo.add_argument("--workers", help="workers for the parallel run (default: CPU count)")
    demo.add_argument("--no-compare", action="store_true",
                      help="skip the one-worker against all-workers comparison")  # fmt: skip
    demo.add_argument("--non-interactive", action="store_true",
                      help="never prompt; missing values come from the preset")  # fmt: skip


def preset_values(name: str) -> dict[str, Any]:
    """S0, K, T, sigma, r, eps of a packaged preset (the same files as --config NAME)."""
    config = preset_config(name)
    o = config.option
    return dict(S0=o.S0, K=o.K, T=o.T, sigma=o.sigma, r=o.r, eps=config.mlmc.eps)


def ask(question: str, default: str) -> str:
    """One question on the terminal; the default when the answer is empty."""
    answer = input(f"{question} [{default}]: ").strip()
    return answer or default


def choose(args: argparse.Namespace, interactive: bool) -> dict[str, Any]:
    """Preset and parameters from flags, then (interactively) from questions."""
    names = preset_names()
    preset = args.preset or (ask(f"preset ({', '.join(names)})", "aapl") if interactive
                             else "aapl")  # fmt: skip
    if preset not in names:
        raise ConfigError(f"--preset must be one of {', '.join(names)}, got {preset!r}")
    values = dict(preset_values(preset), type=args.type or "call")
    for name in PARAMETERS:
        given = getattr(args, name)
        if given is None and interactive:
            given = ask(name, str(values[name]))
        if given is not None:
            values[name] = given
    return values


def demo_config(values: dict[str, Any], output: str) -> Config:
    """The demo's problem as a config (defaults for everything not asked)."""
    overrides = [(f"option.{k}", values[k]) for k in ("type", "S0", "K", "T", "r", "sigma")]
    overrides += [("mlmc.eps", values["eps"]), ("run.output", output), ("name", "demo")]
    return load_config(overrides=overrides)


def live_run(config: Config) -> float:
    """The adaptive loop in this process, one line per iteration; returns the wall time."""
    started = time.perf_counter()
    count = 0

    def progress(record: IterationRecord) -> None:
        nonlocal count
        count += 1
        elapsed = time.perf_counter() - started
        print("  " + progress_line(count, record, config.mlmc, elapsed), flush=True)

    result = run_pricing(config, serial_executor(config), progress)
    print(price_lines(result), flush=True)
    return result.wall_time_s


def mpi_run(mpiexec: str, ranks: int, values: dict[str, Any], output: Path) -> dict[str, Any]:
    """The same problem under ``mpiexec -n ranks`` (one master); its JSON summary."""
    command = [mpiexec, "-n", str(ranks), sys.executable, "-m", "mlmc_hpc", "run", "--quiet",
               "--json", "--output", str(output), "--eps", str(values["eps"])]  # fmt: skip
    for key in ("type", "S0", "K", "T", "r", "sigma"):
        command += ["--set", f"option.{key}={values[key]}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"mpiexec -n {ranks} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(values: dict[str, Any], workers: int, directory: Path) -> None:
    """The same problem under mpiexec on one worker and on ``workers``; times, speedup."""
    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which(
        "mpiexec"
    )
    if mpiexec is None:
        print("no mpiexec found: pip install 'mlmc_hpc[mpi]' to compare 1 and N workers")
        return
    print(f"\nsame problem on 1 worker and on {workers} workers (mpiexec, one master rank):")
    one = mpi_run(mpiexec, 2, values, directory / "one.h5")
    print(f"  1 worker : {one['wall_time_s']:7.2f} s  price {one['price']:.6f}", flush=True)
    many = mpi_run(mpiexec, workers + 1, values, directory / "many.h5")
    print(f"  {workers} workers: {many['wall_time_s']:7.2f} s  price {many['price']:.6f}")
    same = "identical" if one["price"] == many["price"] else "DIFFERENT"
    print(f"  speedup {one['wall_time_s'] / many['wall_time_s']:.2f}x  (prices {same})")


def main(args: argparse.Namespace) -> int:
    """Ask (or take from flags), run live, then compare 1 and N workers."""
    interactive = not args.non_interactive and sys.stdin.isatty()
    try:
        values = choose(args, interactive)
        workers = int(args.workers) if args.workers else max(1, os.cpu_count() or 1)
        if workers < 1:
            raise ValueError
    except ConfigError as error:
        return config_error_exit(error)
    except ValueError:
        return config_error_exit(ConfigError(f"--workers must be an integer >= 1, "
                                             f"got {args.workers!r}"))  # fmt: skip
    except (EOFError, KeyboardInterrupt):
        print("\ndemo cancelled", file=sys.stderr)
        return 130
    with tempfile.TemporaryDirectory(prefix="mlmc-demo-") as directory:
        try:
            config = demo_config(values, str(Path(directory) / "demo.h5"))
        except ConfigError as error:
            return config_error_exit(error)
        o = config.option
        print(f"MLMC demo: {o.type} S0={o.S0:g} K={o.K:g} T={o.T:g} r={o.r:g} "
              f"sigma={o.sigma:g}  eps={config.mlmc.eps:g}\n", flush=True)  # fmt: skip
        live_run(config)
        if not args.no_compare:
            compare(values, workers, Path(directory))
    return ExitCode.OK
