#!/usr/bin/env python
"""CPU benchmark: the three study presets at eps 0.005 on one NumPy process.

For each case, measured side by side in this one run:
  * our engine: wall time, timesteps per level, timesteps per second;
  * the raw NumPy ``standard_normal`` rate (the floor: one normal per timestep),
    measured just before and after the case with the same bit generator;
  * a plain vectorised NumPy implementation of the same algorithm (full-batch
    arrays, one Milstein update per timestep as in the study's equation 3) on the
    same per-level sample counts and batches.

Usage: python scripts/bench_cpu.py [--eps 0.005] [--out benchmarks/results/cpu-DATE.txt]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from mlmc_hpc.config import load_config  # noqa: E402
from mlmc_hpc.models.gbm import level_cost  # noqa: E402
from mlmc_hpc.parallel.executor import serial_executor
from mlmc_hpc.parallel.planning import BatchPlanner  # noqa: E402
from mlmc_hpc.pricing.run import run_pricing  # noqa: E402

STUDY_SEQUENTIAL_S = {"aapl": 6.03, "tsla": 8.35, "spy": 11.68}  # their C++, eps 0.005
STUDY_SAME_VM_S = {"aapl": 8.5, "tsla": 11.5, "spy": 15.7}  # same code on a 2-core VM
GILES_AAPL_TIMESTEPS = 1.6e8


def raw_normal_rate(seconds: float = 0.5) -> float:
    """Normals per second from SFC64 standard_normal into a cache-sized buffer."""
    rng = np.random.Generator(np.random.SFC64(0))
    buffer = np.empty(1 << 16)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        rng.standard_normal(out=buffer)
        count += buffer.size
    return count / (time.perf_counter() - start)


def plain_numpy_level(option, M: int, level: int, n: int, rng) -> float:
    """Straightforward vectorised coupled Milstein on full arrays; returns sum of Y."""
    steps = M**level
    h = option.T / steps
    r, sigma = option.r, option.sigma
    fine = np.full(n, option.S0)
    coarse = np.full(n, option.S0)
    dw_coarse = np.zeros(n)
    for step in range(steps):
        dw = math.sqrt(h) * rng.standard_normal(n)
        fine = fine + r * fine * h + sigma * fine * dw + 0.5 * sigma**2 * fine * (dw**2 - h)
        if level > 0:
            dw_coarse += dw
            if (step + 1) % M == 0:
                hc = M * h
                coarse = (
                    coarse
                    + r * coarse * hc
                    + sigma * coarse * dw_coarse
                    + 0.5 * sigma**2 * coarse * (dw_coarse**2 - hc)
                )
                dw_coarse[:] = 0.0
    disc = math.exp(-r * option.T)
    pf = disc * np.maximum(fine - option.K, 0.0)
    pc = disc * np.maximum(coarse - option.K, 0.0) if level > 0 else 0.0
    y = pf - pc
    return float(y.sum() + (y * y).sum())


def run_case(name: str, eps: float) -> dict:
    config = load_config(f"configs/{name}.yaml", [("mlmc.eps", eps), ("run.backend", "numpy")])
    raw_before = raw_normal_rate()
    result = run_pricing(config, serial_executor(config))
    raw_after = raw_normal_rate()
    raw = 0.5 * (raw_before + raw_after)
    timesteps = result.levels["timesteps"]
    total = int(timesteps.sum())
    ours_rate = total / result.wall_time_s

    planner = BatchPlanner(config.run.batch_timesteps, level_cost(config.mlmc))
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for task in planner.plan([int(n) for n in result.levels["n_samples"]]):
        plain_numpy_level(config.option, config.mlmc.M, task.level, task.n, rng)
    plain_seconds = time.perf_counter() - start
    plain_rate = total / plain_seconds
    return {
        "case": name,
        "eps": eps,
        "price": result.price,
        "reference_price": result.reference_price,
        "error_in_eps": (result.price - result.reference_price) / eps,
        "L": result.L,
        "timesteps_per_level": [int(t) for t in timesteps],
        "total_timesteps": total,
        "wall_seconds": result.wall_time_s,
        "timesteps_per_s": ours_rate,
        "raw_normals_per_s": raw,
        "ratio_to_raw_normals": ours_rate / raw,
        "plain_numpy_seconds": plain_seconds,
        "plain_numpy_timesteps_per_s": plain_rate,
        "speedup_over_plain_numpy": ours_rate / plain_rate,
        "study_sequential_s": STUDY_SEQUENTIAL_S[name],
        "study_same_vm_s": STUDY_SAME_VM_S[name],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eps", type=float, default=0.005)
    parser.add_argument("--cases", default="aapl,tsla,spy")
    today = dt.date.today().isoformat()
    parser.add_argument("--out", default=f"benchmarks/results/cpu-{today}.txt")
    args = parser.parse_args()

    lines = [
        f"# bench_cpu {today}  python {platform.python_version()}  numpy {np.__version__}  "
        f"{platform.machine()} {os.cpu_count()} cores  one process",
    ]
    rows = [run_case(name, args.eps) for name in args.cases.split(",")]
    header = (
        f"{'case':5} {'eps':>7} {'price':>10} {'err/eps':>8} {'L':>3} {'timesteps':>10} "
        f"{'wall s':>7} {'Mstep/s':>8} {'raw M/s':>8} {'/raw':>5} {'plain s':>8} "
        f"{'xplain':>6} {'study s':>8} {'VM s':>6}"
    )
    lines.append(header)
    for r in rows:
        lines.append(
            f"{r['case']:5} {r['eps']:7g} {r['price']:10.4f} {r['error_in_eps']:+8.2f} "
            f"{r['L']:3d} {r['total_timesteps']:10.3e} {r['wall_seconds']:7.2f} "
            f"{r['timesteps_per_s'] / 1e6:8.1f} {r['raw_normals_per_s'] / 1e6:8.1f} "
            f"{r['ratio_to_raw_normals']:5.2f} {r['plain_numpy_seconds']:8.2f} "
            f"{r['speedup_over_plain_numpy']:6.2f} {r['study_sequential_s']:8.2f} "
            f"{r['study_same_vm_s']:6.1f}"
        )
    lines.append("timesteps per level:")
    for r in rows:
        lines.append(f"  {r['case']}: {r['timesteps_per_level']}")
    aapl = next((r for r in rows if r["case"] == "aapl"), None)
    if aapl:
        ratio = aapl["total_timesteps"] / GILES_AAPL_TIMESTEPS
        lines.append(
            f"AAPL total timesteps {aapl['total_timesteps']:.3e} vs Giles' driver "
            f"{GILES_AAPL_TIMESTEPS:.1e} (ratio {ratio:.2f})"
        )
    text = "\n".join(lines)
    print(text)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as handle:
        handle.write(text + "\n")
        for r in rows:
            handle.write(json.dumps(r) + "\n")
    print(f"written {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
