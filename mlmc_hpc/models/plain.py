"""Plain (single-level) Monte Carlo samples: the baseline MLMC is measured against.

Level 0 only, Pc = 0. Exact GBM sampling for call and put (``mlmc.mc_steps: auto``),
S_T = S0 exp((r - sigma^2/2) T + sigma sqrt(T) Z); otherwise ``mc_steps`` Milstein steps
through :func:`mlmc_hpc.models.paths.simulate` (every option type).
"""

from __future__ import annotations

import math

import numpy as np

from ..config.schema import OptionSpec
from ..core.sums import batch_totals, moment_row
from .gbm import plain_steps
from .options import is_european, make_payoff
from .paths import PATH_WIDTH, simulate
from .streams import batch_generator


class PlainMCSampler:
    """Plain Monte Carlo samples (level 0 only, Pc = 0): exact GBM for call and put when
    ``steps`` is None, S_T = S0 exp((r - sigma^2/2) T + sigma sqrt(T) Z); otherwise
    ``steps`` Milstein steps through :func:`simulate`."""

    def __init__(
        self, option: OptionSpec, steps: int | None, seed: int, width: int = PATH_WIDTH
    ) -> None:
        if steps is None and not is_european(option):
            raise ValueError("exact sampling exists for call and put only")
        self.option, self.grid, self.seed, self.width = option, steps, seed, width
        self.payoff = make_payoff(option) if steps is None else None

    def steps(self, level: int) -> int:
        """Timesteps of one sample (its cost): the grid's, or 1 for exact sampling."""
        return plain_steps(self.grid)

    def sample(self, level: int, batch: int, n: int) -> np.ndarray:
        """The eight batch sums (see :mod:`mlmc_hpc.core.sums`) of n samples of level 0."""
        if level != 0:
            raise ValueError(f"plain Monte Carlo has level 0 only, got level {level}")
        o = self.option
        rng = batch_generator(self.seed, 0, batch)
        rows = []
        for start in range(0, n, self.width):
            m = min(self.width, n - start)
            if self.grid is None:
                if self.payoff is None:
                    raise RuntimeError("exact sampling needs the European payoff")
                prices = rng.standard_normal(m)
                prices *= o.sigma * math.sqrt(o.T)
                prices += (o.r - 0.5 * o.sigma**2) * o.T
                np.exp(prices, out=prices)
                prices *= o.S0
                pf = self.payoff.apply_(prices)
            else:
                pf = simulate(o, rng, self.grid, None, m)[0]
            rows.append(moment_row(pf, pf))
        return batch_totals(rows, n, self.steps(0))
