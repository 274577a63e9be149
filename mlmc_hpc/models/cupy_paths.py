"""Path-dependent payoffs on one GPU: fused CuPy kernels (``cuda/path_payoffs.cu``).

The asian (arithmetic and geometric average), lookback, digital and barrier options of
:mod:`mlmc_hpc.models.paths` with the same coupled Milstein paths and Brownian-bridge
estimators (Giles, "Improved multilevel Monte Carlo convergence using the Milstein
scheme", MCQMC 2006, section 4): per coarse step H = M h of M fine sub-steps,

    X_1 = X_0 ((1 + r H) + sigma dW + sigma^2/2 (dW^2 - H)),

the Asian adds H (X_0 + X_1)/2 + sigma X_0 (sum_j I_j + h sum_j (w_{j-1} + w_j)/2 - H dW/2)
(ln X and sigma for the geometric average) with I_j = h sqrt(h/12) xi_j; the lookback
takes the minimum (a + b - sqrt((b - a)^2 - 2 h v^2 ln U_j))/2 of the bridge over each
sub-interval; the barrier multiplies by 1 - exp(-2 max(0, (a - B)(b - B)) / (h v^2)); the
digital pays payout N((X_0 (1 + r H) + v w_{M-1} - K) / (v sqrt h)) on the last step.

One thread per sample, one kernel launch per batch, the rows of six partial sums reduced
in a fixed order (:class:`~mlmc_hpc.models.cupy_sampler.CupyLevelSampler`). Random
stream of sample i in batch b of level l (Philox4x32-10 keyed by the seed, l < 128):

- normal pair j: counter (j_lo, i_lo, b_lo, tag_word(l, b, i, j)); its normals 2j, 2j + 1
  are the Z of fine steps 2j, 2j + 1, dW = sqrt(h) Z (level 0: normal 0 of pair 0);
- extra pair j: the same counter with bit 7 of the tag's level byte set (:data:`EXTRA_TAG`;
  the normals never set it since l < 128), again for fine steps 2j, 2j + 1: the Asian's
  two Box-Muller normals xi_j, the lookback's uniforms uniform52(x, y), uniform52(z, w) in
  (0, 1] (:func:`mlmc_hpc.models.philox.uniform52`). The digital and barrier use none.

The NumPy twin (``tests/gpu/path_reference.py``) draws the same numbers and feeds them to
:func:`mlmc_hpc.models.paths.simulate_given`, so the kernels are checked against the NumPy
coupling itself.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ..config.schema import OptionSpec
from .cupy_sampler import THREADS, CupyLevelSampler, launch_blocks
from .gbm import fine_steps
from .options import payout

EXTRA_TAG = 0x80  # tag bit of the extra randoms' counters (level byte, bit 7)
MAX_LEVEL = 127  # the level byte's bit 7 is EXTRA_TAG
PATH_KERNELS = ("path_asian_arithmetic", "path_asian_geometric", "path_lookback",
                "path_digital", "path_barrier")  # fmt: skip


class PathArgs(NamedTuple):
    """The kernels' ``PathParams`` (same order), computed on the host as paths.py does."""

    S0: float
    K: float
    sigma: float
    T: float
    h: float  # fine step T / M^l (T at level 0)
    H: float  # coarse step M h
    sqrt_h: float
    i_scale: float  # h sqrt(h / 12): standard deviation of a bridge integral I_j
    grow_f: float  # 1 + r h
    grow_c: float  # 1 + r H
    half_s2: float  # sigma^2 / 2
    discount: float  # e^{-rT}
    param: float  # barrier level B, the digital's payout, else 0
    M: int
    coarse_steps: int  # M^(l-1); 0 at level 0 (no coarse path)


def path_kernel(option: OptionSpec) -> str:
    """The kernel of a path-dependent option type (ValueError for call and put)."""
    kind = option.type
    if kind == "asian":
        kind = f"asian_{option.average}"
    name = f"path_{kind}"
    if name not in PATH_KERNELS:
        raise ValueError(f"option type {option.type!r} has no path kernel (call and put are "
                         f"European: cupy_sampler.CupyMilsteinSampler)")  # fmt: skip
    return name


def path_args(option: OptionSpec, M: int, level: int) -> PathArgs:
    """:class:`PathArgs` of ``level`` (see the module docstring for the formulas)."""
    o = option
    h = o.T / fine_steps(M, level)
    H = M * h
    if o.type == "barrier":
        param = float(o.barrier) if o.barrier is not None else math.nan
    elif o.type == "digital":
        param = float(payout(o))
    else:
        param = 0.0
    return PathArgs(o.S0, o.K, o.sigma, o.T, h, H, math.sqrt(h), h * math.sqrt(h / 12.0),
                    1.0 + o.r * h, 1.0 + o.r * H, 0.5 * o.sigma**2, math.exp(-o.r * o.T),
                    param, M, M ** (level - 1) if level else 0)  # fmt: skip


class CupyPathSampler(CupyLevelSampler):
    """Sums of Y = Pf - Pc for n coupled samples of a path-dependent option on one level."""

    kernels_used = PATH_KERNELS

    def __init__(self, option: OptionSpec, M: int, seed: int) -> None:
        self.kernel = path_kernel(option)
        super().__init__(option, M, seed)

    def launch(self, level: int, batch: int, n: int, out: Any) -> None:
        """Queue the payoff's kernel on n samples (one thread each), then the reduction."""
        if not 0 <= level <= MAX_LEVEL:
            raise ValueError(f"level {level}: the path kernels take levels 0..{MAX_LEVEL}")
        cp = self.cupy
        a = path_args(self.option, self.M, level)
        blocks = launch_blocks(n)
        args = (*(cp.float64(value) for value in a[:13]), cp.int32(a.M),
                cp.uint64(a.coarse_steps), cp.uint32(level), cp.uint64(n), self.key,
                cp.uint64(batch), self.partials)  # fmt: skip
        self.kernels[self.kernel]((blocks,), (THREADS,), args)
        self.reduce_into(blocks, out)
