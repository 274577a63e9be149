"""The level sampler of multilevel quasi-Monte Carlo: coupled paths on randomised points.

A task (level, batch, n) names points a..a+n-1 of randomisation r of the level's point
set, ``batch = r * 2**RANGE_BITS + a`` (:func:`batch_id`). The points
(:class:`~mlmc_hpc.models.qmc.LevelPoints`, keyed by (seed, level, r)) become the fine
path's Brownian increments by a Brownian bridge, plus the Asian's bridge-integral normals
or the lookback's uniforms, and the fine and coarse paths are coupled exactly as in
Monte Carlo (:func:`~mlmc_hpc.models.paths.simulate_given`: the coarse path takes the
sums of M fine increments). Every option type; chunks of about CHUNK_NUMBERS random
numbers per array bound the memory whatever n. A fine level's few points per task make
the path types' per-step Python loop the cost there (calls and puts run vectorised).
"""

from __future__ import annotations

import numpy as np

from ..config.schema import OptionSpec
from ..core.sums import batch_totals, moment_row
from .gbm import fine_steps
from .options import is_european, make_payoff
from .paths import simulate_given
from .qmc import LevelPoints, brownian_increments

RANGE_BITS = 40  # batch ids: randomisation in the high bits, first point in the low ones
CHUNK_NUMBERS = 1 << 20  # steps x points drawn at once (8 MiB per array)
EXTRA = {"asian": "normals", "lookback": "uniforms"}  # others: "none"


def batch_id(randomisation: int, first: int) -> int:
    """The task's batch field for points ``first``.. of ``randomisation``."""
    return (randomisation << RANGE_BITS) | first


def split_id(batch: int) -> tuple[int, int]:
    """(randomisation, first point) of a batch id: the inverse of :func:`batch_id`."""
    return batch >> RANGE_BITS, batch & ((1 << RANGE_BITS) - 1)


class QMCPathSampler:
    """Sums of Y = Pf - Pc over a range of one randomisation's points (module docstring)."""

    def __init__(self, option: OptionSpec, M: int, seed: int) -> None:
        self.option, self.M, self.seed = option, M, seed
        self.extra = EXTRA.get(option.type, "none")
        self.payoff = make_payoff(option) if is_european(option) else None

    def steps(self, level: int) -> int:
        """Fine timesteps of one point of ``level`` (its cost): M^l."""
        return fine_steps(self.M, level)

    def sample(self, level: int, batch: int, n: int) -> np.ndarray:
        """The eight batch sums of points a..a+n-1 of randomisation r (``batch``)."""
        r, first = split_id(batch)
        steps = self.steps(level)
        points = LevelPoints(self.seed, level, r, steps, self.extra)
        h = self.option.T / steps
        width = max(1, CHUNK_NUMBERS // steps)
        rows = []
        for start in range(first, first + n, width):
            count = min(width, first + n - start)
            normals, extra = points.draw(start, count)
            dW = brownian_increments(normals, h)
            if self.payoff is not None:
                pf, pc = self._european(dW, h, level)
            else:
                pf, pc = simulate_given(self.option, dW, extra, self.M if level else None)
            rows.append(moment_row(pf - pc, pf))
        return batch_totals(rows, n, steps)

    def _european(self, dW: np.ndarray, h: float, level: int) -> tuple[np.ndarray, np.ndarray]:
        """(Pf, Pc) of a call or put at once over all steps: S_T = S0 prod_j (1 + r h +
        sigma dW_j + sigma^2/2 (dW_j^2 - h)), the coarse path on the sums of M increments."""
        o, payoff = self.option, self.payoff
        if payoff is None:
            raise RuntimeError("the European fast path needs a call or put")

        def terminal(increments: np.ndarray, step: float) -> np.ndarray:
            factor = 1.0 + o.r * step + o.sigma * increments
            factor += 0.5 * o.sigma**2 * (increments * increments - step)
            return o.S0 * np.prod(factor, axis=0)

        pf = payoff.apply_(terminal(dW, h))
        if not level:
            return pf, np.zeros_like(pf)
        coarse = dW.reshape(dW.shape[0] // self.M, self.M, -1).sum(axis=1)
        return pf, payoff.apply_(terminal(coarse, self.M * h))
