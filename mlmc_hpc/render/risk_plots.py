"""The risk figures (``risk --plot DIR``, ``report --plot DIR``): the notebook's two panels.

Left: the distribution of the horizon's portfolio return in percent of the value today,
with the VaR lines. Right: the loss tail in currency units, from the exact largest losses,
with VaR and CVaR lines. Drawn from the stored histogram and tail; computes nothing else.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..io.risk_result import RiskResult

COLOURS = ("red", "darkred", "purple", "black")


def require_matplotlib() -> None:
    """ConfigError (exit 2, before any work) when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError("--plot needs matplotlib: pip install 'mlmc_hpc[plot]'") from None


def _returns_histogram(result: RiskResult, bins: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """The fine loss grid re-binned to ``bins`` equal bins of return (%) over the range
    holding all but 1e-4 of the scenarios on each side; density per % of return. The
    cumulative count is interpolated linearly inside each fine bin, so no fine bin is
    split unevenly between two coarse ones."""
    edges, counts = result.histogram["edges"][1:-1], result.histogram["counts"]
    total = max(1, int(counts.sum()))
    cumulative = np.cumsum(counts)[:-1] / total  # the loss CDF at the finite edges
    low, high = np.interp([1e-4, 1 - 1e-4], cumulative, edges)
    losses = np.linspace(low, high, bins + 1)
    mass = np.diff(np.interp(losses, edges, cumulative))
    returns = -100.0 * losses / result.histogram_scale
    return returns[::-1], mass[::-1] / np.abs(np.diff(returns))


def risk_figure(result: RiskResult, path: Path) -> Path:
    """Write the two panels of ``result`` to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(14, 5))
    value = result.histogram_scale
    grid, density = _returns_histogram(result)
    left.stairs(density, grid, fill=True, alpha=0.7, color="steelblue")
    right_losses = result.tail["losses"]
    right.hist(right_losses, bins=50, density=True, alpha=0.7, color="coral", edgecolor="white")
    for colour, p in zip(COLOURS, result.confidence, strict=False):
        var = result.var(p)
        left.axvline(-100 * var / value, color=colour, linestyle="--", linewidth=2,
                     label=f"{100 * p:g}% VaR: {-100 * var / value:.2f}%")  # fmt: skip
        right.axvline(var, color=colour, linestyle="--", linewidth=2,
                      label=f"{100 * p:g}% VaR: ${var:,.0f}")  # fmt: skip
        right.axvline(result.cvar(p), color=colour, linestyle=":", linewidth=2,
                      label=f"{100 * p:g}% CVaR: ${result.cvar(p):,.0f}")  # fmt: skip
    left.axvline(0, color="black", linewidth=1)
    horizon = f"{result.horizon_days}-day"
    left.set(xlabel="portfolio return over the horizon (%)", ylabel="density (per % of return)",
             title=f"Distribution of {horizon} portfolio returns")  # fmt: skip
    right.set(xlabel="portfolio loss ($)", ylabel="density (per $)",
              title=f"Loss tail: the {len(right_losses):,} largest {horizon} losses")  # fmt: skip
    for axis in (left, right):
        axis.legend(loc="upper left" if axis is left else "upper right")
        axis.grid(True, alpha=0.3)
    figure.suptitle(f"{result.name}: {result.scenarios:,} scenarios, {result.model} model, "
                    f"value ${result.value0:,.0f}")  # fmt: skip
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def risk_figures(results: list[tuple[str, RiskResult]], directory: Path) -> list[Path]:
    """One figure per result: ``risk_<file stem>.png`` in ``directory``."""
    return [risk_figure(result, directory / f"risk_{Path(name).stem}.png")
            for name, result in results]  # fmt: skip
