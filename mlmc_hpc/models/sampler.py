"""The interface every level sampler has (NumPy, CuPy, plain Monte Carlo, control level 0)."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Sampler(Protocol):
    """What executors call: the cost of a sample and the sums of a keyed batch."""

    def steps(self, level: int) -> int:
        """Timesteps of one sample of ``level`` (its cost)."""
        ...

    def sample(self, level: int, batch: int, n: int) -> np.ndarray:
        """The eight sums (:mod:`mlmc_hpc.core.sums`) of batch ``batch`` of ``level``."""
        ...
