#!/usr/bin/env python
"""Risk benchmark: the notebook's VaR case, its own loop against ``mlmc_hpc risk``.

The case is the source notebook's section 4 (preset ``notebook_var``): five correlated
stocks, $1,000,000, 10-day VaR and CVaR at 95% and 99%, daily arithmetic returns
compounded at constant weights, seed 42. Measured side by side in one run:

  * the notebook's own loop, re-implemented here as written (``simulate_portfolio_returns``:
    ``np.random.seed``, per scenario and day ``np.random.standard_normal(5)``, ``L @ Z``,
    ``np.dot(weights, ...)``, the cumulative product; 8 batches with seeds 0..7, run one
    after the other on one core), at 1e5 scenarios only (it takes seconds), with its VaR95,
    VaR99 and CVaR95 computed as the notebook does (``np.percentile``);
  * ours on one process, 1e5 and 1e7 scenarios: the command line (``python -m mlmc_hpc
    risk --config notebook_var --scenarios N --json --quiet``, a fresh interpreter each
    time) and the Python API in this process (``mlmc_hpc.risk("notebook_var",
    scenarios=N)``);
  * ours under ``mpiexec -n 3`` (one master, 2 workers), and for context ``mpiexec -n 2``
    (1 worker), at 1e5 and 1e7;
  * for context: the exact model (``--set risk.model=exact``) at 1e7 on one process, and
    ``--scenarios auto`` (rel_tol 0.005) on one process: how many scenarios it needs.

Every timed run is repeated (best of 3 by default, ``--repeats``; rounds interleaved so
that every run sees the same machine; each time column is its own minimum over the
repeats). Columns: ``ext s`` is the wall clock around the whole run as seen from here (for
the command line: the interpreter's start-up, imports, config, sampling, the HDF5 file;
for the API: the whole call; for the notebook: its loop); ``wall_time_s`` and
``sampling_s`` come from the result (``wall_time_s``: the run's own sampling phase, from
the first batch to the last merge; ``sampling_s``: the batches' compute time summed over
the workers, so under MPI it is CPU seconds, not wall). ``scen/s`` is scenarios /
wall_time_s (ext s for the notebook); ``% floor`` compares it with the header's floor
(NumPy SFC64 standard normals per second on this core, measured in this run) over 10
normals per scenario: the daily model without options draws one normal per day (5 per
scenario for the exact model). The header also runs the floor in two processes at once:
their aggregate over one process is what 2 workers can gain on this machine at that
moment (2.00 on two free cores; less when something else runs), and gives the load
average before and after.

Reading the ratios: ``x nb`` = our scenarios per second over the notebook loop's, per
core (both on one process); ``x nb ext`` the same from ext s (which for a 1e5 command
line run is mostly interpreter start-up). The speed-up of 2 workers over 1 is one
process's time over ``mpiexec -n 3``'s, from wall_time_s and from ext s (and, for context,
``mpiexec -n 2``'s over ``-n 3``'s). This machine has 2 cores: the master (which sleeps
while it waits for the workers) shares them with the 2 workers.

Checks: every run of ours with the same seed and batch size must give the same bits
whatever ran the batches: the script compares the VaR/CVaR values and their intervals
exactly, every repeat ("bit-identical: yes/no"). The notebook loop's VaR95, VaR99 and
CVaR95 are set beside ours with our 95% intervals (a 95% test per measure: the notebook's
fixed seeds are one draw of its estimator), and its model is then repeated over 20
independent seed sets (vectorised on the same legacy streams; set 0 reproduces the loop)
to tell a model difference (mean over the sets off ours) from the luck of its seeds (z of
set 0). The final block checks the issue's targets (at least 200x the notebook's loop per
core, as throughput at 1e7 and as the whole call at the notebook's 1e5; 1e7 scenarios in
under 5 s on one core; 2 workers at least 1.7x one) and prints PASS or MISS with the
measured number; a miss never changes the exit status.

Usage: python scripts/bench_risk.py [--quick] [--repeats 3] [--out FILE]
  --quick: the notebook loop at 1e4, ours at 1e5 and 1e6, one repeat, 5 seed sets (about
  15 s), no file unless --out is given; otherwise the text also goes to
  benchmarks/results/risk-<date>.txt (--out '' writes none).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's mlmc_hpc, as the subprocesses (cwd ROOT) use

import numpy as np  # noqa: E402
from benchkit import (  # noqa: E402
    Report,
    cpu_model,
    mpiexec,
    normal_floor,
    package_version,
    verdict,
)

import mlmc_hpc  # noqa: E402

PRESET = "notebook_var"
SIZES, QUICK_SIZES = (10**5, 10**7), (10**5, 10**6)
NOTEBOOK_SIZE, QUICK_NOTEBOOK_SIZE = 10**5, 10**4
NOTEBOOK_BATCHES = 8  # the notebook's n_batches, seeds 0..7
NOTEBOOK_SETS, QUICK_NOTEBOOK_SETS = 20, 5  # repetitions of the notebook's model, vectorised
NORMALS_PER_SCENARIO = {"daily": 10, "exact": 5}  # the notebook case: 10 days, 5 assets
MEASURE_KEYS = ("var_95", "cvar_95", "var_99", "cvar_99")
# The targets
TARGET_PER_CORE, TARGET_1E7_S, TARGET_SPEEDUP = 200.0, 5.0, 1.7

# ---------------------------------------------------------------------------------------
# The notebook's section 4, as written there (only the imports and the names differ)

NB_WEIGHTS = np.array([0.25, 0.20, 0.25, 0.15, 0.15])
NB_EXPECTED_RETURNS = np.array([0.12, 0.10, 0.11, 0.15, 0.20])
NB_VOLATILITIES = np.array([0.25, 0.22, 0.20, 0.30, 0.50])
NB_CORRELATION = np.array(
    [
        [1.0, 0.6, 0.7, 0.5, 0.3],
        [0.6, 1.0, 0.8, 0.6, 0.4],
        [0.7, 0.8, 1.0, 0.5, 0.3],
        [0.5, 0.6, 0.5, 1.0, 0.5],
        [0.3, 0.4, 0.3, 0.5, 1.0],
    ]
)
NB_COV = np.outer(NB_VOLATILITIES, NB_VOLATILITIES) * NB_CORRELATION
NB_VALUE = 1_000_000
NB_HORIZON = 10


def simulate_portfolio_returns(args: tuple[Any, ...]) -> np.ndarray:
    """The notebook's per-scenario loop: returns over the horizon of ``n_sims`` scenarios."""
    weights, expected_returns, cov_matrix, n_sims, time_horizon, seed = args
    np.random.seed(seed)
    n_assets = len(weights)
    daily_returns = expected_returns / 252
    daily_cov = cov_matrix / 252
    L = np.linalg.cholesky(daily_cov)
    portfolio_returns = np.zeros(n_sims)
    for sim in range(n_sims):
        cumulative_return = 1.0
        for _day in range(time_horizon):
            Z = np.random.standard_normal(n_assets)
            asset_returns = daily_returns + L @ Z
            portfolio_daily_return = np.dot(weights, asset_returns)
            cumulative_return *= 1 + portfolio_daily_return
        portfolio_returns[sim] = cumulative_return - 1
    return portfolio_returns


def notebook_run(total: int) -> tuple[float, dict[str, float]]:
    """The notebook's sequential execution (8 batches, seeds 0..7): seconds of the loop,
    and VaR95, VaR99, CVaR95 as the notebook computes them, as positive losses."""
    per_batch = total // NOTEBOOK_BATCHES
    batch_args = [
        (NB_WEIGHTS, NB_EXPECTED_RETURNS, NB_COV, per_batch, NB_HORIZON, seed)
        for seed in range(NOTEBOOK_BATCHES)
    ]
    start = time.perf_counter()
    returns = np.concatenate([simulate_portfolio_returns(args) for args in batch_args])
    seconds = time.perf_counter() - start
    return seconds, notebook_measures(returns)


def notebook_measures(returns: np.ndarray) -> dict[str, float]:
    """VaR95, VaR99, CVaR95 as the notebook computes them (np.percentile), as positive
    losses."""
    var_95 = np.percentile(returns, 5) * NB_VALUE
    var_99 = np.percentile(returns, 1) * NB_VALUE
    cvar_95 = returns[returns <= np.percentile(returns, 5)].mean() * NB_VALUE
    return {"var_95": -var_95, "var_99": -var_99, "cvar_95": -cvar_95}


def notebook_vectorised(n_sims: int, seed: int) -> np.ndarray:
    """The notebook's model for one batch, all scenarios at once: the same legacy stream
    (np.random.seed(seed), 5 normals per scenario and day in the loop's order), the same
    returns up to rounding."""
    np.random.seed(seed)
    L = np.linalg.cholesky(NB_COV / 252)
    Z = np.random.standard_normal((n_sims, NB_HORIZON, len(NB_WEIGHTS)))
    asset_returns = NB_EXPECTED_RETURNS / 252 + Z @ L.T
    return np.prod(1 + asset_returns @ NB_WEIGHTS, axis=1) - 1


def notebook_sets(total: int, sets: int) -> list[dict[str, float]]:
    """The notebook's estimates from ``sets`` independent repetitions of its run of
    ``total`` scenarios (set s: batches with seeds 8 s .. 8 s + 7; set 0 is the notebook's)."""
    per_batch = total // NOTEBOOK_BATCHES
    found = []
    for s in range(sets):
        seeds = range(NOTEBOOK_BATCHES * s, NOTEBOOK_BATCHES * (s + 1))
        found.append(
            notebook_measures(np.concatenate([notebook_vectorised(per_batch, k) for k in seeds]))
        )
    return found


# ---------------------------------------------------------------------------------------


@dataclass
class Runs:
    """The repeats of one kind of run: times per repeat and the last result's numbers."""

    label: str
    scenarios: int
    model: str = "daily"
    ext: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    sampling: list[float] = field(default_factory=list)
    measures: list[dict[str, Any]] = field(default_factory=list)  # one per repeat
    summary: dict[str, Any] = field(default_factory=dict)  # the last JSON / API facts

    def add(self, ext: float, summary: dict[str, Any]) -> None:
        """Record one repeat from its external wall clock and its summary."""
        self.ext.append(ext)
        self.wall.append(float(summary.get("wall_time_s", ext)))
        self.sampling.append(float(summary.get("sampling_s", math.nan)))
        self.measures.append({k: v for k, v in summary.items() if k.startswith(("var_", "cvar_"))})
        self.summary = summary

    @property
    def best_ext(self) -> float:
        """Smallest external wall clock over the repeats."""
        return min(self.ext)

    @property
    def best_wall(self) -> float:
        """Smallest wall_time_s over the repeats."""
        return min(self.wall)

    @property
    def best_sampling(self) -> float:
        """Smallest sampling_s over the repeats."""
        return min(self.sampling)

    @property
    def rate(self) -> float:
        """Scenarios per second from the best wall_time_s."""
        return self.scenarios / self.best_wall


def git(folder: Path, *words: str) -> str:
    """A git command's output in ``folder``."""
    done = subprocess.run(["git", *words], capture_output=True, text=True, cwd=folder, check=True)
    return done.stdout.strip()


def source_state() -> str:
    """Where the imported mlmc_hpc lives, its checkout's commit, and whether files under
    mlmc_hpc/ differ from it."""
    package = Path(mlmc_hpc.__file__).resolve().parent
    try:
        head = git(package, "rev-parse", "--short", "HEAD")
        changed = git(package, "status", "--porcelain", "--", ".").splitlines()
    except (OSError, subprocess.CalledProcessError):
        return f"{package} (not a git checkout)"
    state = f"{len(changed)} files under mlmc_hpc/ modified" if changed else "clean"
    return f"{package} at {head} ({state})"


class CpuMeter:
    """CPU seconds spent on the whole machine (/proc/stat) and by this process and its
    waited-for children (the CLI and mpiexec runs) since construction: the difference is
    what other processes took from the 2 cores while the benchmark ran."""

    def __init__(self) -> None:
        self.wall0, self.machine0, self.mine0 = time.perf_counter(), self.machine(), self.mine()

    @staticmethod
    def machine() -> float:
        """Busy CPU seconds of the machine so far (NaN where /proc/stat is missing)."""
        try:
            with open("/proc/stat") as handle:
                fields = [int(x) for x in handle.readline().split()[1:]]
        except (OSError, ValueError):
            return math.nan
        busy = sum(fields[:8]) - fields[3] - fields[4]  # all but idle and iowait
        return busy / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def mine() -> float:
        """CPU seconds of this process and its finished children."""
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def line(self) -> str:
        """Other processes' CPU seconds since construction, of the cores' seconds."""
        wall = time.perf_counter() - self.wall0
        others = (self.machine() - self.machine0) - (self.mine() - self.mine0)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        return (
            f"other processes used {max(others, 0.0):.1f} CPU s of the {cores} cores' "
            f"{cores * wall:.1f} s during the run ({100 * max(others, 0.0) / (cores * wall):.0f}%; "
            "near 0 for clean timings)"
        )


def load() -> str:
    """The 1-minute load average (other processes on the 2 cores skew every timing)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def _floor_job(_: int) -> float:
    return normal_floor()


def parallel_floor() -> float:
    """Aggregate normals/s of two processes running the floor at once, over one process's:
    what this machine allows 2 workers at best (2.0 on two free cores)."""
    import multiprocessing

    one = normal_floor()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        two = pool.map(_floor_job, [0, 1])
    return sum(two) / one


def mpi_version() -> str:
    """The MPI library's version line, or why there is none."""
    try:
        from mpi4py import MPI

        return MPI.Get_library_version().splitlines()[0].strip()
    except Exception as exc:  # a benchmark header reports and goes on
        return f"mpi4py unavailable ({type(exc).__name__})"


def cli_run(
    scenarios: int | str, output: Path, ranks: int = 0, extra: Sequence[str] = ()
) -> tuple[float, dict[str, Any]]:
    """One ``python -m mlmc_hpc risk`` run (under ``mpiexec -n ranks`` when ranks > 0):
    the external wall clock and the --json summary."""
    command = [sys.executable, "-m", "mlmc_hpc", "risk", "--config", PRESET]
    command += ["--scenarios", str(scenarios), "--json", "--quiet", "--overwrite"]
    command += ["--output", str(output), *extra]
    if ranks:
        command = [mpiexec(), "-n", str(ranks), *command]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout.strip().splitlines()[-1])


def api_run(scenarios: int) -> tuple[float, dict[str, Any]]:
    """One ``mlmc_hpc.risk`` call in this process: its wall clock and the JSON's facts."""
    start = time.perf_counter()
    result = mlmc_hpc.risk(PRESET, scenarios=scenarios)
    seconds = time.perf_counter() - start
    summary: dict[str, Any] = {}
    for key, value in result.measures.items():
        summary[key] = [float(x) for x in value] if key.endswith("_ci95") else float(value)
    summary.update(
        wall_time_s=result.wall_time_s,
        sampling_s=result.sampling_s,
        scenarios=result.scenarios,
        n_workers=result.n_workers,
        converged=result.converged,
    )
    return seconds, summary


def fmt(seconds: float) -> str:
    """Seconds with three decimals, or "-" for NaN."""
    return "-" if math.isnan(seconds) else f"{seconds:.3f}"


def row(runs: Runs, notebook_rate: float, floor: float) -> str:
    """One timing table line."""
    per = NORMALS_PER_SCENARIO[runs.model]
    share = 100.0 * runs.rate * per / floor
    x_nb = runs.rate / notebook_rate
    x_ext = runs.scenarios / runs.best_ext / notebook_rate
    sampling = runs.best_sampling if runs.sampling else math.nan
    return (
        f"{runs.label:32} {runs.scenarios:9.0e} {fmt(runs.best_ext):>8} "
        f"{fmt(runs.best_wall):>11} {fmt(sampling):>10} {runs.rate:9.3e} {share:7.1f} "
        f"{x_nb:8.1f} {x_ext:8.1f}"
    )


def header(report: Report, args: argparse.Namespace, floor: float, parallel: float) -> None:
    """Date, host, CPU, versions, the run's parameters and the normal floor."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 0
    report(
        f"# bench_risk.py  {dt.datetime.now().isoformat(timespec='seconds')}  "
        f"host {platform.node()}  {cpu_model()}  ({cores} cores visible)"
    )
    report(
        f"# python {platform.python_version()}  numpy {np.__version__}  "
        f"scipy {package_version('scipy')}  mpi4py {package_version('mpi4py')}  "
        f"mlmc_hpc {mlmc_hpc.__version__}  OPENBLAS_NUM_THREADS="
        f"{os.environ.get('OPENBLAS_NUM_THREADS')}"
    )
    report(f"# MPI: {mpi_version()}  ({mpiexec()})")
    report(f"# mlmc_hpc from {source_state()}; load average before the run {load()}")
    report(
        f"# floor: {floor:.3e} NumPy SFC64 standard normals/s on this core "
        f"(2**24 normals into a 2**16 buffer, best of 3) = {floor / 10:.3e} scenarios/s of "
        f"the daily model (10 normals each); 2 processes at once: {parallel:.2f}x one "
        "(the best 2 workers can do on this machine now; 2.00 on two free cores)"
    )
    sizes = ", ".join(f"{n:.0e}" for n in args.sizes)
    report(
        f"# preset {PRESET} (seed 42, batch_scenarios 65536); notebook loop at "
        f"{args.notebook_size:.0e}, ours at {sizes}; best of {args.repeats} per column, "
        f"rounds interleaved{'  (--quick)' if args.quick else ''}"
    )
    report(
        "# ext s: wall clock around the whole run from here (CLI: interpreter start-up "
        "included); wall_time_s / sampling_s: from the result (sampling_s summed over "
        "workers); scen/s: scenarios / wall_time_s; % floor: scen/s x normals per scenario "
        "/ floor; x nb: scen/s over the notebook loop's (per core); x nb ext: the same from "
        "ext s"
    )


def identical(groups: Sequence[Runs]) -> tuple[bool, list[str]]:
    """Whether every repeat of every run gave the same VaR/CVaR values and intervals, bit
    for bit; the labels that differ from the first."""
    reference = groups[0].measures[0]
    differ = []
    for runs in groups:
        if any(m != reference for m in runs.measures):
            differ.append(runs.label)
    return not differ, differ


def agreement(
    report: Report,
    notebook: dict[str, float],
    size: int,
    small: dict[str, Any],
    large: dict[str, Any],
) -> bool:
    """The notebook's estimates (from ``size`` scenarios) beside ours at the smaller and the
    larger size; whether each agrees with ours (see the printed rule)."""
    scale = math.sqrt(small["scenarios"] / size)
    report()
    report(
        f"# the notebook's estimates (its loop, {size:.0e} scenarios, np.percentile) beside "
        f"ours at {small['scenarios']:.0e} and {large['scenarios']:.0e}; in CI: the notebook's "
        "value inside our interval at the smaller size; agree: |notebook - ours at the "
        "larger size| <= allowed = root sum of squares of our 95% half-width at the larger "
        "size and our half-width at the smaller size"
        + ("" if scale == 1.0 else f" x {scale:.3g} (scaled to {size:.0e} scenarios)")
        + ", which stands for the notebook's own sampling error: a 95% test per measure"
    )
    report(
        f"{'measure':8} {'notebook':>10} {'ours small':>10} {'95% CI':>21} {'in CI':>5} "
        f"{'ours large':>10} {'95% CI':>21} {'nb - large':>10} {'allowed':>8} {'agree':>5}"
    )
    agree_all = True
    for key in ("var_95", "var_99", "cvar_95"):
        value = notebook[key]
        lo_s, hi_s = small[f"{key}_ci95"]
        lo_l, hi_l = large[f"{key}_ci95"]
        half_s, half_l = (hi_s - lo_s) / 2, (hi_l - lo_l) / 2
        allowed = math.hypot(half_s * scale, half_l)
        gap = value - large[key]
        agree = abs(gap) <= allowed
        agree_all &= agree
        inside = lo_s <= value <= hi_s
        report(
            f"{key:8} {value:10,.0f} {small[key]:10,.0f} [{lo_s:9,.0f},{hi_s:9,.0f}] "
            f"{'yes' if inside else 'no':>5} {large[key]:10,.0f} [{lo_l:9,.0f},{hi_l:9,.0f}] "
            f"{gap:+10,.0f} {allowed:8,.0f} {'yes' if agree else 'NO':>5}"
        )
    return agree_all


def model_check(
    report: Report,
    loop: dict[str, float],
    sets: list[dict[str, float]],
    size: int,
    large: dict[str, Any],
) -> bool:
    """The notebook's estimator repeated over independent seed sets (vectorised, same
    streams): its mean against ours (same model?) and where the notebook's own seeds fall
    in its spread (luck?)."""
    report()
    report(
        f"# the notebook's model repeated: {len(sets)} seed sets of {size:.0e} scenarios "
        "(set s = its 8 batches with seeds 8s..8s+7, set 0 = the notebook's own), vectorised "
        "on the same legacy streams; same model: |mean over sets - ours at the larger size| "
        "<= 1.96 x the mean's standard error (+) our 95% half-width; z of set 0 = (set 0 - "
        "mean) / sd over the sets"
    )
    report(
        f"{'measure':8} {'set 0':>10} {'loop':>10} {'mean':>10} {'sd':>7} {'z set 0':>7} "
        f"{'ours large':>10} {'mean - ours':>11} {'allowed':>8} {'same model':>10}"
    )
    same_all = True
    zs = []
    for key in ("var_95", "var_99", "cvar_95"):
        values = np.array([found[key] for found in sets])
        mean, sd = float(values.mean()), float(values.std(ddof=1))
        lo, hi = large[f"{key}_ci95"]
        allowed = math.hypot(1.959963984540054 * sd / math.sqrt(len(values)), (hi - lo) / 2)
        gap = mean - large[key]
        same = abs(gap) <= allowed
        same_all &= same
        report(
            f"{key:8} {values[0]:10,.0f} {loop[key]:10,.0f} {mean:10,.0f} {sd:7,.0f} "
            f"{(values[0] - mean) / sd:+7.2f} {large[key]:10,.0f} {gap:+11,.0f} "
            f"{allowed:8,.0f} {'yes' if same else 'NO':>10}"
        )
        zs.append((values[0] - mean) / sd)
    worst = max(zs, key=abs)
    report(
        f"# reading: the notebook's own seeds (set 0) lie up to {worst:+.2f} sd from its "
        f"estimator's mean; the mean over the sets {'matches' if same_all else 'DIFFERS from'} "
        "ours, so a difference between the loop's numbers and ours is "
        + ("the luck of its seeds, not the model" if same_all else "a model difference")
    )
    return same_all


def repeat(
    rounds: int, jobs: Sequence[tuple[Runs, Callable[[], tuple[float, dict[str, Any]]]]]
) -> None:
    """Run every job once per round, in order (interleaved), recording into its Runs."""
    for _ in range(rounds):
        for runs, job in jobs:
            runs.add(*job())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e4 / 1e5 / 1e6, one repeat")
    parser.add_argument("--repeats", type=int, default=None, help="default 3 (1 with --quick)")
    parser.add_argument(
        "--out",
        default=None,
        help="also write the text here (default: benchmarks/results/"
        "risk-<date>.txt unless --quick; '' for no file)",
    )
    args = parser.parse_args()
    args.sizes = QUICK_SIZES if args.quick else SIZES
    args.notebook_size = QUICK_NOTEBOOK_SIZE if args.quick else NOTEBOOK_SIZE
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.notebook_sets = QUICK_NOTEBOOK_SETS if args.quick else NOTEBOOK_SETS
    out = args.out
    if out is None and not args.quick:
        out = f"benchmarks/results/risk-{dt.date.today()}.txt"

    report = Report()
    meter = CpuMeter()
    floor = normal_floor()
    header(report, args, floor, parallel_floor())
    small, large = args.sizes
    with tempfile.TemporaryDirectory(prefix="bench_risk_") as folder:
        tmp = Path(folder)
        # warm-up, untimed: imports in this process, the page cache for the subprocesses
        api_run(small)
        cli_run(small, tmp / "warm.h5")
        cli_run(small, tmp / "warm.h5", ranks=3)

        notebook = Runs("notebook loop, 1 process", args.notebook_size)
        nb_measures: dict[str, float] = {}

        def notebook_job() -> tuple[float, dict[str, Any]]:
            seconds, found = notebook_run(args.notebook_size)
            nb_measures.update(found)
            return seconds, {}

        repeat(args.repeats, [(notebook, notebook_job)])
        nb_sets = notebook_sets(args.notebook_size, args.notebook_sets)

        ours: dict[tuple[str, int], Runs] = {}
        jobs: list[tuple[Runs, Callable[[], tuple[float, dict[str, Any]]]]] = []
        for n in args.sizes:
            kinds: list[tuple[str, str, Callable[[], tuple[float, dict[str, Any]]]]] = [
                ("cli", "ours CLI, 1 process", lambda n=n: cli_run(n, tmp / f"cli{n}.h5")),
                ("api", "ours API, in this process", lambda n=n: api_run(n)),
                (
                    "mpi1",
                    "ours mpiexec -n 2 (1 worker)",
                    lambda n=n: cli_run(n, tmp / f"mpi1_{n}.h5", ranks=2),
                ),
                (
                    "mpi2",
                    "ours mpiexec -n 3 (2 workers)",
                    lambda n=n: cli_run(n, tmp / f"mpi2_{n}.h5", ranks=3),
                ),
            ]
            for key, label, job in kinds:
                ours[(key, n)] = Runs(label, n)
                jobs.append((ours[(key, n)], job))
        exact = Runs("ours CLI exact model, 1 process", large, model="exact")
        jobs.append(
            (exact, lambda: cli_run(large, tmp / "exact.h5", extra=("--set", "risk.model=exact")))
        )
        auto = Runs("ours CLI --scenarios auto, 1 proc", 0)
        jobs.append((auto, lambda: cli_run("auto", tmp / "auto.h5")))
        repeat(args.repeats, jobs)
        auto.scenarios = int(auto.summary["scenarios"])

    nb_rate = notebook.scenarios / notebook.best_ext
    report()
    report(f"# timings (best of {args.repeats}; notebook_var, daily model unless said otherwise)")
    report(
        f"{'run':32} {'scenarios':>9} {'ext s':>8} {'wall_time_s':>11} {'sampling_s':>10} "
        f"{'scen/s':>9} {'% floor':>7} {'x nb':>8} {'x nb ext':>8}"
    )
    report(row(notebook, nb_rate, floor))
    for n in args.sizes:
        for key in ("cli", "api", "mpi1", "mpi2"):
            report(row(ours[(key, n)], nb_rate, floor))
    report(row(exact, nb_rate, floor))
    report(row(auto, nb_rate, floor))
    report(
        f"# auto: {auto.scenarios:,} scenarios for every 95% half-width within rel_tol "
        f"{auto.summary['rel_tol']:g} (converged {auto.summary['converged']}); exact model "
        f"at {large:.0e}: VaR95 {exact.summary['var_95']:,.0f}, CVaR95 "
        f"{exact.summary['cvar_95']:,.0f}, VaR99 {exact.summary['var_99']:,.0f} (buy and "
        "hold under GBM: not the notebook's model, so its numbers differ a little)"
    )

    report()
    report("# speed-up of 2 workers (mpiexec -n 3) over one process, and over 1 worker")
    report(
        f"{'scenarios':>9} {'1 proc wall':>11} {'2 wkr wall':>10} {'x wall':>6} "
        f"{'1 proc ext':>10} {'2 wkr ext':>9} {'x ext':>6} {'x wall vs -n 2':>14} "
        f"{'x ext vs -n 2':>13}"
    )
    speedups: dict[int, tuple[float, float]] = {}
    for n in args.sizes:
        one, two, mpi1 = ours[("cli", n)], ours[("mpi2", n)], ours[("mpi1", n)]
        by_wall, by_ext = one.best_wall / two.best_wall, one.best_ext / two.best_ext
        speedups[n] = (by_wall, by_ext)
        report(
            f"{n:9.0e} {one.best_wall:11.3f} {two.best_wall:10.3f} {by_wall:6.2f} "
            f"{one.best_ext:10.3f} {two.best_ext:9.3f} {by_ext:6.2f} "
            f"{mpi1.best_wall / two.best_wall:14.2f} {mpi1.best_ext / two.best_ext:13.2f}"
        )
    report(
        "# 2 cores: the master rank shares them with the 2 workers (it sleeps while it waits); "
        "sampling_s under MPI is summed over the workers"
    )

    report()
    report("# same seed and batch size, whatever ran the batches (every repeat compared)")
    for n in args.sizes:
        groups = [ours[(key, n)] for key in ("cli", "api", "mpi1", "mpi2")]
        same, differ = identical(groups)
        reference = groups[0].measures[0]
        values = ", ".join(f"{k} {reference[k]!r}" for k in MEASURE_KEYS)
        report(
            f"{n:.0e}: bit-identical: {'yes' if same else 'no'} (CLI 1 process, API, "
            f"mpiexec -n 2, -n 3; values and 95% CIs){'' if same else ' differ: ' + str(differ)}"
        )
        report(f"#   {values}")

    agree = agreement(
        report,
        nb_measures,
        args.notebook_size,
        ours[("api", small)].summary,
        ours[("api", large)].summary,
    )
    same_model = model_check(
        report, nb_measures, nb_sets, args.notebook_size, ours[("api", large)].summary
    )

    report()
    suffix = f"  (--quick: {large:.0e}, not 1e7)" if args.quick else ""
    report("# targets (one CPU core unless said; the machine has 2)")
    api_small, api_large = ours[("api", small)], ours[("api", large)]
    cli_small, cli_large = ours[("cli", small)], ours[("cli", large)]
    per_core = large / api_large.best_ext / nb_rate
    report(
        f"{f'per core >= {TARGET_PER_CORE:g}x the loop, at {large:.0e}':44} "
        f"{verdict(per_core >= TARGET_PER_CORE)}  {per_core:.0f}x (throughput of the whole "
        f"API call, {api_large.best_ext:.3f} s, over the loop's, {notebook.best_ext:.2f} s "
        f"for {notebook.scenarios:.0e}); CLI wall_time_s {cli_large.rate / nb_rate:.0f}x, "
        f"CLI ext incl. start-up {large / cli_large.best_ext / nb_rate:.0f}x{suffix}"
    )
    at_small = small / api_small.best_ext / nb_rate
    report(
        f"{f'per core >= {TARGET_PER_CORE:g}x the loop, at {small:.0e}':44} "
        f"{verdict(at_small >= TARGET_PER_CORE)}  {at_small:.0f}x (the whole API call, "
        f"{1e3 * api_small.best_ext:.1f} ms, of which wall_time_s "
        f"{1e3 * api_small.best_wall:.1f} ms = {api_small.rate / nb_rate:.0f}x); CLI incl. "
        f"start-up {small / cli_small.best_ext / nb_rate:.0f}x"
    )
    report(
        f"{f'{large:.0e} scenarios on one core < {TARGET_1E7_S:g} s':44} "
        f"{verdict(cli_large.best_ext < TARGET_1E7_S)}  {cli_large.best_ext:.2f} s (CLI, "
        f"ext wall incl. start-up and the HDF5 file); wall_time_s {cli_large.best_wall:.2f} s, "
        f"API call {api_large.best_ext:.2f} s{suffix}"
    )
    by_wall, by_ext = speedups[large]
    report(
        f"{f'2 workers >= {TARGET_SPEEDUP:g}x one process':44} "
        f"{verdict(by_wall >= TARGET_SPEEDUP)}  {by_wall:.2f}x from wall_time_s "
        f"({cli_large.best_wall:.3f} / {ours[('mpi2', large)].best_wall:.3f} s at "
        f"{large:.0e}); {by_ext:.2f}x from ext wall{suffix}"
    )
    same_all = all(
        identical([ours[(key, n)] for key in ("cli", "api", "mpi1", "mpi2")])[0] for n in args.sizes
    )
    report(
        f"# bit-identical across 1 process / API / MPI: {'yes' if same_all else 'NO'}; the "
        f"notebook's VaR95/VaR99/CVaR95 agree with ours: {'yes' if agree else 'NO'}; its "
        f"model over {len(nb_sets)} seed sets agrees with ours: {'yes' if same_model else 'NO'}"
    )
    report(f"# load average after the run {load()}; {meter.line()}")
    if out:
        report.save(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
