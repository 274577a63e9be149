"""The per-level figures of ``report --plot``: ``timesteps_per_level.png`` and
``seconds_per_level.png``.

Each has a linear panel (one bar per run, stacked by level: the total and which levels
dominate it) and a log panel (one bar per level inside each run's group: levels 1..L,
thin slivers beside level 0 on the linear scale, side by side). Compute seconds are
summed over workers, so ``seconds_per_level.png`` adds a wall-time panel: the run's wall
time beside its compute seconds per worker (the sum over workers divided by their number).
A level that took nothing (an exact level 0) is left out of the log panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import EngFormatter

from .plot_style import (
    Runs,
    level_colours,
    new_figure,
    positive,
    runs_title,
    save,
    tick_label,
)

_WHAT = {
    "timesteps": ("Timesteps", "timesteps (count)"),
    "compute_time_s": ("Compute seconds", "compute time, summed over workers (s)"),
}


def _table(runs: Runs, column: str) -> np.ndarray:
    """Runs x levels of ``column``, zero-padded to the deepest run."""
    depth = max(len(r.levels[column]) for _, r in runs)
    table = np.zeros((len(runs), depth))
    for i, (_, r) in enumerate(runs):
        table[i, : len(r.levels[column])] = r.levels[column]
    return table


def _stacked(axes: Any, table: np.ndarray, colours: Any, ylabel: str, counts: bool) -> list[Any]:
    bottoms = np.zeros(table.shape[0])
    handles = []
    for level in range(table.shape[1]):
        label = f"level {level}" + ("" if table[:, level].any() else " (none in any run)")
        handles.append(axes.bar(range(table.shape[0]), table[:, level], bottom=bottoms,
                                color=colours[level], label=label))  # fmt: skip
        bottoms += table[:, level]
    if counts:
        axes.yaxis.set_major_formatter(EngFormatter(sep=" "))  # 20 M, not an offset 1e7
    axes.set(title="stacked by level (linear scale)", ylabel=ylabel)
    return handles


def _grouped_log(axes: Any, table: np.ndarray, colours: Any, ylabel: str) -> None:
    runs, depth = table.shape
    width = 0.85 / depth
    for level in range(depth):
        heights = positive(table[:, level])
        drawn = np.isfinite(heights)
        x = np.arange(runs) + (level - (depth - 1) / 2) * width
        axes.bar(x[drawn], heights[drawn], width=width, color=colours[level])
        if runs * depth <= 120:  # room to number each bar with its level
            for xi, h in zip(x[drawn], heights[drawn], strict=True):
                axes.annotate(str(level), (xi, h), ha="center", va="bottom", fontsize=5,
                              xytext=(0, 1), textcoords="offset points")  # fmt: skip
    axes.set_yscale("log")
    finite = positive(table)
    if np.isfinite(finite).any():  # whole decades, so both ends carry a label
        low, high = np.log10(np.nanmin(finite)), np.log10(np.nanmax(finite) * 1.6)
        axes.set_ylim(10 ** np.floor(low), 10 ** np.ceil(high))
    axes.set(
        title="one bar per level, numbered 0..L (log scale; a level with none is left out)",
        ylabel=ylabel,
    )


def _wall(axes: Any, runs: Runs) -> list[Any]:
    x = np.arange(len(runs))
    wall = np.array([r.wall_time_s for _, r in runs])
    per_worker = np.array([float(np.sum(r.levels["compute_time_s"])) / max(1, r.n_workers)
                           for _, r in runs])  # fmt: skip
    handles = [axes.bar(x - 0.2, wall, width=0.4, color="dimgrey", label="wall time of the run"),
               axes.bar(x + 0.2, per_worker, width=0.4, color="silver",
                        label="compute time per worker\n(sum over workers / workers)")]  # fmt: skip
    for i, value in enumerate(wall):
        axes.annotate(f"{value:.3g} s", (x[i] - 0.2, value), ha="center", va="bottom",
                      fontsize=7, xytext=(0, 2), textcoords="offset points")  # fmt: skip
    axes.set_ylim(top=1.12 * max(float(wall.max()), float(per_worker.max()), 1e-9))
    axes.set(title="wall time and compute time per worker (linear)", ylabel="time (s)")
    return handles


def level_figure(runs: Runs, column: str, path: Path) -> Path:
    """The figure of the per-level ``column`` (timesteps or compute_time_s); see the
    module docstring. Returns ``path``."""
    name, ylabel = _WHAT[column]
    table = _table(runs, column)
    depth = table.shape[1]
    colours = level_colours(depth)
    with_wall = column == "compute_time_s"
    heading = f"{name} per level of {len(runs)} run(s)"
    title = runs_title(heading + (", summed over each run's workers" if with_wall else ""), runs)
    width = min(16.0, max(9.0, len(runs) * (0.2 * depth + 0.7) + 2.5))
    height = 8.6 + 0.16 * title.count("\n")
    mosaic = [["linear", "wall"], ["log", "log"]] if with_wall else [["linear"], ["log"]]
    figure, panels = new_figure(width, height, mosaic=mosaic)
    handles = _stacked(panels["linear"], table, colours, ylabel, column == "timesteps")
    _grouped_log(panels["log"], table, colours, ylabel)
    if with_wall:
        handles += _wall(panels["wall"], runs)
    crowded = (width - 2) / len(mosaic[0]) / len(runs) < 1.2  # inches per run, top row
    for key, axes in panels.items():
        short = crowded and key != "log"  # the top row then numbers the runs of the title
        labels = [tick_label(k, f, r, short) for k, (f, r) in enumerate(runs, start=1)]
        axes.set_xticks(range(len(runs)), labels, fontsize=7)
        axes.set_xlabel("run ([number] of the title, eps, workers)" if short
                        else "run (file, eps, workers)")  # fmt: skip
        axes.title.set_fontsize(8)
    figure.legend(handles=handles, loc="outside right upper", fontsize=7,
                  ncol=1 if depth <= 16 else 2)  # fmt: skip
    return save(figure, path, title)
