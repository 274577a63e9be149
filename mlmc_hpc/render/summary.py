"""The end-of-run summary: price lines for people, and the ``--json`` object (a contract)."""

from __future__ import annotations

import math
from typing import Any

from ..config.loading import load_config_text
from ..io.run_result import RunResult


def price_lines(result: RunResult) -> str:
    """Price with CI, the closed form and the error in eps where known, and the state."""
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
    state = "yes" if result.converged else "NO (the warnings say why)"
    if result.method == "mc":
        steps = int(result.levels["cost_per_sample"][0])
        grid = "exact sampling" if steps == 1 and _exact(result) else f"{steps} timesteps"
        state += f"  plain Monte Carlo, {grid}"
    elif result.effective_Lmin > load_config_text(result.config).mlmc.Lmin:
        state += f"  (Lmin raised to {result.effective_Lmin} for the problem's scales)"
    if math.isfinite(result.rel_eps):
        lines.append(f"target     eps {result.eps:.6g} = rel_eps {result.rel_eps:g} x pilot "
                     f"price {result.pilot_price:.6g}")  # fmt: skip
    lines.append(
        f"converged  {state}  L = {result.L}  eps = {result.eps:g}  "
        f"wall {result.wall_time_s:.2f} s  backend {result.backend}  workers {result.n_workers}"
    )
    if result.method != "mc":
        lines.append(f"level 0    {result.level0_value:.6f}  {result.level0_method}")
    return "\n".join(lines)


def _exact(result: RunResult) -> bool:
    """Plain MC with exact sampling (mc_steps auto), read from the stored config."""
    return load_config_text(result.config).mlmc.mc_steps is None


def summary_dict(result: RunResult, output: str) -> dict[str, Any]:
    """The ``--json`` summary: its keys are a public contract (README, CHANGELOG)."""
    lv = result.levels
    reference = result.reference_price
    return {
        "name": result.name,
        "price": result.price,
        "std_error": result.std_error,
        "reference_price": reference if math.isfinite(reference) else None,
        "error": result.price - reference if math.isfinite(reference) else None,
        "eps": result.eps,
        "rel_eps": result.rel_eps if math.isfinite(result.rel_eps) else None,
        "pilot_price": result.pilot_price if math.isfinite(result.pilot_price) else None,
        "converged": result.converged,
        "warnings": result.warnings.splitlines(),
        "effective_Lmin": result.effective_Lmin,
        "level0": result.level0,
        "level0_value": result.level0_value if result.method != "mc" else None,
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
