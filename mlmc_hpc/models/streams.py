"""Random streams of the NumPy samplers: one independent keyed stream per batch.

Batch b of level l draws from SFC64 seeded by ``SeedSequence([l, b, seed])``, so a batch's
numbers depend on (seed, level, batch) alone and batches can run anywhere, in any order.
This keying is a public contract (results are reproducible from the seed and batch size).
The CuPy kernels' Philox stream and its NumPy twin are in :mod:`mlmc_hpc.models.philox`.
"""

from __future__ import annotations

import numpy as np


def batch_generator(seed: int, level: int, batch: int) -> np.random.Generator:
    """Independent keyed stream for one batch: SFC64(SeedSequence([level, batch, seed]))."""
    return np.random.Generator(np.random.SFC64(np.random.SeedSequence([level, batch, seed])))
