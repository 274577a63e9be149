"""A slow NumPy emulation of the CuPy kernels (same Philox stream, same arithmetic).

Used on the CPU to check the kernels' algorithm statistically, and on a GPU to check
the kernels themselves against it (equal up to libm rounding).
"""

from __future__ import annotations

import numpy as np

from mlmc_hpc.core.sums import COST, N_SUMS, PF1, PF2, Y1, Y2, Y3, Y4, N
from mlmc_hpc.models.gbm import milstein_factor
from mlmc_hpc.models.options import make_payoff
from mlmc_hpc.models.philox import level0_normals, stream_normals


def emulated_sums(option, M: int, seed: int, level: int, batch: int, n: int) -> np.ndarray:
    a, b = make_payoff(option).linear_part
    if level == 0:
        u, v, w = milstein_factor(option, option.T)
        z = level0_normals(seed, batch, n)
        pf = np.maximum(a * (option.S0 * ((u * z + v) ** 2 + w)) + b, 0.0)
        pc = np.zeros_like(pf)
    else:
        h = option.T / M**level
        u, v, wf = milstein_factor(option, h)
        wc = milstein_factor(option, M * h)[2]
        z = stream_normals(seed, level, batch, np.arange(n), M**level)
        fine = option.S0 * np.prod((u * z + v) ** 2 + wf, axis=1)
        zc = z.reshape(n, -1, M).sum(axis=2)
        coarse = option.S0 * np.prod((u * zc + v) ** 2 + wc, axis=1)
        pf, pc = np.maximum(a * fine + b, 0.0), np.maximum(a * coarse + b, 0.0)
    y = pf - pc
    sums = np.zeros(N_SUMS)
    sums[[N, Y1, Y2, Y3, Y4, PF1, PF2]] = (n, y.sum(), (y**2).sum(), (y**3).sum(),
                                           (y**4).sum(), pf.sum(), (pf**2).sum())  # fmt: skip
    sums[COST] = float(n) * M**level
    return sums
