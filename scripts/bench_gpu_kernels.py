#!/usr/bin/env python
"""Kernel-only GPU timings by CUDA events, beside the ranges predicted for one H200.

Step 5 of the first-run checklist (``../shared/design/gpu_first_run.md``), for the SPY option
(``configs/spy.yaml``, M = 2, seed 1): the Philox-only roofline (``normals_rate``); level 0
with 2^30 samples; levels 1, 4 and 8 at 2^30 fine timesteps each (n = 2^30 / 2^level); level
12 with 17 and 100 samples (the warp-per-sample ``coupled2_warp`` kernel, as ``launch_plan``
picks) and, to compare, level 12 with 100 samples on the one-thread-per-sample ``coupled2``
kernel forced; and the host floor per batch: many tiny batches one by one through ``sample``
and in groups of 64 through ``sample_many`` (wall clock, microseconds per batch). A timed
batch is its kernel plus the one-block reduction of its partial rows, as ``launch`` queues
them, between two CUDA events; each case is repeated (``--reps``) after one untimed run and
reported by its best and median time. Prints a table and writes one JSON object per case to
``--out`` (with the device, GPU name, CUDA, NVRTC and driver versions of ``device_label``).

Usage: PYTHONPATH=. python scripts/bench_gpu_kernels.py [--reps 7]
           [--out benchmarks/results/gpu-kernels-DATE.jsonl]
Exit status 2, with one line on stderr, where CuPy or a CUDA GPU is missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlmc_hpc.config import load_config
from mlmc_hpc.config.resolve import gpu_count
from mlmc_hpc.core.sums import Y1
from mlmc_hpc.models.cupy_sampler import (
    MAX_BLOCKS,
    MAX_GROUP,
    THREADS,
    CupyMilsteinSampler,
    device_label,
    launch_blocks,
    launch_plan,
)
from mlmc_hpc.models.gbm import milstein_factor

ROOT = Path(__file__).resolve().parents[1]
LOG2_TIMESTEPS = 30  # 2^30 fine timesteps (samples on level 0) per large batch
DEEP_LEVEL = 12
BACK_TO_BACK = 10  # level-12 batches per timing: their 0.1-1 ms would include launch latency
TINY_BATCHES = 2048  # host-floor batches through sample()
GROUPS = 32  # host-floor groups of MAX_GROUP batches through sample_many()


@dataclass(frozen=True)
class Expected:
    """A predicted range of one quantity (gpu_first_run.md, "Predicted speed on one H200")."""

    quantity: str  # "ms" (best time per batch), "timesteps/s" or "us/batch"
    low: float
    high: float

    def text(self) -> str:
        if self.low == 0.0:
            return f"<= {self.high:g} {self.quantity}"
        if self.quantity == "timesteps/s":
            return f"{self.low:.1e}-{self.high:.1e} /s".replace("e+", "e")
        return f"{self.low:g}-{self.high:g} {self.quantity}"

    def verdict(self, value: float) -> str:
        if value < self.low:
            return "below"
        return "above" if value > self.high else "in range"


ROOFLINE = Expected("timesteps/s", 2.0e11, 2.7e11)  # Philox normals/s: one normal, one step
LEVEL0 = Expected("ms", 5.1, 6.8)
COUPLED = Expected("timesteps/s", 1.6e11, 2.2e11)
DEEP = Expected("ms", 0.5, 0.9)  # one thread per sample; the warp kernel should beat it
DEEP_WARP = Expected("ms", 0.0, 0.9)
HOST_FLOOR = Expected("us/batch", 30.0, 60.0)  # one batch, one synchronisation
HOST_FLOOR_GROUPED = Expected("us/batch", 0.0, 60.0)  # 64 batches, one synchronisation


@dataclass
class Row:
    """One measured case: the table row and the JSON line."""

    case: str
    kernel: str
    level: int
    n: int
    timesteps: int  # fine timesteps of one repetition (n M^level; normals for the roofline)
    blocks: int
    reps: int
    best_s: float
    median_s: float
    timesteps_per_s: float  # from the best time
    expected: str
    verdict: str
    note: str = ""


def best_and_median(times: list[float]) -> tuple[float, float]:
    return min(times), statistics.median(times)


def event_seconds(
    cp: Any, launch: Callable[[], object], reps: int, back_to_back: int = 1
) -> list[float]:
    """GPU seconds per ``launch`` between two CUDA events, once untimed then ``reps`` times;
    ``back_to_back`` launches per timing (mean) hide the host's launch latency on short
    kernels, which a single launch between events would include."""
    start, end = cp.cuda.Event(), cp.cuda.Event()
    launch()
    cp.cuda.Device().synchronize()
    times = []
    for _ in range(reps):
        start.record()
        for _ in range(back_to_back):
            launch()
        end.record()
        end.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, end) / 1e3 / back_to_back)
    return times


def judged(row: Row, expected: Expected) -> Row:
    """The row with the expected range and the verdict on the quantity that range is in."""
    value = {"ms": row.best_s * 1e3, "timesteps/s": row.timesteps_per_s,
             "us/batch": row.best_s * 1e6}[expected.quantity]  # fmt: skip
    row.expected, row.verdict = expected.text(), expected.verdict(value)
    return row


def launch_coupled2(sampler: CupyMilsteinSampler, level: int, batch: int, n: int, out: Any) -> int:
    """Queue one level >= 1 batch on the one-thread-per-sample ``coupled2`` kernel whatever
    ``launch_plan`` says: the arguments ``CupyMilsteinSampler.launch`` builds for it."""
    o, cp, M = sampler.option, sampler.cupy, sampler.M
    h = o.T / M**level
    u, v, wf = milstein_factor(o, h)
    wc = milstein_factor(o, M * h)[2]
    doubles = (o.S0, u, v, wf, wc, sampler.a, sampler.b)
    args = (*(cp.float64(x) for x in doubles), cp.uint32(M ** (level - 1)), cp.uint32(level),
            cp.uint64(n), sampler.key, cp.uint64(batch), sampler.partials)  # fmt: skip
    blocks = launch_blocks(n)
    sampler.kernels["coupled2"]((blocks,), (THREADS,), args)
    sampler.reduce_into(blocks, out)
    return blocks


def batch_row(
    cp: Any, sampler: CupyMilsteinSampler, case: str, level: int, n: int, reps: int
) -> Row:
    """One batch of (level, n) as ``launch`` queues it, timed by CUDA events."""
    kernel, blocks = launch_plan(sampler.M, level, n)
    back_to_back = BACK_TO_BACK if level == DEEP_LEVEL else 1

    def launch() -> None:
        sampler.launch(level, 1, n, sampler.out[0])

    best, median = best_and_median(event_seconds(cp, launch, reps, back_to_back))
    steps = n * sampler.steps(level)
    note = f"mean of {back_to_back} back to back" if back_to_back > 1 else ""
    return Row(case, kernel, level, n, steps, blocks, reps, best, median, steps / best, "", "",
               note)  # fmt: skip


def measure(sampler: CupyMilsteinSampler, cp: Any, reps: int) -> list[Row]:
    """Every case of the module docstring, in order."""
    rows: list[Row] = []
    pairs = 4096  # normals_rate's default launch: 2 x 4096 normals per thread, 4096 blocks
    normals = 2 * pairs * MAX_BLOCKS * THREADS
    rates = [sampler.normals_rate(pairs, MAX_BLOCKS) for _ in range(reps)]
    best, median = best_and_median([normals / rate for rate in rates])
    roof = Row("roofline (Philox normals only)", "normals_only", 0, 0, normals, MAX_BLOCKS, reps,
               best, median, normals / best, "", "", "normals_rate(); normals/s")  # fmt: skip
    rows.append(judged(roof, ROOFLINE))

    rows.append(judged(batch_row(cp, sampler, "level 0, 2^30 samples", 0, 1 << 30, reps), LEVEL0))
    for level in (1, 4, 8):
        n = 1 << (LOG2_TIMESTEPS - level)
        row = batch_row(cp, sampler, f"level {level}, 2^30 timesteps", level, n, reps)
        rows.append(judged(row, COUPLED))
    for n in (17, 100):
        row = batch_row(cp, sampler, f"level {DEEP_LEVEL}, {n} samples", DEEP_LEVEL, n, reps)
        rows.append(judged(row, DEEP_WARP if row.kernel == "coupled2_warp" else DEEP))

    n = 100  # the same batch on the one-thread kernel, and how its sums compare
    blocks = launch_coupled2(sampler, DEEP_LEVEL, 1, n, sampler.out[1])

    def forced_launch() -> None:
        launch_coupled2(sampler, DEEP_LEVEL, 1, n, sampler.out[1])

    times = event_seconds(cp, forced_launch, reps, BACK_TO_BACK)
    planned = sampler.sample(DEEP_LEVEL, 1, n)  # launch_plan's kernel (warp), rows 0
    forced = sampler.out[1].get()
    difference = abs(float(forced[0]) / float(planned[Y1]) - 1.0) if planned[Y1] else 0.0
    best, median = best_and_median(times)
    steps = n * sampler.steps(DEEP_LEVEL)
    forced_row = Row(f"level {DEEP_LEVEL}, {n} samples, forced", "coupled2", DEEP_LEVEL, n,
                     steps, blocks, reps, best, median, steps / best, "", "",
                     f"mean of {BACK_TO_BACK} back to back; sum Y vs launch_plan's kernel: "
                     f"{difference:.1e} relative")  # fmt: skip
    rows.append(judged(forced_row, DEEP))

    rows.append(judged(host_floor_one_by_one(sampler, reps), HOST_FLOOR))
    rows.append(judged(host_floor_grouped(sampler, reps, MAX_GROUP), HOST_FLOOR_GROUPED))
    return rows


def host_floor_one_by_one(sampler: CupyMilsteinSampler, reps: int) -> Row:
    """Wall microseconds per tiny batch through ``sample`` (launch, reduce, one copy back)."""
    level, n = 1, 2
    times = []
    kernel_before = sampler.kernel_seconds
    for _ in range(reps):
        started = time.perf_counter()
        for batch in range(TINY_BATCHES):
            sampler.sample(level, batch, n)
        times.append((time.perf_counter() - started) / TINY_BATCHES)
    gpu = (sampler.kernel_seconds - kernel_before) / (reps * TINY_BATCHES)
    best, median = best_and_median(times)
    steps = n * sampler.steps(level)
    return Row(f"host floor: sample() x {TINY_BATCHES}", "coupled2", level, n, steps, 1, reps,
               best, median, steps / best, "", "",
               f"wall per batch; kernel_seconds {gpu * 1e6:.1f} us/batch")  # fmt: skip


def host_floor_grouped(sampler: CupyMilsteinSampler, reps: int, group: int) -> Row:
    """Wall microseconds per tiny batch through ``sample_many`` in groups of ``group``."""
    level, n = 1, 2
    tasks = [(level, batch, n) for batch in range(group)]
    times = []
    kernel_before = sampler.kernel_seconds
    for _ in range(reps):
        started = time.perf_counter()
        for _ in range(GROUPS):
            sampler.sample_many(tasks)
        times.append((time.perf_counter() - started) / (GROUPS * group))
    gpu = (sampler.kernel_seconds - kernel_before) / (reps * GROUPS * group)
    best, median = best_and_median(times)
    steps = n * sampler.steps(level)
    return Row(f"host floor: sample_many() groups of {group}", "coupled2", level, n, steps, 1,
               reps, best, median, steps / best, "", "",
               f"wall per batch; kernel_seconds {gpu * 1e6:.1f} us/batch")  # fmt: skip


def print_table(rows: list[Row], header: str) -> None:
    print(header)
    print(f"{'case':44} {'kernel':14} {'blocks':>6} {'best':>10} {'median':>10} "
          f"{'timesteps/s':>11}  {'expected (H200)':22} verdict")  # fmt: skip
    for r in rows:
        per_batch = r.case.startswith("host floor")
        best = f"{r.best_s * 1e6:8.1f}us" if per_batch else f"{r.best_s * 1e3:8.3f}ms"
        median = f"{r.median_s * 1e6:8.1f}us" if per_batch else f"{r.median_s * 1e3:8.3f}ms"
        print(f"{r.case:44} {r.kernel:14} {r.blocks:6d} {best:>10} {median:>10} "
              f"{r.timesteps_per_s:11.3e}  {r.expected:22} {r.verdict}"
              f"{'  # ' + r.note if r.note else ''}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="timed repetitions per case")
    parser.add_argument(
        "--out", default=f"benchmarks/results/gpu-kernels-{dt.date.today()}.jsonl",
        help="JSON lines file (appended; its folder is made)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.reps < 1:
        parser.error("--reps must be at least 1")

    if gpu_count() == 0:
        print("bench_gpu_kernels: needs CuPy and a CUDA GPU (none found)", file=sys.stderr)
        return 2
    import cupy

    option = load_config(ROOT / "configs/spy.yaml").option
    sampler = CupyMilsteinSampler(option, 2, 1)
    label = device_label(sampler.device_id)
    name = cupy.cuda.runtime.getDeviceProperties(sampler.device_id)["name"].decode()
    rows = measure(sampler, cupy, args.reps)

    print_table(rows, f"{label}; CuPy {cupy.__version__}; SPY, M = 2, seed 1")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().isoformat(timespec="seconds")
    with out.open("a") as stream:
        for row in rows:
            record = {"date": stamp, "device": label, "gpu_name": name,
                      "cupy_version": cupy.__version__, **asdict(row)}  # fmt: skip
            stream.write(json.dumps(record) + "\n")
    print(f"results appended to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
