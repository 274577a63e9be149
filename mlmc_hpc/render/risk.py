"""The risk command's text: progress lines, the notebook-style summary, the ``--json`` keys.

Computes nothing: everything comes from a :class:`~mlmc_hpc.io.risk_result.RiskResult` or
from the tail estimates of an iteration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.tail import TailEstimate
from ..io.risk_result import RiskResult, level_key


def _percent(amount: float, value: float) -> str:
    return f" ({100 * amount / value:.2f}%)" if value > 0 else ""


def _short(amount: float) -> str:
    """3 significant digits with k or M: 63.8k, 1.05M."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(amount) >= size:
            return f"{amount / size:.3g}{suffix}"
    return f"{amount:.3g}"


def risk_progress_line(index: int, scenarios: int, seconds: float,
                       found: Sequence[TailEstimate | None], rel_tol: float) -> str:  # fmt: skip
    """One iteration: scenarios so far, each level's VaR/CVaR with the wider CI half-width
    relative to its value, and the worst against rel_tol (about 90 columns for two levels)."""
    parts = []
    worst = 0.0
    for e in found:
        if e is None:
            parts.append("tail too short")
            worst = math.inf
            continue
        half = e.worst_ratio(1.0)
        worst = max(worst, half / rel_tol)
        parts.append(f"{level_key(e.level)}%: {_short(e.var)}/{_short(e.cvar)} +-{100 * half:.2f}%")
    return (f"iter {index:2d}  n {scenarios:.3g}  VaR/CVaR {'  '.join(parts)}  "
            f"{worst:.2f}x tol  {seconds:.2f} s")  # fmt: skip


def risk_summary(result: RiskResult, output: str | None = None) -> str:
    """The notebook's lines ("95% VaR:  $63,825 (6.38%)") with 95% intervals, and the run."""
    value = result.value0
    lines = [f"RISK METRICS ({result.horizon_days}-day horizon, {result.model} model, "
             f"{result.scenarios:,} scenarios)"]  # fmt: skip
    for p in result.confidence:
        for measure, label in (("var", "VaR"), ("cvar", "CVaR")):
            key = f"{measure}_{level_key(p)}"
            if key not in result.measures:
                continue
            amount = float(result.measures[key])
            low, high = result.ci95(measure, p)
            name = f"{100 * p:g}% {label}:"
            lines.append(f"{name:<13} ${amount:,.0f}{_percent(amount, value)}  "
                         f"95% CI [${low:,.0f}, ${high:,.0f}]")  # fmt: skip
    ratios = result.iterations.get("worst_ratio", np.empty(0))
    widest = f"rel_tol {result.rel_tol:g}"
    if len(ratios):
        widest = f"widest half-width {ratios[-1]:.2f} x {widest}"
    state = "yes" if result.converged else "no"
    lines.append(f"value today  ${value:,.0f}  mean loss ${result.loss_mean:,.0f}  "
                 f"sd ${result.loss_std:,.0f}")  # fmt: skip
    lines.append(f"CIs in tol   {state} ({widest})  wall {result.wall_time_s:.2f} s  "
                 f"backend {result.backend}  workers {result.n_workers}")  # fmt: skip
    if output:
        lines.append(f"result       {output}")
    return "\n".join(lines)


def risk_summary_dict(result: RiskResult, output: str | None) -> dict[str, Any]:
    """The ``--json`` object: the measures under their HDF5 names, and the run's facts."""
    out: dict[str, Any] = {"name": result.name}
    for key, value in result.measures.items():
        out[key] = [float(x) for x in value] if key.endswith("_ci95") else float(value)
    out.update(
        confidence=[float(p) for p in result.confidence],
        scenarios=result.scenarios,
        model=result.model,
        converged=result.converged,
        rel_tol=result.rel_tol,
        horizon_days=result.horizon_days,
        value0=result.value0,
        loss_mean=result.loss_mean,
        loss_std=result.loss_std,
        warnings=result.warnings.splitlines(),
        wall_time_s=result.wall_time_s,
        sampling_s=result.sampling_s,
        backend=result.backend,
        n_workers=result.n_workers,
        seed=result.seed,
        batch_scenarios=result.batch_scenarios,
        output=output,
    )
    return out
