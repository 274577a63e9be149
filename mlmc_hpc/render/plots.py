"""PNG figures for ``mlmc_hpc report --plot DIR`` (matplotlib, Agg backend, no display).

- ``timesteps_per_level.png`` and ``seconds_per_level.png``: per-level bars of each run,
  linear (stacked) and log (one bar per level), seconds with a wall-time panel
  (:mod:`mlmc_hpc.render.plot_levels`);
- ``convergence.png``: Giles' four panels (log2 |mean| and log2 variance against level,
  N_l against level for each eps, eps^2 cost against eps for MLMC and plain MC), from a
  test file when one is given, else from the runs;
- ``speedup.png``: wall-time speedup against workers of runs that differ only in their
  worker count, and every run's throughput (timesteps per wall second), when runs differ
  in worker count;
- ``timeline_<k>_<file>.png``: one per run (k-th file), each batch as a bar on its worker's row.

Every figure's title names its runs (file, option type, eps, workers), every axis label
carries its unit in parentheses, legends sit outside the panels, and the PNG's text
chunks describe the figure (:mod:`mlmc_hpc.render.plot_style`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.ticker import EngFormatter, MaxNLocator, NullFormatter  # noqa: E402

from ..core.estimators import variance_target  # noqa: E402
from ..io.run_result import RunResult  # noqa: E402
from ..io.test_result import TestResult  # noqa: E402
from .plot_levels import level_figure  # noqa: E402
from .plot_style import (  # noqa: E402
    Runs,
    describe,
    legend_right,
    level_colours,
    new_figure,
    option_type,
    positive,
    runs_title,
    save,
    workers,
)

Tests = list[TestResult] | list[tuple[str, TestResult]]
LOG2_MEAN = "log2 |mean| (log2 of price units)"
LOG2_VARIANCE = "log2 variance (log2 of price units^2)"


def _test_of(item: TestResult | tuple[str, TestResult]) -> TestResult:
    return item[1] if isinstance(item, tuple) else item


def _test_title(test: TestResult, file: str | None) -> str:
    eps = ", ".join(f"{e:g}" for e in test.complexity.get("eps", []))
    where = f"{Path(file).name}: " if file else ""
    return (f"{where}test result {test.name} {option_type(test)}, N = {test.N} samples per "
            f"level on levels 0..{test.L}, complexity at eps {eps}, "
            f"{workers(test.n_workers)}, level 0 {test.level0}")  # fmt: skip


def _from_test(panels: Any, t: TestResult) -> None:
    a, b, c, d = panels
    levels = t.convergence["level"]
    a.plot(levels, np.log2(np.abs(t.convergence["ave_pf"])), "--*", label="P_l")
    a.plot(levels[1:], np.log2(np.abs(t.convergence["ave_pf_pc"][1:])), "-*",
           label="P_l - P_l-1")  # fmt: skip
    b.plot(levels, np.log2(positive(t.convergence["var_pf"])), "--*", label="P_l")
    b.plot(levels[1:], np.log2(positive(t.convergence["var_pf_pc"][1:])), "-*",
           label="P_l - P_l-1")  # fmt: skip
    x = t.complexity
    for i, eps in enumerate(x["eps"]):
        counts = positive(x["N_l"][i][: int(x["L"][i]) + 1])  # an exact level 0: not drawn
        c.semilogy(range(len(counts)), counts, "-o", label=f"eps={eps:g}")
    d.loglog(x["eps"], x["eps"] ** 2 * x["mlmc_cost"], "-*", label="MLMC")
    d.loglog(x["eps"], x["eps"] ** 2 * x["std_cost"], "--*", label="plain MC")


def _from_runs(panels: Any, runs: Runs, deepest: RunResult) -> None:
    a, b, c, d = panels
    levels = np.arange(len(deepest.levels["mean"]))
    a.plot(levels, np.log2(np.abs(deepest.levels["mean_pf"])), "--*", label="P_l")
    a.plot(levels[1:], np.log2(np.abs(deepest.levels["mean"][1:])), "-*", label="P_l - P_l-1")
    b.plot(levels, np.log2(positive(deepest.levels["variance_pf"])), "--*", label="P_l")
    b.plot(levels[1:], np.log2(positive(deepest.levels["variance"][1:])), "-*",
           label="P_l - P_l-1")  # fmt: skip
    for k, (_, r) in sorted(enumerate(runs, start=1), key=lambda item: item[1][1].eps):
        counts = positive(r.levels["n_samples"])  # an exact level 0 has none: not drawn
        c.semilogy(range(len(counts)), counts, "-o", label=f"[{k}] eps={r.eps:g}")
    problems: dict[tuple[str, ...], list[tuple[int, RunResult]]] = {}
    for k, (_, r) in enumerate(runs, start=1):  # one line per problem, along eps
        problems.setdefault((r.name, option_type(r), r.method, r.level0), []).append((k, r))
    for (name, _, method, _), members in problems.items():
        members.sort(key=lambda item: item[1].eps)
        e = np.array([r.eps for _, r in members])
        cost = e**2 * np.array([float(r.levels["timesteps"].sum()) for _, r in members])
        plain = e**2 * np.array([_plain_mc_cost(r) for _, r in members])
        numbers = ",".join(str(k) for k, _ in members)
        line = d.loglog(e, cost, "-*", label=f"[{numbers}] {name} {method}, as run")[0]
        d.loglog(e, plain, "--x", color=line.get_color(), label=f"[{numbers}] plain MC, estimate")
        for x in sorted(set(e)):  # runs at one eps (other workers) share a point
            at = ",".join(str(k) for k, r in members if r.eps == x)
            y = cost[list(e).index(x)]
            d.annotate(f"[{at}]", (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")


def _plain_mc_cost(r: RunResult) -> float:
    """Timesteps plain MC on the finest level would need for the same variance target."""
    finest = r.levels["cost_per_sample"][-1] * r.levels["variance_pf"][-1]
    return float(finest / variance_target(r.eps, r.theta))


def convergence_panels(runs: Runs, tests: Tests, path: Path) -> Path:
    """Giles' four panels (see the module docstring), from the first test else the runs.
    ``tests`` are results or (file, result) pairs (the file then names the figure)."""
    figure, grid = new_figure(11, 8.4, nrows=2, ncols=2)
    panels = grid.ravel()
    if tests:
        file = tests[0][0] if isinstance(tests[0], tuple) else None
        test = _test_of(tests[0])
        _from_test(panels, test)
        title, M = "MLMC convergence and complexity of\n" + _test_title(test, file), test.M
    else:
        k, (file, deepest) = max(enumerate(runs, start=1),
                                 key=lambda item: len(item[1][1].levels["mean"]))  # fmt: skip
        _from_runs(panels, runs, deepest)
        M = deepest.M
        title = runs_title(f"MLMC convergence of the runs (top panels: the deepest, [{k}] "
                           f"{Path(file).name}; bottom: all runs)", runs)  # fmt: skip
    level = f"level l ({M}^l timesteps per sample)"
    a, b, c, d = panels
    a.set(xlabel=level, ylabel=LOG2_MEAN, title="mean of P_l and of the correction")
    b.set(xlabel=level, ylabel=LOG2_VARIANCE, title="variance of P_l and of the correction")
    if tests:
        exact = _test_of(tests[0]).level0 == "exact"
    else:
        exact = any(r.level0 == "exact" for _, r in runs)
    c.set(xlabel=level, ylabel="samples N_l (count)", title="samples per level for each eps"
          + (" (an exact level 0 has none)" if exact else ""))  # fmt: skip
    d.set(xlabel="eps, target RMS error (price units)",
          ylabel="eps^2 x cost (price units^2 x timesteps)",
          title="cost times eps^2 (flat: cost grows like eps^-2)")  # fmt: skip
    eps = sorted({float(x) for line in d.get_lines() for x in line.get_xdata()})
    d.set_xticks(eps, [f"{e:g}" for e in eps])  # each eps drawn, not 2x10^-2 crowding
    d.xaxis.set_minor_formatter(NullFormatter())
    d.margins(x=0.1)
    for axes in (a, b, c):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    for axes in panels:
        axes.title.set_fontsize(9)
        if axes.get_legend_handles_labels()[0]:
            legend_right(axes)
    return save(figure, path, title)


def _groups(runs: Runs) -> dict[tuple[Any, ...], list[tuple[int, RunResult]]]:
    """Runs that differ only in their worker count, with their numbers [k]."""
    groups: dict[tuple[Any, ...], list[tuple[int, RunResult]]] = {}
    for k, (_, r) in enumerate(runs, start=1):
        key = (r.name, option_type(r), r.method, r.eps, r.level0, r.seed)
        groups.setdefault(key, []).append((k, r))
    return groups


def speedup(runs: Runs, path: Path) -> Path:
    """Left: speedup T(fewest workers) / T(n) (as if the fewest-worker run scaled ideally)
    of each group of runs that differ only in workers. Right: every run's throughput."""
    figure, (left, right) = new_figure(11, 4.4 + 0.16 * len(runs), ncols=2)
    counts = sorted({r.n_workers for _, r in runs})
    drawn = 0
    for (name, kind, _, eps, level0, _), members in _groups(runs).items():
        members.sort(key=lambda item: item[1].n_workers)
        if len({r.n_workers for _, r in members}) < 2:
            continue
        base = members[0][1]
        n = np.array([r.n_workers for _, r in members])
        gain = np.array([base.wall_time_s / r.wall_time_s for _, r in members]) * base.n_workers
        numbers = ",".join(str(k) for k, _ in members)
        left.plot(n, gain, "-o", label=f"[{numbers}] {name} {kind} eps={eps:g} level 0 {level0}")
        drawn += 1
    left.plot([1, counts[-1]], [1, counts[-1]], "k:", label="ideal")
    if not drawn:
        left.text(0.03, 0.92, "no two runs differ only in their worker count", fontsize=8,
                  transform=left.transAxes)  # fmt: skip
    for k, (_, r) in enumerate(runs, start=1):
        right.plot(r.n_workers, r.total_timesteps / r.wall_time_s, "o",
                   label=f"[{k}] {r.name} eps={r.eps:g}")  # fmt: skip
    left.set_ylim(bottom=0)
    left.set(xlabel="workers (count)", ylabel="wall-time speedup (x)",
             title="speedup against the fewest-worker run of each group")  # fmt: skip
    right.yaxis.set_major_formatter(EngFormatter(sep=" "))
    right.set_ylim(bottom=0)
    right.set(xlabel="workers (count)", ylabel="throughput (timesteps per wall second)",
              title="throughput of every run: total timesteps / wall time")  # fmt: skip
    for axes in (left, right):
        axes.set_xticks(counts)
        axes.set_xlim(min(counts) - 0.5, max(counts) + 0.5)
        axes.title.set_fontsize(9)
        legend_right(axes)
    return save(figure, path, runs_title("Speedup and throughput against workers", runs))


def timeline(file: str, result: RunResult, path: Path, depth: int = 0) -> Path:
    """Each batch of one run as a bar from its start to its end on its worker's row;
    level colours as in the per-level figures of runs up to ``depth`` levels."""
    b = result.batches
    rows = sorted({int(w) for w in b.get("worker", [])}) or [0]
    figure, axes = new_figure(10, 2.2 + 0.3 * len(rows))
    levels = sorted({int(level) for level in b.get("level", [])})
    colours = level_colours(max(depth, max(levels, default=0) + 1))
    for level in levels:
        mask = b["level"] == level
        start, end = b["start_s"][mask], b["end_s"][mask]
        axes.barh(b["worker"][mask], end - start, left=start, color=colours[level],
                  edgecolor=colours[level], linewidth=0.5, label=f"level {level}")  # fmt: skip
    if not levels:
        axes.text(0.5, 0.5, "no batches recorded", ha="center", transform=axes.transAxes)
    axes.set_yticks(rows)
    axes.set_xlim(left=0)
    axes.set(xlabel="time since the run started (s)", ylabel="worker (MPI rank)",
             title=f"each bar one batch; wall time {result.wall_time_s:.3g} s"
             + ("; level 0 exact: no batches" if result.level0 == "exact" else ""))  # fmt: skip
    axes.title.set_fontsize(9)
    if levels:
        legend_right(axes, ncol=1 if len(levels) <= 8 else 2)
    return save(figure, path, f"Batches of {describe(file, result)}")


def write_figures(runs: Runs, tests: Tests, directory: Path) -> list[Path]:
    """Every figure the inputs allow (see the module docstring); returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    if runs:
        written.append(level_figure(runs, "timesteps", directory / "timesteps_per_level.png"))
        written.append(level_figure(runs, "compute_time_s", directory / "seconds_per_level.png"))
    if runs or tests:
        written.append(convergence_panels(runs, tests, directory / "convergence.png"))
    if len({r.n_workers for _, r in runs}) > 1:
        written.append(speedup(runs, directory / "speedup.png"))
    depth = max((len(r.levels["n_samples"]) for _, r in runs), default=0)
    for index, (file, result) in enumerate(runs, start=1):
        name = f"timeline_{index}_{Path(file).stem}.png"
        written.append(timeline(file, result, directory / name, depth))
    return written
