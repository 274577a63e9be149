#!/usr/bin/env python
"""Level 0 benchmark: ``mlmc.level0`` sample, exact and control side by side in one process.

Level 0 of MLMC is one Milstein step of length T. Sampled (``sample``, Giles' code and
mlmc_hpc <= 0.3) it takes about 90% of all timesteps; ``exact`` computes its expectation
in closed form or by quadrature (no samples); ``control`` samples it with the exact-GBM
payoff on the same normals as a control variate. Measured here, in one NumPy process on
the serial executor (``run.backend=numpy``), every mode with the same seed, interleaved
per case so that all three see the same machine:

  * the study's nine cases (AAPL, TSLA, SPY at eps 0.005, 0.0025, 0.001);
  * every path-dependent type at Giles' parameters (S0 = K = 100, T = 1, r = 0.05,
    sigma = 0.2): arithmetic and geometric Asian, lookback, digital, barrier B = 85,
    at eps 0.01.

Per run: finest level L, total timesteps (the work: one normal per fine timestep), the
share of them on level 0, wall seconds of the whole ``mlmc_hpc.price`` call (config,
level-0 quadrature and sampling), timesteps per second, price, error against the closed
form in units of eps ("-" where there is none: the arithmetic Asian), converged, and how
many RuntimeWarnings the run gave (suppressed; listed once at the end).

Reading the ratios: on the exact and control rows, ``x steps`` = timesteps of ``sample``
/ timesteps of this mode and ``x time`` = wall seconds of ``sample`` / wall seconds of
this mode, both on the same case in this run; above 1 means less work / faster than
sampling level 0. The header's floor (NumPy SFC64 standard normals per second on this
core) bounds timesteps per second of a sampled run. The final block checks the issue's
targets on one core (SPY eps 0.001 exact in under 3 s with at most 1e8 timesteps,
European work ratio >= 50, path-dependent >= 5) and prints PASS or MISS with the measured
number; a miss never changes the exit status.

Usage: python scripts/bench_level0.py [--quick] [--seed 1] [--out FILE]
  --quick: eps 0.005 for the study cases and 0.05 for the path types (under a minute),
  no file unless --out is given; otherwise the text also goes to
  benchmarks/results/level0-<date>.txt (--out '' writes none).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from benchkit import Report, cpu_model, normal_floor, package_version, verdict  # noqa: E402

import mlmc_hpc  # noqa: E402

MODES = ("sample", "exact", "control")
PRESETS = ("aapl", "tsla", "spy")
STUDY_EPS = (0.005, 0.0025, 0.001)
QUICK_STUDY_EPS = (0.005,)
PATH_EPS, QUICK_PATH_EPS = 0.01, 0.05
# (label, overrides) of the path-dependent types, on the packaged defaults (S0 = K = 100)
PATH_TYPES: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = (
    ("asian arith", (("option.type", "asian"),)),
    ("asian geom", (("option.type", "asian"), ("option.average", "geometric"))),
    ("lookback", (("option.type", "lookback"),)),
    ("digital", (("option.type", "digital"),)),
    ("barrier B=85", (("option.type", "barrier"), ("option.barrier", 85.0))),
)
# The targets on one CPU core
TARGET_CASE = ("spy", 0.001)
TARGET_WALL_S, TARGET_TIMESTEPS = 3.0, 1e8
TARGET_EUROPEAN_RATIO, TARGET_PATH_RATIO = 50.0, 5.0
STUDY_CPP_S, STUDY_CUDA_S = 314.0, 1.8  # SPY eps 0.001: sequential C++, one RTX 2080


@dataclass
class Measurement:
    """One ``mlmc_hpc.price`` call: what the tables print."""

    case: str
    mode: str
    eps: float
    seconds: float
    timesteps: int = 0
    level0_timesteps: int = 0
    L: int = -1
    price: float = math.nan
    reference: float = math.nan
    converged: bool = False
    level0_method: str = ""
    warnings: list[str] = field(default_factory=list)
    failure: str = ""  # the exception, when the call raised

    @property
    def label(self) -> str:
        """``case mode`` for footnotes and the targets block."""
        return f"{self.case} {self.mode}"

    @property
    def error_eps(self) -> float:
        """(price - closed form) / eps; NaN without a closed form or after a failure."""
        return (self.price - self.reference) / self.eps


def measure(
    case: str,
    preset: str | None,
    overrides: Sequence[tuple[str, Any]],
    eps: float,
    mode: str,
    seed: int,
) -> Measurement:
    """Price one case in one level-0 mode in this process; warnings recorded, not shown."""
    pairs = [
        *overrides,
        ("mlmc.eps", eps),
        ("mlmc.level0", mode),
        ("run.backend", "numpy"),
        ("run.seed", seed),
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.perf_counter()
        try:
            result = mlmc_hpc.price(preset, overrides=pairs)
        except Exception as exc:  # a benchmark reports a failure and goes on
            seconds = time.perf_counter() - started
            failure = f"{type(exc).__name__}: {exc}"
            return Measurement(case, mode, eps, seconds, failure=" / ".join(failure.splitlines()))
        seconds = time.perf_counter() - started
    steps = np.asarray(result.levels.get("timesteps", [0]))
    messages = [
        f"{w.category.__name__}: " + " / ".join(str(w.message).splitlines()) for w in caught
    ]
    return Measurement(
        case,
        mode,
        eps,
        seconds,
        timesteps=result.total_timesteps,
        level0_timesteps=int(steps[0]) if steps.size else 0,
        L=result.L,
        price=result.price,
        reference=result.reference_price,
        converged=bool(result.converged),
        level0_method=result.level0_method,
        warnings=messages,
    )


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator; inf for a zero denominator."""
    return numerator / denominator if denominator > 0 else math.inf


def row(run: Measurement, base: Measurement | None) -> str:
    """One table line; ``base`` is the same case's sample run (None on the sample row)."""
    if run.failure:
        return f"{run.case:18} {run.mode:7} FAILED after {run.seconds:.2f} s: {run.failure}"
    share = 100.0 * run.level0_timesteps / run.timesteps if run.timesteps else 0.0
    rate = run.timesteps / run.seconds if run.seconds > 0 else math.nan
    error = "-" if math.isnan(run.error_eps) else f"{run.error_eps:+.2f}"
    ratios = ""
    if base is not None and not base.failure:
        ratios = (
            f"{ratio(base.timesteps, run.timesteps):8.1f} {ratio(base.seconds, run.seconds):7.2f}"
        )
    line = (
        f"{run.case:18} {run.mode:7} {run.L:3d} {run.timesteps:10.3e} {share:5.1f} "
        f"{run.seconds:8.3f} {rate:9.2e} {run.price:12.6f} {error:>7} "
        f"{'yes' if run.converged else 'NO':>4} {len(run.warnings):4d} {ratios}"
    )
    return line.rstrip()


def table(
    report: Report,
    title: str,
    cases: Sequence[tuple[str, str | None, Sequence[tuple[str, Any]], float]],
    seed: int,
) -> list[list[Measurement]]:
    """Run every case in every mode (interleaved), printing rows as they finish."""
    report()
    report(f"# {title}")
    report(
        f"{'case':18} {'mode':7} {'L':>3} {'timesteps':>10} {'l0 %':>5} {'wall s':>8} "
        f"{'steps/s':>9} {'price':>12} {'err/eps':>7} {'conv':>4} {'warn':>4} "
        f"{'x steps':>8} {'x time':>7}"
    )
    runs = []
    for case, preset, overrides, eps in cases:
        group = [measure(case, preset, overrides, eps, mode, seed) for mode in MODES]
        for run in group:
            report(row(run, None if run.mode == "sample" else group[0]))
        runs.append(group)
    return runs


def min_ratio(runs: list[list[Measurement]], mode: str) -> tuple[float, float, str]:
    """Smallest sample/mode ratio of timesteps over the cases, the smallest of wall time,
    and the case of the first; NaN when no case has both runs."""
    best: tuple[float, float, str] = (math.nan, math.nan, "no case")
    steps, walls = [], []
    for group in runs:
        base, run = group[0], group[MODES.index(mode)]
        if base.failure or run.failure:
            continue
        steps.append((ratio(base.timesteps, run.timesteps), run.case))
        walls.append(ratio(base.seconds, run.seconds))
    if steps:
        low = min(steps)
        best = (low[0], min(walls), low[1])
    return best


def targets(
    report: Report,
    european: list[list[Measurement]],
    paths: list[list[Measurement]],
    quick: bool,
) -> None:
    """The issue's targets as PASS/MISS lines with the measured numbers, then sanity notes."""
    report()
    report("# targets (one CPU core; exact is the default mode)")
    case, eps = TARGET_CASE
    target = next(
        (g[MODES.index("exact")] for g in european if g[0].case == f"{case} {eps:g}"), None
    )
    name = f"{case.upper()} eps {eps:g} exact"
    if target is None:
        skipped = "SKIP  not run (--quick)" if quick else "SKIP  not run"
        report(f"{name + f' wall < {TARGET_WALL_S:g} s':44} {skipped}")
        report(f"{name + f' timesteps <= {TARGET_TIMESTEPS:.0e}':44} {skipped}")
    elif target.failure:
        report(f"{name + ' ':44} MISS  failed: {target.failure}")
    else:
        note = "" if target.converged else "  (NOT converged)"
        report(
            f"{name + f' wall < {TARGET_WALL_S:g} s':44} "
            f"{verdict(target.seconds < TARGET_WALL_S)}  {target.seconds:.2f} s  (study: "
            f"sequential C++ {STUDY_CPP_S:g} s = {STUDY_CPP_S / target.seconds:.0f}x this, "
            f"CUDA on one RTX 2080 ~{STUDY_CUDA_S:g} s){note}"
        )
        report(
            f"{name + f' timesteps <= {TARGET_TIMESTEPS:.0e}':44} "
            f"{verdict(target.timesteps <= TARGET_TIMESTEPS)}  "
            f"{target.timesteps:.3e}{note}"
        )
    suffix = "  (--quick eps)" if quick else ""
    for label, runs, goal in (
        ("European", european, TARGET_EUROPEAN_RATIO),
        ("path-dependent", paths, TARGET_PATH_RATIO),
    ):
        steps, wall, where = min_ratio(runs, "exact")
        c_steps, c_wall, c_where = min_ratio(runs, "control")
        report(
            f"{f'{label} work sample/exact min >= {goal:g}':44} "
            f"{verdict(steps >= goal)}  {steps:.1f} ({where}); wall ratio min {wall:.1f}; "
            f"control: work min {c_steps:.1f} ({c_where}), wall min {c_wall:.1f}{suffix}"
        )
        each = [
            f"{g[0].case} {ratio(g[0].timesteps, g[1].timesteps):.1f}"
            for g in runs
            if not (g[0].failure or g[1].failure)
        ]
        report(f"#   sample/exact work per case: {', '.join(each) or 'none'}")
    everything = [run for group in european + paths for run in group]
    checked = [run for run in everything if not run.failure and not math.isnan(run.error_eps)]
    if checked:
        worst = max(checked, key=lambda run: abs(run.error_eps))
        flag = "  (more than 3 eps off)" if abs(worst.error_eps) > 3 else ""
        report(
            f"# largest |error| against a closed form: {abs(worst.error_eps):.2f} eps "
            f"({worst.label}); {len(checked)} runs checked{flag}"
        )
    unconverged = [run.label for run in everything if not run.failure and not run.converged]
    failed = [run.label for run in everything if run.failure]
    report(
        f"# not converged: {', '.join(unconverged) or 'none'}; failed: "
        f"{', '.join(failed) or 'none'}"
    )


def footnotes(report: Report, runs: list[list[Measurement]]) -> None:
    """Level-0 methods per case, and every distinct warning once with the runs that gave it."""
    methods: dict[str, list[str]] = {}
    given: dict[str, list[str]] = {}
    for group in runs:
        for run in group:
            if run.level0_method and run.mode != "sample":
                methods.setdefault(f"{run.mode}: {run.level0_method}", []).append(run.case)
            for message in run.warnings:
                given.setdefault(message, []).append(run.label)
    report()
    report("# level-0 methods (result.level0_method):")
    for method, cases in methods.items():
        report(f"#   {method}  [{', '.join(dict.fromkeys(cases))}]")
    total = sum(len(labels) for labels in given.values())
    report(f"# warnings from mlmc_hpc.price (suppressed): {total} in all, {len(given)} distinct")
    for number, (message, labels) in enumerate(given.items(), 1):
        report(f"#   [{number}] {len(labels)}x {message}  [{', '.join(labels)}]")


def header(report: Report, args: argparse.Namespace, floor: float) -> None:
    """Date, host, CPU, versions, the run's parameters and the normal floor."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 0
    report(
        f"# bench_level0.py  {dt.datetime.now().isoformat(timespec='seconds')}  "
        f"host {platform.node()}  {cpu_model()}  ({cores} cores visible, one process)"
    )
    report(
        f"# python {platform.python_version()}  numpy {np.__version__}  "
        f"scipy {package_version('scipy')}  mlmc_hpc {mlmc_hpc.__version__}  "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}"
    )
    report(
        f"# floor: {floor:.3e} NumPy SFC64 standard normals/s on this core "
        f"(2**24 normals into a 2**16 buffer, best of 3)"
    )
    study = ", ".join(f"{eps:g}" for eps in args.study_eps)
    report(
        f"# run.backend numpy, serial executor, seed {args.seed} for every mode; modes "
        f"{' / '.join(MODES)} interleaved per case; study eps {study}, path eps "
        f"{args.path_eps:g}{'  (--quick)' if args.quick else ''}"
    )
    report(
        "# wall s: the whole mlmc_hpc.price call; l0 %: share of the timesteps on level 0; "
        "x steps / x time: sample's timesteps / wall over this mode's (same case, this run)"
    )


def warm_up(seed: int) -> None:
    """One small run per mode and family, so that imports and first-call set-up (the
    quadrature's SciPy import, lazily loaded modules) are not timed in the first case."""
    for overrides in ((), PATH_TYPES[1][1], PATH_TYPES[2][1]):
        for mode in MODES:
            measure("warm-up", None, overrides, 0.2, mode, seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1, help="run.seed of every run (default 1)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="eps 0.005 for the study cases, 0.05 for the path types",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="also write the text here (default: benchmarks/results/"
        "level0-<date>.txt unless --quick; '' for no file)",
    )
    args = parser.parse_args()
    args.study_eps = QUICK_STUDY_EPS if args.quick else STUDY_EPS
    args.path_eps = QUICK_PATH_EPS if args.quick else PATH_EPS
    out = args.out
    if out is None and not args.quick:
        out = f"benchmarks/results/level0-{dt.date.today()}.txt"

    report = Report()
    header(report, args, normal_floor())
    warm_up(args.seed)
    study = [(f"{preset} {eps:g}", preset, (), eps) for preset in PRESETS for eps in args.study_eps]
    european = table(report, "study cases (European calls, presets)", study, args.seed)
    path_cases = [
        (f"{name} {args.path_eps:g}", None, overrides, args.path_eps)
        for name, overrides in PATH_TYPES
    ]
    paths = table(
        report,
        "path-dependent types (S0 = K = 100, T = 1, r = 0.05, sigma = 0.2)",
        path_cases,
        args.seed,
    )
    targets(report, european, paths, args.quick)
    footnotes(report, european + paths)
    if out:
        report.save(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
