"""The geometric Brownian motion grid and its Milstein step: facts every sampler shares.

Level l of MLMC uses M^l steps of size h = T / M^l (the cost of one sample, in fine
timesteps); plain Monte Carlo uses ``mlmc.mc_steps`` steps, or exact sampling at a cost of
one. Milstein for dS = r S dt + sigma S dW (Giles, MCQMC 2006, eq. 2):

    S_{n+1} = S_n (1 + r h + sigma dW + sigma^2/2 (dW^2 - h)),   dW = sqrt(h) Z,

a quadratic in Z, written (u Z + v)^2 + w with u = sigma sqrt(h/2), v = 1/sqrt(2),
w = 1/2 + (r - sigma^2/2) h.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..config.schema import MLMCSettings, OptionSpec


def fine_steps(M: int, level: int) -> int:
    """Timesteps of one sample on MLMC level ``level``: M^l."""
    return M**level


def plain_steps(mc_steps: int | None) -> int:
    """Timesteps of one plain Monte Carlo sample: ``mc_steps``, or 1 for exact sampling."""
    return mc_steps or 1


def level_cost(settings: MLMCSettings) -> Callable[[int], int]:
    """Cost (fine timesteps) of one sample on each level: the one home of this fact, asked by
    the planner, the result's ``cost_per_sample`` and Giles' tests."""
    if settings.method == "mc":
        steps = plain_steps(settings.mc_steps)
        return lambda level: steps
    M = settings.M
    return lambda level: fine_steps(M, level)


def milstein_factor(option: OptionSpec, h: float) -> tuple[float, float, float]:
    """(u, v, w) of the Milstein factor (u Z + v)^2 + w for step h; see the module docstring."""
    drift = option.r - 0.5 * option.sigma**2
    return option.sigma * math.sqrt(0.5 * h), math.sqrt(0.5), 0.5 + drift * h
