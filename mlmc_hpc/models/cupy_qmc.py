"""Multilevel quasi-Monte Carlo of calls and puts on one GPU: the ``qmc_sobol`` kernel.

The MLQMC of M.B. Giles and B.J. Waterhouse, "Multilevel quasi-Monte Carlo path
simulation" (2009), with the points of :mod:`mlmc_hpc.models.qmc_hash` (its NumPy twin):
Sobol points with Joe & Kuo's direction numbers, made from the point index directly, Owen's
nested uniform scrambling (Owen 1995) by a keyed hash in bit-reversed order (Laine & Karras
2011; Burley, "Practical hash-based Owen scrambling", 2020), keyed by Philox4x32-10 on
(dimension, randomisation, level) under the seed's key; Philox normals past the first 64
coordinates. Coordinate 0 sets W(T) = sqrt(T) z_0, the others the Brownian bridge's
midpoints coarse to fine; each thread walks the bisection tree depth first keeping W at
the right ends of its pending intervals, ceil(log2 steps) doubles in dynamic shared
memory, so up to 2^22 steps (45 KiB a block, under the 48 KiB any GPU grants without
opt-in). Fine step S <- S ((s dW + v)^2 + w_f), s = sigma/sqrt(2), v = 1/sqrt(2),
w = 1/2 + (r - sigma^2/2) h (Milstein); the coarse path steps on the sums of M fine
increments with w_c of step M h; payoff max(a S_T + b, 0).

Tasks are those of :class:`~mlmc_hpc.models.qmc_sampler.QMCPathSampler`: (level, batch, n)
with ``batch = r << 40 | a`` names points a..a+n-1 (a + n <= 2^32) of randomisation r, so
the MLQMC driver (:mod:`mlmc_hpc.parallel.points`) runs unchanged on it. The point set
differs from the NumPy sampler's (SciPy's LMS scrambling), statistically equivalent; the
sums equal :class:`~mlmc_hpc.models.qmc_hash.HashQMCSampler`'s up to rounding.
"""

from __future__ import annotations

import math
from typing import Any

from ..config.schema import OptionSpec
from .cupy_sampler import THREADS, CupyLevelSampler, launch_blocks
from .gbm import milstein_factor
from .options import make_payoff
from .qmc_hash import BITS, MAX_STEPS, direction_numbers
from .qmc_sampler import split_id


class CupyQMCSampler(CupyLevelSampler):
    """Sums of Y = Pf - Pc over a range of one randomisation's points (module docstring)."""

    kernels_used = ("qmc_sobol",)

    def __init__(self, option: OptionSpec, M: int, seed: int) -> None:
        import cupy

        self.a, self.b = make_payoff(option).linear_part
        self.directions = cupy.asarray(direction_numbers().ravel())  # 64 x 32 uint32, once
        super().__init__(option, M, seed)

    def launch(self, level: int, batch: int, n: int, out: Any) -> None:
        """Queue the points of one task (one thread each) and their reduction into ``out``."""
        o, cp = self.option, self.cupy
        r, first = split_id(batch)
        steps = self.steps(level)
        if first + n > 1 << BITS or r >= 1 << 32 or steps > MAX_STEPS:
            raise ValueError(f"points {first}..{first + n - 1} of randomisation {r} with "
                             f"{steps} steps: out of the generator's range")  # fmt: skip
        h = o.T / steps
        wf = milstein_factor(o, h)[2]
        wc = milstein_factor(o, self.M * h)[2]
        f64, u32 = cp.float64, cp.uint32
        doubles = (o.S0, o.sigma * math.sqrt(0.5), math.sqrt(0.5), wf, wc, self.a, self.b,
                   math.sqrt(h), math.sqrt(steps * h))  # fmt: skip
        blocks = launch_blocks(n)
        shape = (u32(steps), u32(self.M), u32(level), u32(r), cp.uint64(first), cp.uint64(n))
        args = (*(f64(x) for x in doubles), *shape, self.directions, self.key, self.partials)
        frames = max(1, (steps - 1).bit_length())  # pending W values a thread: <= 22
        self.kernels["qmc_sobol"]((blocks,), (THREADS,), args, shared_mem=frames * THREADS * 8)
        self.reduce_into(blocks, out)
