"""Benchmark: multilevel quasi-Monte Carlo against MLMC, side by side in one run.

The study's nine cases (AAPL, TSLA, SPY European calls at eps 0.005, 0.0025, 0.001) and
every path-dependent type at eps 0.01, each priced in one NumPy process by

- ``mlmc``:        Giles' MLMC with the exact level 0 (the default since 0.4.0),
- ``mlqmc``:       multilevel quasi-Monte Carlo with the exact level 0,
- ``mlqmc-l0``:    multilevel quasi-Monte Carlo sampling level 0 on its points,

with the same seed: total timesteps, wall time, sampling seconds (sum of batch compute
times), error against the closed form in eps. ``x steps`` is mlmc's timesteps over this
mode's. The QMC set-up (building the scrambled Sobol engines of every level and
randomisation the run used) is timed separately afterwards and compared with the
sampling time. Targets (issue 18), one CPU core: SPY eps 0.001 by MLQMC in under 1 s of
sampling with at most 2e7 timesteps; set-up below the sampling time.

Usage: python scripts/bench_mlqmc.py [--quick] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import mlmc_hpc
from mlmc_hpc.config.loading import load_config_text, preset_config
from mlmc_hpc.models import qmc

MODES = {"mlmc": {"method": "mlmc"}, "mlqmc": {"method": "mlqmc"},
         "mlqmc-l0": {"method": "mlqmc", "level0": "sample"}}  # fmt: skip
PATHS: dict[str, dict[str, Any]] = {
    "asian arith": {"type": "asian"},
    "asian geom": {"type": "asian", "average": "geometric"},
    "lookback": {"type": "lookback"},
    "digital": {"type": "digital"},
    "barrier B=85": {"type": "barrier", "barrier": 85.0},
}
GILES = {"S0": 100.0, "K": 100.0, "T": 1.0, "r": 0.05, "sigma": 0.2}


def run(option: dict[str, Any], eps: float, mode: str, seed: int) -> Any:
    """One priced run (warnings kept in the result, not printed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mlmc_hpc.price({"option": option, "mlmc": {"eps": eps, **MODES[mode]},
                               "run": {"seed": seed, "backend": "numpy"}})  # fmt: skip


def setup_seconds(result: Any) -> float:
    """Seconds to build the scrambled Sobol engines of every (level, randomisation)."""
    kind = load_config_text(result.config).option.type
    qmc._engine.cache_clear()
    started = time.perf_counter()
    for level in range(result.L + 1):
        steps = result.M**level
        dim = min(steps * (2 if kind in ("asian", "lookback") else 1), qmc.QMC_DIMENSIONS)
        for r in range(result.randomisations):
            qmc._engine((level, r, result.seed, qmc.SOBOL_TAG), dim)
    return time.perf_counter() - started


def row(label: str, mode: str, result: Any, base: Any) -> str:
    """One table line; error '-' without a closed form."""
    error = result.price - result.reference_price
    shown = f"{error / result.eps:+6.2f}" if math.isfinite(error) else "     -"
    steps = result.total_timesteps
    ratio = f"{base.total_timesteps / steps:8.1f}" if base is not None else "        "
    return (f"{label:<16} {mode:<9} {result.L:3d} {steps:10.3e} {result.wall_time_s:8.3f} "
            f"{result.sampling_s:8.3f} {result.price:12.6f} {shown} "
            f"{'yes' if result.converged else 'NO':>4} {ratio}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="eps 0.005 and 0.05 only")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", help="also write the output here")
    args = parser.parse_args()
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    rng = np.random.Generator(np.random.SFC64(1))
    buffer = np.empty(1 << 16)
    started = time.perf_counter()
    for _ in range(256):
        rng.standard_normal(out=buffer)
    floor = 256 * (1 << 16) / (time.perf_counter() - started)
    say(f"# bench_mlqmc.py  {dt.datetime.now().isoformat(timespec='seconds')}  "
        f"{platform.node()}  mlmc_hpc {mlmc_hpc.__version__}  numpy {np.__version__}")  # fmt: skip
    say(f"# floor: {floor:.3g} NumPy normals/s on this core; seed {args.seed}; one process")
    say("# x steps: mlmc's timesteps / this mode's (same case, this run)")
    header = (f"{'case':<16} {'mode':<9} {'L':>3} {'timesteps':>10} {'wall s':>8} "
              f"{'sample s':>8} {'price':>12} {'err/eps':>7} {'conv':>4} "
              f"{'x steps':>8}")  # fmt: skip
    study = [0.005] if args.quick else [0.005, 0.0025, 0.001]
    results: dict[tuple[str, float, str], Any] = {}
    say("\n# study cases (European calls)")
    say(header)
    for name in ("aapl", "tsla", "spy"):
        option = preset_config(name).option
        spec = {k: getattr(option, k) for k in ("type", "S0", "K", "T", "r", "sigma")}
        for eps in study:
            for mode in MODES:
                result = run(spec, eps, mode, args.seed)
                results[(name, eps, mode)] = result
                base = results[(name, eps, "mlmc")] if mode != "mlmc" else None
                say(row(f"{name} {eps:g}", mode, result, base))
    path_eps = 0.05 if args.quick else 0.01
    say(f"\n# path-dependent types (S0 = K = 100, T = 1, r = 0.05, sigma = 0.2), eps {path_eps:g}")
    say(header)
    for label, extra in PATHS.items():
        for mode in MODES:
            result = run({**GILES, **extra}, path_eps, mode, args.seed)
            results[(label, path_eps, mode)] = result
            base = results[(label, path_eps, "mlmc")] if mode != "mlmc" else None
            say(row(label, mode, result, base))
    say("\n# targets (one CPU core)")
    key = ("spy", 0.001, "mlqmc")
    if key in results:
        spy = results[key]
        setup = setup_seconds(spy)
        mlmc = results[("spy", 0.001, "mlmc")]
        verdict = {True: "PASS", False: "MISS"}
        say(f"SPY eps 0.001 mlqmc sampling < 1 s     {verdict[spy.sampling_s < 1]}  "
            f"{spy.sampling_s:.2f} s (mlmc {mlmc.sampling_s:.2f} s)")  # fmt: skip
        say(f"SPY eps 0.001 mlqmc timesteps <= 2e7   {verdict[spy.total_timesteps <= 2e7]}  "
            f"{spy.total_timesteps:.3e} (mlmc {mlmc.total_timesteps:.3e})")  # fmt: skip
        say(f"QMC set-up below the sampling time     {verdict[setup < spy.sampling_s]}  "
            f"{setup:.2f} s to scramble {(spy.L + 1) * spy.randomisations} engines")  # fmt: skip
    else:
        say("SPY eps 0.001: not run (--quick)")
    text = "\n".join(lines) + "\n"
    out = args.out or (None if args.quick else
                       f"benchmarks/results/mlqmc-{dt.date.today().isoformat()}.txt")  # fmt: skip
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
        print(f"# written to {out}")


if __name__ == "__main__":
    main()
