#!/usr/bin/env python
"""Path-payoff benchmark (NumPy, one process): every option type side by side in one run.

For each type at Giles' parameters (S0 = K = 100, T = 1, r = 0.05, sigma = 0.2, B = 85):
  * the generic coupled path sampler's throughput in fine timesteps per second on one
    level (for call too; MLMC runs of call and put use the faster European sampler),
    and its ratio to the raw NumPy normal rate (the floor: one normal per fine step),
    measured just before the type with the same bit generator;
  * an adaptive MLMC run to eps: wall time, finest level, total timesteps, and the
    plain Monte Carlo cost on that finest grid, V[P_L] / ((1 - theta) eps^2) * 2^L
    timesteps (Giles' std_cost), and the savings.

Usage: python scripts/bench_payoffs.py [--eps 0.01] [--level 8] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from mlmc_hpc.config import load_config  # noqa: E402
from mlmc_hpc.core.estimators import variance_target  # noqa: E402
from mlmc_hpc.models.paths import PathSampler  # noqa: E402
from mlmc_hpc.parallel.executor import serial_executor
from mlmc_hpc.pricing.run import run_pricing  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cpu import raw_normal_rate  # noqa: E402  (the same floor measurement)

TYPES = [("call", []), ("asian", []), ("lookback", []), ("digital", []),
         ("barrier", [("option.barrier", 85.0)])]  # fmt: skip


def sampler_rate(config, level: int, n: int) -> float:
    sampler = PathSampler(config.option, config.mlmc.M, seed=1)
    sampler.sample(level, 0, 256)  # warm-up
    start = time.perf_counter()
    sampler.sample(level, 1, n)
    return n * config.mlmc.M**level / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eps", type=float, default=0.01)
    parser.add_argument("--level", type=int, default=8)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--out", default=f"benchmarks/results/payoffs-{dt.date.today()}.txt")
    args = parser.parse_args()
    lines = [
        f"# bench_payoffs.py  {dt.datetime.now().isoformat(timespec='seconds')}  "
        f"{platform.processor() or platform.machine()}  numpy {np.__version__}  one process",
        f"# sampler: level {args.level} (M = 2), {args.samples} coupled samples; "
        f"MLMC: eps {args.eps}, theta 0.25, seed 1",
        f"{'type':9} {'steps/s':>9} {'floor':>9} {'ratio':>6} {'wall s':>7} {'L':>3} "
        f"{'mlmc steps':>11} {'mc steps':>10} {'savings':>8} {'price':>10} {'closed':>10}",
    ]
    print(lines[-1])
    for kind, extra in TYPES:
        overrides = [("option.type", kind), ("mlmc.eps", args.eps), *extra]
        config = load_config(overrides=[*overrides, ("run.backend", "numpy")])
        floor = raw_normal_rate(0.3)
        rate = sampler_rate(config, args.level, args.samples)
        result = run_pricing(config, serial_executor(config))
        L = result.L
        finest_var = float(result.levels["variance_pf"][L])
        mc_steps = finest_var / variance_target(args.eps, 0.25) * 2**L
        mlmc_steps = float(result.levels["timesteps"].sum())
        line = (
            f"{kind:9} {rate:9.3e} {floor:9.3e} {rate / floor:6.3f} {result.wall_time_s:7.2f} "
            f"{L:3d} {mlmc_steps:11.3e} {mc_steps:10.3e} {mc_steps / mlmc_steps:8.1f} "
            f"{result.price:10.5f} {result.reference_price:10.5f}"
        )
        print(line, flush=True)
        lines.append(line)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"written {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
