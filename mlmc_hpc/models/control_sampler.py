"""Level 0 with a control variate (``mlmc.level0: control``) in front of any level sampler.

Level 0 draws from the same keyed stream as every batch (:func:`batch_generator` with
(seed, 0, batch)) and returns the sums of Y_0 = P_0 - c (Q - E[Q]), where Q is the
exact-GBM payoff on the same normals and c the optimal coefficient, both from
:func:`~mlmc_hpc.models.level0_control.control_level0`. Pf is the plain P_0 (same mean), so
a result's ``variance_pf`` against ``variance`` on level 0 shows what the control removed,
and Giles' telescoping check on level 1 is unchanged. Every other level goes to the
wrapped sampler unchanged, so on a GPU the control level runs in NumPy on the worker's CPU
(one timestep per sample, as it is counted).
"""

from __future__ import annotations

import numpy as np

from ..config.schema import OptionSpec
from ..core.sums import batch_totals, moment_row
from .level0_control import control_level0
from .sampler import Sampler
from .streams import batch_generator

CONTROL_WIDTH = 8192  # level-0 samples per chunk


class ControlLevel0Sampler:
    """``inner`` for levels >= 1; the control-variate level 0 (module docstring)."""

    def __init__(self, inner: Sampler, option: OptionSpec, seed: int) -> None:
        self.inner, self.seed = inner, seed
        self.control = control_level0(option)

    def steps(self, level: int) -> int:
        """Timesteps of one sample of ``level``: the wrapped sampler's (1 on level 0)."""
        return self.inner.steps(level)

    def sample(self, level: int, batch: int, n: int) -> np.ndarray:
        """The eight batch sums of n samples of ``level``."""
        if level:
            return self.inner.sample(level, batch, n)
        rng = batch_generator(self.seed, 0, batch)
        rows = []
        c, mean = self.control.coefficient, self.control.control_mean
        for start in range(0, n, CONTROL_WIDTH):
            p0, q = self.control.pair(rng, min(CONTROL_WIDTH, n - start))
            y = p0 - c * (q - mean) if c else p0
            rows.append(moment_row(y, p0))
        return batch_totals(rows, n, self.steps(0))
