"""PNG figures for ``mlmc_hpc report --plot DIR`` (matplotlib, Agg backend, no display).

- ``timesteps_per_level.png`` and ``seconds_per_level.png``: stacked bars, one per run;
- ``convergence.png``: Giles' four panels (log2 |mean| and log2 variance against level,
  N_l against level for each eps, eps^2 cost against eps for MLMC and plain MC), from a
  test file when one is given, else from the runs;
- ``speedup.png``: wall-time speedup against workers, when runs differ in worker count;
- ``timeline_<k>_<file>.png``: one per run (k-th file), each batch as a bar on its worker's row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..core.estimators import variance_target  # noqa: E402
from ..io.run_result import RunResult  # noqa: E402
from ..io.test_result import TestResult  # noqa: E402

Runs = list[tuple[str, RunResult]]


def _save(figure: Any, path: Path) -> Path:  # a matplotlib Figure (untyped here)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _label(result: RunResult) -> str:
    return f"{result.name}\neps={result.eps:g}\nw={result.n_workers}"


def stacked_levels(runs: Runs, column: str, ylabel: str, path: Path) -> Path:
    """One bar per run, stacked by level, of the per-level ``column``; returns ``path``."""
    figure, axes = plt.subplots(figsize=(max(5, 1.2 * len(runs) + 2), 4))
    depth = max(len(r.levels[column]) for _, r in runs)
    bottoms = np.zeros(len(runs))
    colours = plt.cm.viridis(np.linspace(0, 1, max(depth, 2)))
    for level in range(depth):
        heights = np.array([float(r.levels[column][level]) if level < len(r.levels[column])
                            else 0.0 for _, r in runs])  # fmt: skip
        axes.bar(range(len(runs)), heights, bottom=bottoms, color=colours[level],
                 label=f"level {level}")  # fmt: skip
        bottoms += heights
    axes.set_xticks(range(len(runs)), [_label(r) for _, r in runs], fontsize=7)
    axes.set_ylabel(ylabel)
    axes.legend(fontsize=6, ncol=2)
    return _save(figure, path)


def convergence_panels(runs: Runs, tests: list[TestResult], path: Path) -> Path:
    """Giles' four panels (see the module docstring), from the first test else the runs."""
    figure, ((a, b), (c, d)) = plt.subplots(2, 2, figsize=(9, 7))
    if tests:
        t = tests[0]
        levels = t.convergence["level"]
        a.plot(levels, np.log2(np.abs(t.convergence["ave_pf"])), "--*", label="P_l")
        a.plot(levels[1:], np.log2(np.abs(t.convergence["ave_pf_pc"][1:])), "-*",
               label="P_l - P_l-1")  # fmt: skip
        b.plot(levels, np.log2(t.convergence["var_pf"]), "--*", label="P_l")
        b.plot(levels[1:], np.log2(t.convergence["var_pf_pc"][1:]), "-*", label="P_l - P_l-1")
        x = t.complexity
        for i, eps in enumerate(x["eps"]):
            counts = x["N_l"][i][: int(x["L"][i]) + 1]
            c.semilogy(range(len(counts)), counts, "-o", label=f"eps={eps:g}")
        d.loglog(x["eps"], x["eps"] ** 2 * x["mlmc_cost"], "-*", label="MLMC")
        d.loglog(x["eps"], x["eps"] ** 2 * x["std_cost"], "--*", label="plain MC")
    else:
        deepest = max(runs, key=lambda item: len(item[1].levels["mean"]))[1]
        levels = np.arange(len(deepest.levels["mean"]))
        a.plot(levels, np.log2(np.abs(deepest.levels["mean_pf"])), "--*", label="P_l")
        a.plot(levels[1:], np.log2(np.abs(deepest.levels["mean"][1:])), "-*", label="P_l - P_l-1")
        b.plot(levels, np.log2(_positive(deepest.levels["variance_pf"])), "--*", label="P_l")
        b.plot(levels[1:], np.log2(deepest.levels["variance"][1:]), "-*", label="P_l - P_l-1")
        eps, mlmc, std = [], [], []
        for _, r in sorted(runs, key=lambda item: item[1].eps):
            counts = _positive(r.levels["n_samples"])  # an exact level 0 has none: not drawn
            c.semilogy(range(len(counts)), counts, "-o", label=f"eps={r.eps:g}")
            eps.append(r.eps)
            mlmc.append(float(r.levels["timesteps"].sum()))
            finest = r.levels["cost_per_sample"][-1] * r.levels["variance_pf"][-1]
            std.append(float(finest / variance_target(r.eps, r.theta)))
        eps = np.array(eps)
        d.loglog(eps, eps**2 * np.array(mlmc), "-*", label="MLMC")
        d.loglog(eps, eps**2 * np.array(std), "--*", label="plain MC")
    a.set(xlabel="level l", ylabel="log2 |mean|")
    b.set(xlabel="level l", ylabel="log2 variance")
    c.set(xlabel="level l", ylabel="N_l")
    d.set(xlabel="eps", ylabel="eps^2 cost (timesteps)")
    for axes in (a, b, c, d):
        axes.legend(fontsize=7)
    return _save(figure, path)


def _positive(values: np.ndarray) -> np.ndarray:
    """``values`` as floats with NaN (not drawn) where <= 0: log axes of a level that was
    not sampled (an exact level 0: no samples, variance 0)."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(values > 0, values, np.nan)


def speedup(runs: Runs, path: Path) -> Path:
    """Speedup T(fewest workers) / T(n) for each (name, eps) group of runs."""
    figure, axes = plt.subplots(figsize=(5, 4))
    groups: dict[tuple[str, float], list[RunResult]] = {}
    for _, r in runs:
        groups.setdefault((r.name, r.eps), []).append(r)
    top = 1
    for (name, eps), members in groups.items():
        members.sort(key=lambda r: r.n_workers)
        base = members[0]
        workers = np.array([r.n_workers for r in members])
        gains = np.array([base.wall_time_s / r.wall_time_s for r in members])
        axes.plot(workers, gains * base.n_workers, "-o", label=f"{name} eps={eps:g}")
        top = max(top, int(workers.max()))
    axes.plot([1, top], [1, top], "k:", label="ideal")
    axes.set(xlabel="workers", ylabel="speedup (wall time)")
    axes.legend(fontsize=7)
    return _save(figure, path)


def timeline(result: RunResult, path: Path) -> Path:
    """Each batch of one run as a bar from its start to its end on its worker's row."""
    figure, axes = plt.subplots(figsize=(8, 1.5 + 0.3 * result.n_workers))
    b = result.batches
    depth = int(np.max(b["level"])) + 1 if len(b.get("level", [])) else 1
    colours = plt.cm.viridis(np.linspace(0, 1, max(depth, 2)))
    for level in range(depth):
        mask = b["level"] == level
        start, end = b["start_s"][mask], b["end_s"][mask]
        axes.barh(b["worker"][mask], end - start, left=start, color=colours[level],
                  label=f"level {level}")  # fmt: skip
    axes.set(xlabel="seconds from start", ylabel="worker", title=f"{result.name}: batches")
    axes.legend(fontsize=6, ncol=4)
    return _save(figure, path)


def write_figures(runs: Runs, tests: list[TestResult], directory: Path) -> list[Path]:
    """Every figure the inputs allow (see the module docstring); returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    if runs:
        written.append(stacked_levels(runs, "timesteps", "timesteps",
                                      directory / "timesteps_per_level.png"))  # fmt: skip
        written.append(stacked_levels(runs, "compute_time_s", "compute seconds",
                                      directory / "seconds_per_level.png"))  # fmt: skip
    if runs or tests:
        written.append(convergence_panels(runs, tests, directory / "convergence.png"))
    if len({r.n_workers for _, r in runs}) > 1:
        written.append(speedup(runs, directory / "speedup.png"))
    for index, (file, result) in enumerate(runs, start=1):
        name = f"timeline_{index}_{Path(file).stem}.png"
        written.append(timeline(result, directory / name))
    return written
