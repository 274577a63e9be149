#!/usr/bin/env python
"""The cost of trustworthy convergence: ``mlmc.convergence`` robust against giles, side by side.

For the study's presets (AAPL, TSLA, SPY at their eps) and for cases that break Giles'
plain bias test (a barrier 5% below spot, r = 5 and T = 10, a digital), each seed is run
once with Giles' test alone and once with the robust checks (same seed, same streams,
one NumPy process, interleaved so both see the same machine). Printed per case and mode:
RMS error over the seeds against the closed form (in eps), the largest error, how many
runs said converged, how many of those with an error above 4 eps (after the closed-form
guard, which withdraws converged from Giles' wrong barrier prices), the finest level L,
mean timesteps, mean wall seconds, and the robust/giles ratios of timesteps and seconds.

Usage: python scripts/bench_convergence.py [--seeds 8] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import mlmc_hpc  # noqa: E402

CASES = [
    ("aapl", "aapl", {}),
    ("tsla", "tsla", {}),
    ("spy", "spy", {}),
    ("barrier B=95 eps 0.02", None, dict(type="barrier", barrier=95.0, eps=0.02)),
    ("call r=5 T=10 eps 2", None, dict(T=10.0, r=5.0, eps=2.0)),
    ("digital eps 0.02", None, dict(type="digital", eps=0.02)),
]
MODES = ("giles", "robust")


def measure(preset, keywords, mode, seed):
    """(error, converged, L, timesteps, seconds) of one run."""
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = mlmc_hpc.price(preset, seed=seed, convergence=mode, backend="numpy", **keywords)
    seconds = time.perf_counter() - started
    error = result.price - result.reference_price
    return error, result.converged, result.L, result.total_timesteps, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--out", default=f"benchmarks/results/convergence-{dt.date.today()}.txt")
    args = parser.parse_args()
    lines = [
        f"# bench_convergence.py  {dt.datetime.now().isoformat(timespec='seconds')}  "
        f"{platform.processor() or platform.machine()}  numpy {np.__version__}  one process",
        f"# seeds 1..{args.seeds} per case and mode, interleaved; errors against the closed form",
        f"{'case':24} {'mode':7} {'rmse/eps':>8} {'max/eps':>8} {'conv':>4} {'bad':>3} "
        f"{'L':>9} {'timesteps':>10} {'seconds':>8} {'x steps':>8} {'x time':>7}",
    ]
    print("\n".join(lines), flush=True)
    for name, preset, keywords in CASES:
        eps = keywords.get("eps") or mlmc_hpc.load_config(preset).mlmc.eps
        runs = {mode: [] for mode in MODES}
        for seed in range(1, args.seeds + 1):
            for mode in MODES:
                runs[mode].append(measure(preset, keywords, mode, seed))
        base = None
        for mode in MODES:
            columns = zip(*runs[mode], strict=True)
            error, converged, level, steps, seconds = (np.array(x) for x in columns)
            rmse = float(np.sqrt(np.mean(error**2)) / eps)
            bad = int(np.sum(converged & (np.abs(error) > 4 * eps)))
            levels = f"{level.min()}..{level.max()}"
            mean_steps, mean_s = float(steps.mean()), float(seconds.mean())
            ratio = "" if base is None else f"{mean_steps / base[0]:8.2f} {mean_s / base[1]:7.2f}"
            base = base or (mean_steps, mean_s)
            line = (f"{name:24} {mode:7} {rmse:8.3f} {np.abs(error).max() / eps:8.2f} "
                    f"{int(converged.sum()):4d} {bad:3d} {levels:>9} {mean_steps:10.3g} "
                    f"{mean_s:8.3f} {ratio}")  # fmt: skip
            lines.append(line.rstrip())
            print(lines[-1], flush=True)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as out:
            out.write("\n".join(lines) + "\n")
        print(f"# written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
