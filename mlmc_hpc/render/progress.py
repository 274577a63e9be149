"""Progress lines: one per iteration of the adaptive loop (run, test and demo commands)."""

from __future__ import annotations

import math

from ..config.schema import MLMCSettings
from ..core.driver import IterationRecord
from ..core.estimators import bias_target, variance_target
from ..core.plain_mc import mc_variance_target


def progress_line(
    index: int, record: IterationRecord, settings: MLMCSettings, elapsed_s: float | None = None
) -> str:
    """Samples added, variance and bias against their targets and the iteration's seconds
    (or, with ``elapsed_s``, the time since the run started)."""
    eps, theta = settings.eps, settings.theta
    added = " ".join(str(n) for n in record.extra)
    if settings.method == "mc":
        goal = mc_variance_target(eps, theta, settings.mc_steps is None)
        bias = "exact sampling" if settings.mc_steps is None else "not estimated (grid)"
    else:
        goal = variance_target(eps, theta)
        tested = "not tested" if math.isnan(record.bias) else f"{record.bias:.3e}"
        bias = f"{tested} / {bias_target(eps, theta):.3e}"
        if record.unsettled:
            bias += " (levels not settled)"
    seconds = f"{record.seconds:.2f} s" if elapsed_s is None else f"elapsed {elapsed_s:6.2f} s"
    return (
        f"iter {index:3d}  L={record.L:2d}  added [{added}]  "
        f"variance {record.variance:.3e} / {goal:.3e}  bias {bias}  {seconds}"
    )
