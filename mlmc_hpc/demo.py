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

from .app import price, resolved, serial_executor
from .backend import resolve_backend
from .cli import EXIT_OK, print_config_error
from .config import ConfigError, load_config
from .estimators import bias_target, variance_target
from .summary import price_lines

# The study's cases (configs/*.yaml) and Giles' test case.
PRESETS = {
    "aapl": dict(S0=280.0, K=280.0, T=1.0, r=0.02, sigma=0.25, eps=0.005),
    "tsla": dict(S0=430.0, K=430.0, T=0.5, r=0.02, sigma=0.30, eps=0.005),
    "spy": dict(S0=680.0, K=680.0, T=2.0, r=0.02, sigma=0.10, eps=0.005),
    "giles": dict(S0=100.0, K=100.0, T=1.0, r=0.05, sigma=0.20, eps=0.01),
}
PARAMETERS = ("S0", "K", "T", "sigma", "r", "eps")


def ask(question: str, default: str) -> str:
    answer = input(f"{question} [{default}]: ").strip()
    return answer or default


def choose(args: argparse.Namespace, interactive: bool) -> dict:
    """Preset and parameters from flags, then (interactively) from questions."""
    preset = args.preset or (ask("preset (aapl, tsla, spy, giles)", "aapl") if interactive
                             else "aapl")  # fmt: skip
    if preset not in PRESETS:
        raise ConfigError(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    values = dict(PRESETS[preset], type=args.type or "call")
    for name in PARAMETERS:
        given = getattr(args, name)
        if given is None and interactive:
            given = ask(name, str(values[name]))
        if given is not None:
            values[name] = given
    return values


def demo_config(values: dict, output: str):
    overrides = [(f"option.{k}", values[k]) for k in ("type", "S0", "K", "T", "r", "sigma")]
    overrides += [("mlmc.eps", values["eps"]), ("run.output", output), ("name", "demo")]
    config = load_config(overrides=overrides)
    return resolved(config, resolve_backend(config))


def live_run(config) -> float:
    """The adaptive loop in this process, one line per iteration; returns the wall time."""
    started = time.perf_counter()
    eps, theta = config.mlmc.eps, config.mlmc.theta
    count = 0

    def progress(record) -> None:
        nonlocal count
        count += 1
        counts = " ".join(str(n) for n in record.extra)
        bias = "  -  " if record.bias != record.bias else f"{record.bias:.2e}"
        print(f"  iter {count:2d}  L={record.L:2d}  +N_l [{counts}]  variance "
              f"{record.variance:.2e}/{variance_target(eps, theta):.2e}  "
              f"bias {bias}/{bias_target(eps, theta):.2e}  "
              f"{time.perf_counter() - started:6.2f} s", flush=True)  # fmt: skip

    result = price(config, serial_executor(config), progress=progress)
    print(price_lines(result), flush=True)
    return result.wall_time_s


def mpi_run(mpiexec: str, ranks: int, values: dict, output: Path) -> dict:
    """The same problem under ``mpiexec -n ranks`` (one master); its JSON summary."""
    command = [mpiexec, "-n", str(ranks), sys.executable, "-m", "mlmc_hpc", "run", "--quiet",
               "--json", "--output", str(output), "--eps", str(values["eps"])]  # fmt: skip
    for key in ("type", "S0", "K", "T", "r", "sigma"):
        command += ["--set", f"option.{key}={values[key]}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"mpiexec -n {ranks} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(values: dict, workers: int, directory: Path) -> None:
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


def demo_command(args: argparse.Namespace) -> int:
    interactive = not args.non_interactive and sys.stdin.isatty()
    try:
        values = choose(args, interactive)
        workers = int(args.workers) if args.workers else max(1, os.cpu_count() or 1)
        if workers < 1:
            raise ValueError
    except ConfigError as error:
        return print_config_error(error)
    except ValueError:
        return print_config_error(ConfigError(f"--workers must be an integer >= 1, "
                                              f"got {args.workers!r}"))  # fmt: skip
    except (EOFError, KeyboardInterrupt):
        print("\ndemo cancelled", file=sys.stderr)
        return 130
    with tempfile.TemporaryDirectory(prefix="mlmc-demo-") as directory:
        try:
            config = demo_config(values, str(Path(directory) / "demo.h5"))
        except ConfigError as error:
            return print_config_error(error)
        o = config.option
        print(f"MLMC demo: {o.type} S0={o.S0:g} K={o.K:g} T={o.T:g} r={o.r:g} "
              f"sigma={o.sigma:g}  eps={config.mlmc.eps:g}\n", flush=True)  # fmt: skip
        live_run(config)
        if not args.no_compare:
            compare(values, workers, Path(directory))
    return EXIT_OK
