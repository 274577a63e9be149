"""A NumPy emulation of the path-payoff kernels (``cuda/path_payoffs.cu``).

It draws the kernels' Philox numbers (normals of the fine steps; the Asian's bridge
normals or the lookback's uniforms from the counters with the extra tag bit, see
:mod:`mlmc_hpc.models.cupy_paths`) and feeds them to
:func:`mlmc_hpc.models.paths.simulate_given`: the emulation is the NumPy coupling itself.
"""

from __future__ import annotations

import math

import numpy as np

from mlmc_hpc.core.sums import COST, N_SUMS, PF1, PF2, Y1, Y2, Y3, Y4, N
from mlmc_hpc.models.cupy_paths import EXTRA_TAG
from mlmc_hpc.models.paths import simulate_given
from mlmc_hpc.models.philox import (
    MASK32,
    philox4x32_10,
    seed_key,
    stream_normals,
    tag_word,
    uniform52,
)

CHUNK = 16384  # samples emulated at once


def stream_uniforms(seed: int, tag_level: int, batch: int, samples: np.ndarray, count: int):
    """The first ``count`` uniforms of each sample: pair j gives uniform52(x, y), uniform52(z, w)."""
    samples = np.asarray(samples, dtype=np.uint64)
    pairs = np.arange((count + 1) // 2, dtype=np.uint64)
    s, p = np.meshgrid(samples, pairs, indexing="ij")
    counters = np.stack(
        [p & MASK32, s & MASK32, np.full_like(s, batch & 0xFFFFFFFF),
         tag_word(tag_level, batch, s, p)],
        axis=-1,
    )  # fmt: skip
    r = philox4x32_10(counters, seed_key(seed))
    u = np.stack([uniform52(r[..., 0], r[..., 1]), uniform52(r[..., 2], r[..., 3])], axis=-1)
    return u.reshape(len(samples), -1)[:, :count]


def path_randoms(option, M: int, seed: int, level: int, batch: int, samples: np.ndarray):
    """(Z, extra) of the samples, each (samples, M^l) in fine-step order; extra None for the
    digital and barrier."""
    steps = M**level
    z = stream_normals(seed, level, batch, samples, steps)
    extra = None
    if option.type == "asian":
        extra = stream_normals(seed, level | EXTRA_TAG, batch, samples, steps)
    elif option.type == "lookback":
        extra = stream_uniforms(seed, level | EXTRA_TAG, batch, samples, steps)
    return z, extra


def emulated_pairs(option, M: int, seed: int, level: int, batch: int, samples: np.ndarray):
    """(Pf, Pc) of the given samples, through paths.simulate_given."""
    z, extra = path_randoms(option, M, seed, level, batch, samples)
    h = option.T / M**level
    dW = np.ascontiguousarray(z.T) * math.sqrt(h)
    extra_t = None if extra is None else np.ascontiguousarray(extra.T)
    return simulate_given(option, dW, extra_t, M if level else None)


def emulated_sums(option, M: int, seed: int, level: int, batch: int, n: int) -> np.ndarray:
    """The eight batch sums of n samples, as the kernels compute them (up to rounding)."""
    sums = np.zeros(N_SUMS)
    for start in range(0, n, CHUNK):
        samples = np.arange(start, min(n, start + CHUNK), dtype=np.uint64)
        pf, pc = emulated_pairs(option, M, seed, level, batch, samples)
        y = pf - pc
        sums[[Y1, Y2, Y3, Y4, PF1, PF2]] += (y.sum(), (y**2).sum(), (y**3).sum(),
                                             (y**4).sum(), pf.sum(), (pf**2).sum())  # fmt: skip
    sums[N] = n
    sums[COST] = float(n) * M**level
    return sums
