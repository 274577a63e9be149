"""Progress lines: one per iteration of the adaptive loop (run, test and demo commands)."""

from __future__ import annotations

import math

from ..config.schema import MLMCSettings
from ..core.driver import IterationRecord
from ..core.estimators import bias_target, variance_target
from ..core.plain_mc import mc_variance_target

WIDTH = 100  # a progress line, executor status included, fits this many columns


def count_text(n: float) -> str:
    """A sample count in at most 4 characters: 950, 570k, 8.1k, 3.2M, 1.1G."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            value = n / size
            return f"{value:.0f}{suffix}" if value >= 9.95 else f"{value:.1f}{suffix}"
    return f"{int(n)}"


def progress_line(
    index: int,
    record: IterationRecord,
    settings: MLMCSettings,
    elapsed_s: float | None = None,
    width: int = WIDTH,
) -> str:
    """Samples added per level, variance and bias against their targets and the iteration's
    seconds (or, with ``elapsed_s``, the time since the run started), in at most ``width``
    columns: the per-level list becomes their total when it would not fit."""
    eps, theta = settings.eps, settings.theta
    if settings.method == "mc":
        goal = mc_variance_target(eps, theta, settings.mc_steps is None)
        bias = "exact sampling" if settings.mc_steps is None else "not estimated (grid)"
    else:
        goal = variance_target(eps, theta)
        tested = "untested" if math.isnan(record.bias) else f"{record.bias:.2e}"
        bias = f"{tested}/{bias_target(eps, theta):.2e}"
        if record.unsettled:
            bias += " unsettled"
    seconds = f"{record.seconds:.2f} s" if elapsed_s is None else f"elapsed {elapsed_s:.1f} s"
    rest = f"var {record.variance:.2e}/{goal:.2e}  bias {bias}  {seconds}"
    head = f"iter {index:3d}  L={record.L:2d}  added"
    line = f"{head} [{' '.join(count_text(n) for n in record.extra)}]  {rest}"
    if len(line) > width:
        line = f"{head} {count_text(sum(record.extra))}  {rest}"
    return line
