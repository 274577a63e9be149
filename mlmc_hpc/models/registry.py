"""The one map from a config to the sampler that does its work.

European payoffs by MLMC run on the fused CuPy kernels (``run.backend: cupy``) or the fast
NumPy sampler; path-dependent payoffs on the NumPy path sampler; ``mlmc.method: mc`` on the
plain Monte Carlo sampler. Every sampler has ``steps(level)`` (the cost of one sample, from
:mod:`mlmc_hpc.models.gbm`) and ``sample(level, batch, n) -> the eight batch sums``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..config.schema import Config
from .gbm import level_cost
from .options import is_european, reference_price

__all__ = ["Sampler", "level_cost", "make_sampler", "reference_price"]


class Sampler(Protocol):
    """What executors call: the cost of a sample and the sums of a keyed batch."""

    def steps(self, level: int) -> int:
        """Timesteps of one sample of ``level`` (its cost)."""
        ...

    def sample(self, level: int, batch: int, n: int) -> np.ndarray:
        """The eight sums (:mod:`mlmc_hpc.core.sums`) of batch ``batch`` of ``level``."""
        ...


def make_sampler(config: Config) -> Sampler:
    """The sampler for a resolved config (see the module docstring)."""
    option, settings, seed = config.option, config.mlmc, config.run.seed
    if settings.method == "mc":
        from .plain import PlainMCSampler

        return PlainMCSampler(option, settings.mc_steps, seed)
    if config.run.backend == "cupy":
        from .cupy_sampler import CupyMilsteinSampler

        return CupyMilsteinSampler(option, settings.M, seed)
    if is_european(option):
        from .european import MilsteinGBMSampler

        return MilsteinGBMSampler(option, settings.M, seed)
    from .paths import PathSampler

    return PathSampler(option, settings.M, seed)
