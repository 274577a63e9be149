"""What every ``report --plot`` figure shares: names of the runs, level colours, legends
outside the axes, and saving with a self-description in the PNG's text chunks.

``save`` writes, besides the picture, the PNG tEXt keys ``Title`` (the figure's title),
``Description`` (one line per panel: its title, axis labels and scales) and ``mlmc_hpc``
(JSON: title; per panel title, labels, scales and visible ticks; per legend whether it
overlaps any panel and whether it lies inside the figure), all read from the drawn
figure, so a test can check what a reader sees without looking at pixels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from ..io.run_result import RunResult  # noqa: E402
from ..io.test_result import TestResult  # noqa: E402

Runs = list[tuple[str, RunResult]]
DPI = 110


def option_type(result: RunResult | TestResult) -> str:
    """``option.type`` of the stored config (``?`` when the config cannot be read)."""
    try:
        return str(yaml.safe_load(result.config)["option"]["type"])
    except (yaml.YAMLError, TypeError, KeyError):
        return "?"


def workers(n: int) -> str:
    """``1 worker``, ``2 workers``."""
    return f"{n} worker" + ("" if n == 1 else "s")


def describe(file: str, result: RunResult) -> str:
    """One line naming a run: file, config name, option type, method, eps, workers, level 0."""
    text = (f"{Path(file).name}: {result.name} {option_type(result)} {result.method}, "
            f"eps {result.eps:g}, {workers(result.n_workers)}")  # fmt: skip
    if result.method != "mc":
        text += f", level 0 {result.level0}"
    return text


def runs_title(heading: str, runs: Runs) -> str:
    """``heading`` then one numbered line per run (:func:`describe`)."""
    lines = [f"[{k}] {describe(file, r)}" for k, (file, r) in enumerate(runs, start=1)]
    return "\n".join([heading, *lines])


def tick_label(index: int, file: str, result: RunResult, short: bool = False) -> str:
    """A run's x tick: its number, file (unless ``short``: the title names it), eps,
    workers (and an exact level 0)."""
    name = "" if short else f" {Path(file).name}"
    text = f"[{index}]{name}\neps {result.eps:g}\n{workers(result.n_workers)}"
    return text + ("\nlevel 0 exact" if result.level0 == "exact" else "")


def level_colours(depth: int) -> Any:
    """One colour per level 0..depth-1 (viridis, coarse dark to fine yellow)."""
    return plt.cm.viridis(np.linspace(0, 0.95, max(depth, 2)))


def positive(values: Any) -> np.ndarray:
    """``values`` as floats with NaN (not drawn) where <= 0: log axes of a level that was
    not sampled (an exact level 0: no samples, variance 0, timesteps 0)."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(values > 0, values, np.nan)


def legend_right(axes: Any, **options: Any) -> Any:
    """The legend of ``axes`` outside it, to the right (covers no data)."""
    return axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                       fontsize=7, **options)  # fmt: skip


def new_figure(width: float, height: float, mosaic: Any = None, **options: Any) -> Any:
    """``plt.subplots`` (``plt.subplot_mosaic`` given ``mosaic``) with the constrained
    layout (room for titles and outside legends)."""
    common: dict[str, Any] = {"figsize": (width, height), "dpi": DPI, "layout": "constrained"}
    if mosaic is not None:
        return plt.subplot_mosaic(mosaic, **common, **options)
    return plt.subplots(**common, **options)


def _visible(ticks: Any, limits: tuple[float, float]) -> list[float]:
    low, high = sorted(limits)
    return [float(t) for t in ticks if low - 1e-9 * abs(low) <= t <= high + 1e-9 * abs(high)]


def _layout(figure: Any, title: str) -> dict[str, Any]:
    """What the drawn figure shows (see the module docstring)."""
    renderer = figure.canvas.get_renderer()
    boxes = [axes.get_window_extent(renderer) for axes in figure.axes]
    page = figure.bbox
    panels, legends = [], list(figure.legends)
    for axes in figure.axes:
        panels.append({
            "title": axes.get_title(), "xlabel": axes.get_xlabel(), "ylabel": axes.get_ylabel(),
            "xscale": axes.get_xscale(), "yscale": axes.get_yscale(),
            "xticks": _visible(axes.get_xticks(), axes.get_xlim()),
            "yticks": _visible(axes.get_yticks(), axes.get_ylim()),
        })  # fmt: skip
        if axes.get_legend() is not None:
            legends.append(axes.get_legend())
    described = []
    for legend in legends:
        box = legend.get_window_extent(renderer)
        described.append({
            "entries": [text.get_text() for text in legend.get_texts()],
            "overlaps_axes": any(box.overlaps(other) for other in boxes),
            "inside_figure": bool(box.x0 >= page.x0 - 1 and box.x1 <= page.x1 + 1
                                  and box.y0 >= page.y0 - 1 and box.y1 <= page.y1 + 1),
        })  # fmt: skip
    return {"title": title, "panels": panels, "legends": described}


def save(figure: Any, path: Path, title: str) -> Path:
    """Title the figure, draw it, and write it to ``path`` with its self-description."""
    figure.suptitle(title, fontsize=9, horizontalalignment="left", x=0.01)
    figure.canvas.draw()
    layout = _layout(figure, title)
    lines = [f"{p['title'] or 'panel'}: x = {p['xlabel']} [{p['xscale']}], "
             f"y = {p['ylabel']} [{p['yscale']}]" for p in layout["panels"]]  # fmt: skip
    metadata = {"Title": title, "Description": "\n".join(lines),
                "mlmc_hpc": json.dumps(layout, ensure_ascii=True)}  # fmt: skip
    figure.savefig(path, dpi=DPI, metadata=metadata)
    plt.close(figure)
    return path
