"""Human-readable progress lines, level tables and the JSON summary."""

from __future__ import annotations

import math
from typing import Any

from .driver import IterationRecord, MLMCSettings
from .estimators import bias_target, variance_target
from .plain_mc import mc_variance_target
from .results import RunResult


def progress_line(index: int, record: IterationRecord, settings: MLMCSettings) -> str:
    """One line per iteration: samples added, variance and bias against their targets."""
    eps, theta = settings.eps, settings.theta
    added = " ".join(str(n) for n in record.extra)
    if settings.method == "mc":
        goal = mc_variance_target(eps, theta, settings.mc_steps is None)
        bias = "exact sampling" if settings.mc_steps is None else "not estimated (grid)"
    else:
        goal = variance_target(eps, theta)
        tested = "not tested" if math.isnan(record.bias) else f"{record.bias:.3e}"
        bias = f"{tested} / {bias_target(eps, theta):.3e}"
    return (
        f"iter {index:3d}  L={record.L:2d}  added [{added}]  "
        f"variance {record.variance:.3e} / {goal:.3e}  bias {bias}  {record.seconds:.2f} s"
    )


def level_table(result: RunResult) -> str:
    lv = result.levels
    lines = [
        f"{'level':>5} {'N_l':>12} {'mean Pf-Pc':>13} {'variance':>10} "
        f"{'cost':>8} {'timesteps':>11} {'seconds':>8}"
    ]
    for level in range(result.L + 1):
        lines.append(
            f"{level:5d} {lv['n_samples'][level]:12d} {lv['mean'][level]:13.6e} "
            f"{lv['variance'][level]:10.3e} {lv['cost_per_sample'][level]:8d} "
            f"{lv['timesteps'][level]:11.4e} {lv['compute_time_s'][level]:8.3f}"
        )
    lines.append(
        f"{'total':>5} {int(lv['n_samples'].sum()):12d} {'':>13} {'':>10} {'':>8} "
        f"{float(lv['timesteps'].sum()):11.4e} {float(lv['compute_time_s'].sum()):8.3f}"
    )
    return "\n".join(lines)


def price_lines(result: RunResult) -> str:
    lines = [
        f"price      {result.price:.6f} +- {result.std_error:.6f} (standard error)  "
        f"95% CI [{result.ci95_low:.6f}, {result.ci95_high:.6f}]"
    ]
    if math.isfinite(result.reference_price):
        error = result.price - result.reference_price
        lines.append(
            f"reference  {result.reference_price:.6f} (closed form)  "
            f"error {error:+.6f} = {error / result.eps:+.2f} eps"
        )
    if result.method == "mc":
        steps = int(result.levels["cost_per_sample"][0])
        grid = "exact sampling" if steps == 1 and _exact(result) else f"{steps} timesteps"
        state = f"plain Monte Carlo, {grid}, variance target met"
        if grid != "exact sampling":
            state += " (grid bias not estimated)"
    else:
        state = "yes" if result.converged else "NO (bias test failed at Lmax)"
    lines.append(
        f"converged  {state}  L = {result.L}  eps = {result.eps:g}  "
        f"wall {result.wall_time_s:.2f} s  backend {result.backend}  workers {result.n_workers}"
    )
    return "\n".join(lines)


def _exact(result: RunResult) -> bool:
    """Plain MC with exact sampling (mc_steps auto), read from the stored config."""
    from .config import load_config_text

    return load_config_text(result.config).mlmc.mc_steps is None


def summary_dict(result: RunResult, output: str) -> dict[str, Any]:
    lv = result.levels
    reference = result.reference_price
    return {
        "name": result.name,
        "price": result.price,
        "std_error": result.std_error,
        "reference_price": reference if math.isfinite(reference) else None,
        "error": result.price - reference if math.isfinite(reference) else None,
        "eps": result.eps,
        "converged": result.converged,
        "method": result.method,
        "ci95": [result.ci95_low, result.ci95_high],
        "L": result.L,
        "alpha": result.alpha,
        "beta": result.beta,
        "gamma": result.gamma,
        "n_samples": [int(x) for x in lv["n_samples"]],
        "mean": [float(x) for x in lv["mean"]],
        "variance": [float(x) for x in lv["variance"]],
        "timesteps": [int(x) for x in lv["timesteps"]],
        "total_timesteps": int(lv["timesteps"].sum()),
        "wall_time_s": result.wall_time_s,
        "backend": result.backend,
        "n_workers": result.n_workers,
        "seed": result.seed,
        "batch_timesteps": result.batch_timesteps,
        "output": output,
    }
