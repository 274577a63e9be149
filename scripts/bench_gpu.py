#!/usr/bin/env python
"""GPU benchmark: the study's nine cases (AAPL, TSLA, SPY at eps 0.005, 0.0025, 0.001)
on one GPU with the CuPy backend, beside a roofline kernel measured in the same run.

The roofline kernel draws and sums Philox normals with the same launch shape and
stream as the MLMC kernels but does no path arithmetic: one normal is one timestep, so
``sampling throughput / roofline`` is the fraction of the random-number ceiling reached.
Each case appends one JSON object to ``benchmarks/results/gpu-<date>.jsonl`` with keys
case, eps, gpu_name, price, reference_price, total_timesteps, sampling_seconds,
wall_seconds, startup_seconds, roofline_timesteps_per_s (plus throughput and
roofline_fraction), and a table is printed beside the study's sequential and RTX 2080
times (``../shared/reference/anchors.md``).

Usage: python scripts/bench_gpu.py [--cases aapl,tsla,spy] [--eps-list 0.005,0.0025,0.001]
                                   [--out benchmarks/results/gpu-DATE.jsonl]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

from mlmc_hpc.config import load_config
from mlmc_hpc.config.resolve import gpu_count
from mlmc_hpc.parallel.executor import serial_executor
from mlmc_hpc.pricing.run import run_pricing

ROOT = Path(__file__).resolve().parents[1]
STUDY_SEQUENTIAL_S = {  # their C++ on one core (anchors.md)
    ("aapl", 0.005): 6.03, ("aapl", 0.0025): 24.99, ("aapl", 0.001): 167.4,
    ("tsla", 0.005): 8.35, ("tsla", 0.0025): 35.37, ("tsla", 0.001): 227.9,
    ("spy", 0.005): 11.68, ("spy", 0.0025): 48.26, ("spy", 0.001): 314.3,
}  # fmt: skip
STUDY_RTX2080_SPY_0001_S = 1.8
TARGET_SPY_0001_SAMPLING_S = 0.1
TARGET_ROOFLINE_FRACTION = 0.6


def run_case(case: str, eps: float, roofline: float, gpu_name: str) -> dict:
    config = load_config(
        ROOT / f"configs/{case}.yaml", [("mlmc.eps", eps), ("run.backend", "cupy")]
    )
    started = time.perf_counter()
    executor = serial_executor(config)
    result = run_pricing(config, executor)
    wall = time.perf_counter() - started
    timesteps = int(result.levels["timesteps"].sum())
    return {
        "case": case,
        "eps": eps,
        "gpu_name": gpu_name,
        "price": result.price,
        "reference_price": result.reference_price,
        "total_timesteps": timesteps,
        "sampling_seconds": result.sampling_s,
        "wall_seconds": wall,
        "startup_seconds": result.startup_s,
        "roofline_timesteps_per_s": roofline,
        "throughput_timesteps_per_s": timesteps / result.sampling_s,
        "roofline_fraction": timesteps / result.sampling_s / roofline,
        "error_in_eps": (result.price - result.reference_price) / eps,
        "L": result.L,
        "batch_timesteps": config.run.batch_timesteps,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="aapl,tsla,spy")
    parser.add_argument("--eps-list", default="0.005,0.0025,0.001")
    parser.add_argument("--out", default=f"benchmarks/results/gpu-{dt.date.today()}.jsonl")
    args = parser.parse_args()
    if gpu_count() == 0:
        print("bench_gpu: needs CuPy and a CUDA GPU", file=sys.stderr)
        return 2
    import cupy

    from mlmc_hpc.models.cupy_sampler import CupyMilsteinSampler

    gpu_name = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    probe = CupyMilsteinSampler(load_config(ROOT / "configs/spy.yaml").option, 2, 1)
    roofline = max(probe.normals_rate() for _ in range(3))
    rows = []
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for case in args.cases.split(","):
        for eps in (float(e) for e in args.eps_list.split(",")):
            row = run_case(case, eps, roofline, gpu_name)
            rows.append(row)
            with out.open("a") as stream:
                stream.write(json.dumps(row) + "\n")

    print(f"GPU: {gpu_name}; roofline (Philox normals only): {roofline:.3e} timesteps/s")
    print(f"{'case':5} {'eps':>7} {'price':>10} {'err/eps':>7} {'timesteps':>10} {'sampling':>9} "
          f"{'startup':>8} {'wall':>7} {'of roof':>7} {'study seq':>9} {'x seq':>8}")  # fmt: skip
    for row in rows:
        sequential = STUDY_SEQUENTIAL_S[(row["case"], row["eps"])]
        print(f"{row['case']:5} {row['eps']:7g} {row['price']:10.5f} {row['error_in_eps']:7.2f} "
              f"{row['total_timesteps']:10.3e} {row['sampling_seconds']:8.4f}s "
              f"{row['startup_seconds']:7.3f}s {row['wall_seconds']:6.3f}s "
              f"{row['roofline_fraction']:7.0%} {sequential:8.2f}s "
              f"{sequential / row['wall_seconds']:7.0f}x")  # fmt: skip
    spy = [r for r in rows if r["case"] == "spy" and r["eps"] == 0.001]
    if spy:
        r = spy[0]
        print(f"SPY eps 0.001: sampled in {r['sampling_seconds']:.4f} s (target <= "
              f"{TARGET_SPY_0001_SAMPLING_S} s; study RTX 2080 about {STUDY_RTX2080_SPY_0001_S} s "
              f"end to end, sequential 314.3 s)")  # fmt: skip
    worst = min(r["roofline_fraction"] for r in rows)
    print(f"lowest fraction of roofline: {worst:.0%} (target {TARGET_ROOFLINE_FRACTION:.0%})")
    print(f"results appended to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
