#!/usr/bin/env python
"""MPI benchmark.

(a) AAPL at eps 0.005 with 1 worker (mpiexec -n 2) and 2 workers (-n 3): wall time and
    ratio, measured back to back in this run.
(b) The master's dispatch rate: batches per second with a worker that returns zeros
    at once (``--dispatch`` mode, run under mpiexec by this script).

Usage: python scripts/bench_mpi.py [--out benchmarks/results/mpi-DATE.txt]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

from benchkit import mpiexec

ROOT = Path(__file__).resolve().parents[1]


class NullSampler:
    """Returns empty sums immediately: isolates the master's per-batch cost."""

    M = 2

    def steps(self, level: int) -> int:
        return self.M**level

    def sample(self, level: int, batch: int, n: int):
        import numpy as np

        return np.zeros(8)


def dispatch_mode(batches: int) -> None:
    from mpi4py import MPI

    from mlmc_hpc.parallel.mpi import MPIExecutor, worker_loop

    comm = MPI.COMM_WORLD
    if comm.Get_rank() != 0:
        worker_loop(comm, NullSampler())
        return
    workers = [("h", "cpu", 0.0)] * (comm.Get_size() - 1)
    executor = MPIExecutor(comm, 1, NullSampler().steps, workers)
    executor.sample([1000])  # warm-up
    start = time.perf_counter()
    executor.sample([batches])  # batch_timesteps = 1: one sample per batch
    seconds = time.perf_counter() - start
    executor.close()
    summary = {"batches": batches, "seconds": seconds, "rate": batches / seconds}
    summary["workers"] = comm.Get_size() - 1
    print(json.dumps(summary))


def run_json(cmd: list[str]) -> dict:
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dispatch", type=int, default=0, help=argparse.SUPPRESS)
    today = dt.date.today().isoformat()
    parser.add_argument("--out", default=f"benchmarks/results/mpi-{today}.txt")
    args = parser.parse_args()
    if args.dispatch:
        dispatch_mode(args.dispatch)
        return 0

    lines = [f"# bench_mpi {today}  (2-core VM, MPICH from the mpich wheel)"]
    walls = {}
    for ranks in (2, 3):
        job = ["-m", "mlmc_hpc", "--config", "configs/aapl.yaml", "--backend", "numpy"]
        job += ["--output", f"/tmp/bench_mpi_{ranks}.h5", "--quiet", "--json"]
        summary = run_json([mpiexec(), "-n", str(ranks), sys.executable, *job])
        walls[ranks - 1] = summary["wall_time_s"]
        lines.append(
            f"(a) AAPL eps 0.005, {ranks - 1} worker(s): wall {summary['wall_time_s']:.2f} s, "
            f"price {summary['price']:.6f}, timesteps {summary['total_timesteps']:.3e}"
        )
    lines.append(f"(a) speedup 2 workers vs 1: {walls[1] / walls[2]:.2f}x")
    for ranks in (2, 3):
        script = [str(Path(__file__)), "--dispatch", "20000"]
        result = run_json([mpiexec(), "-n", str(ranks), sys.executable, *script])
        lines.append(
            f"(b) dispatch with {result['workers']} null worker(s): {result['rate']:.0f} "
            f"batches/s ({1e6 / result['rate']:.0f} us per batch round trip)"
        )
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
