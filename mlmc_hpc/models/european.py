"""Coupled Milstein GBM level sampler in NumPy float64, in cache-sized chunks.

Milstein for dS = r S dt + sigma S dW (Giles, "Improved multilevel Monte Carlo
convergence using the Milstein scheme", MCQMC 2006, eq. 2):

    S_{n+1} = S_n (1 + r h + sigma dW + sigma^2/2 (dW^2 - h)),   dW = sqrt(h) Z.

The factor is a quadratic in Z, written here as (u Z + v)^2 + w with
u = sigma sqrt(h/2), v = 1/sqrt(2), w = 1/2 + (r - sigma^2/2) h, so a block of
timesteps costs four in-place passes and one product-reduce, with no temporaries.
The coarse path (step M h) is driven by the sum of each M fine normals:
dW_c = sqrt(h) Z_sum, whose factor is (u Z_sum + v)^2 + w_c, w_c = 1/2 + (r - sigma^2/2) M h.

Memory is bounded by the chunk (about 2**16 doubles per buffer) whatever n is.
Random numbers for batch b of level l come from :func:`~mlmc_hpc.models.streams.batch_generator`.
"""

from __future__ import annotations

import math

import numpy as np

from ..config.schema import OptionSpec
from ..core.sums import batch_totals, moment_row
from .gbm import fine_steps, milstein_factor
from .options import make_payoff
from .streams import batch_generator

CHUNK_ELEMENTS = 1 << 16  # normals per block: 512 KiB, sized for L2 caches
MAX_BLOCK_STEPS = 64  # timesteps per block on fine levels


class MilsteinGBMSampler:
    """Sums of Y = Pf - Pc for n coupled samples on one level (see module docstring)."""

    def __init__(
        self, option: OptionSpec, M: int, seed: int, chunk_elements: int = CHUNK_ELEMENTS
    ) -> None:
        self.option = option
        self.M = M
        self.seed = seed
        self.chunk_elements = chunk_elements
        self.payoff = make_payoff(option)
        self._workspace = _Workspace(chunk_elements)

    def steps(self, level: int) -> int:
        """Fine timesteps of one sample of ``level`` (its cost)."""
        return fine_steps(self.M, level)

    def _block_steps(self, level: int) -> int:
        """Largest power of M that divides M^level and is <= MAX_BLOCK_STEPS (at least M)."""
        k = self.M
        while k * self.M <= MAX_BLOCK_STEPS and level > 0 and self.steps(level) % (k * self.M) == 0:
            k *= self.M
        return min(k, self.steps(level))

    def sample(self, level: int, batch: int, n: int) -> np.ndarray:
        """The eight batch sums (see :mod:`mlmc_hpc.core.sums`) of n samples of level."""
        rng = batch_generator(self.seed, level, batch)
        block = 1 if level == 0 else self._block_steps(level)
        width = max(1, self.chunk_elements // block)
        rows = []
        for start in range(0, n, width):
            ws = self._workspace.view(block, min(width, n - start), self.M)
            if level == 0:
                rows.append(self._level0_chunk(rng, ws))
            else:
                rows.append(self._coupled_chunk(rng, level, ws))
        return batch_totals(rows, n, self.steps(level))

    def _level0_chunk(self, rng: np.random.Generator, ws: _Workspace) -> np.ndarray:
        """One Milstein step of size T; Pc = 0 so Y = Pf.

        With payoff max(a S + b, 0) and S = S0 ((uZ + v)^2 + w):
        a S + b = sign(a) (k u Z + k v)^2 + (a S0 w + b), k = sqrt(|a| S0).
        """
        o = self.option
        u, v, w = milstein_factor(o, o.T)
        scale, shift = self.payoff.linear_part
        k = math.sqrt(abs(scale) * o.S0)
        y = ws.path_f
        rng.standard_normal(out=y)
        y *= k * u
        y += k * v
        np.square(y, out=y)
        if scale > 0:
            y += scale * o.S0 * w + shift
        else:
            np.subtract(scale * o.S0 * w + shift, y, out=y)
        np.maximum(y, 0.0, out=y)
        return moment_row(y, y, ws.square)

    def _coupled_chunk(self, rng: np.random.Generator, level: int, ws: _Workspace) -> np.ndarray:
        """One chunk of coupled samples on ``level`` >= 1; the sums of Y = Pf - Pc and Pf."""
        o, M = self.option, self.M
        block = ws.z.shape[0]
        h = o.T / self.steps(level)
        u, v, w = milstein_factor(o, h)
        wc = 0.5 + (o.r - 0.5 * o.sigma**2) * M * h
        fine, coarse = ws.path_f, ws.path_c
        fine.fill(o.S0)
        coarse.fill(o.S0)
        grouped = ws.z.reshape(block // M, M, -1)
        for _ in range(self.steps(level) // block):
            rng.standard_normal(out=ws.z)
            np.copyto(ws.zc, grouped[:, 0])
            for j in range(1, M):
                ws.zc += grouped[:, j]
            for increments, w_step, path in ((ws.zc, wc, coarse), (ws.z, w, fine)):
                increments *= u
                increments += v
                np.square(increments, out=increments)
                increments += w_step
                np.multiply.reduce(increments, axis=0, out=ws.square)
                path *= ws.square
        pf = self.payoff.apply_(fine)
        pc = self.payoff.apply_(coarse)
        np.subtract(pf, pc, out=pc)
        return moment_row(pc, pf, ws.square)


class _Workspace:
    """Chunk buffers, allocated once per sampler and viewed at any width <= their size:
    normals (block x m), coarse normals, two paths and a scratch row."""

    def __init__(self, elements: int) -> None:
        self._z = np.empty(elements)
        self._zc = np.empty(elements)
        self._rows = np.empty((3, elements))

    def view(self, block: int, m: int, M: int) -> _Workspace:
        self.z = self._z[: block * m].reshape(block, m)
        self.zc = self._zc[: max(1, block // M) * m].reshape(-1, m)
        self.path_f, self.path_c, self.square = (row[:m] for row in self._rows)
        return self
