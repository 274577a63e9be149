"""Per-level sample sums: the only thing a sampler returns and the driver sees.

A batch of samples at level l is summarised by eight float64 numbers (the layout
of :data:`SUM_FIELDS`), small enough to send through MPI as one buffer:

    n, sum Y, sum Y^2, sum Y^3, sum Y^4, sum Pf, sum Pf^2, cost

with Y = Pf - Pc and cost = n * M^l fine timesteps. Totals over many batches are
merged with Neumaier's compensated summation, so 1e10 samples in 1e4 batches lose
no more than a couple of ulps; merging in a fixed (level, batch) order makes the
result bit-identical whoever computed the batches.

A level may instead be *known* (``LevelSums.known(value)``): its mean is given exactly
(an exact level-0 expectation, :mod:`mlmc_hpc.models.level0`), it has no samples, zero
variance and costs nothing; the driver never samples it.
"""

from __future__ import annotations

import math

import numpy as np

SUM_FIELDS = ("n", "sum_y", "sum_y2", "sum_y3", "sum_y4", "sum_pf", "sum_pf2", "cost")
N_SUMS = len(SUM_FIELDS)
N, Y1, Y2, Y3, Y4, PF1, PF2, COST = range(N_SUMS)


def empty_sums() -> np.ndarray:
    """Eight zeros in the :data:`SUM_FIELDS` layout (the sums of no samples)."""
    return np.zeros(N_SUMS)


class LevelSums:
    """Compensated running totals of one level's batch sums, with derived statistics."""

    def __init__(self, totals: np.ndarray | None = None) -> None:
        self._hi = empty_sums() if totals is None else np.array(totals, dtype=np.float64)
        self._lo = empty_sums()
        self.seconds = 0.0  # compute time spent on this level (never used for decisions)
        self.exact: float | None = None  # the known mean of a level that is not sampled

    @classmethod
    def known(cls, value: float) -> LevelSums:
        """A level whose mean E[Y_l] = ``value`` is known exactly: no samples, variance 0."""
        level = cls()
        level.exact = float(value)
        return level

    def add(self, batch: np.ndarray, seconds: float = 0.0) -> None:
        """Neumaier: t = s + x; lo += (s - t) + x if |s| >= |x| else (x - t) + s."""
        batch = np.asarray(batch, dtype=np.float64)
        total = self._hi + batch
        big_first = np.abs(self._hi) >= np.abs(batch)
        self._lo += np.where(big_first, (self._hi - total) + batch, (batch - total) + self._hi)
        self._hi = total
        self.seconds += seconds

    def add_many(self, batches: np.ndarray, seconds: float = 0.0) -> None:
        """:meth:`add` of each row of ``batches`` (k x 8) in order, in a few array passes:
        ``add.accumulate`` sums left to right, so the running totals, their compensation
        terms and hence the result are bit for bit those of k calls of :meth:`add`."""
        rows = np.asarray(batches, dtype=np.float64).reshape(-1, N_SUMS)
        if not len(rows):
            return
        totals = np.add.accumulate(np.vstack([self._hi, rows]), axis=0)
        before, after = totals[:-1], totals[1:]
        big_first = np.abs(before) >= np.abs(rows)
        terms = np.where(big_first, (before - after) + rows, (rows - after) + before)
        self._lo = np.add.accumulate(np.vstack([self._lo, terms]), axis=0)[-1]
        self._hi = totals[-1].copy()
        self.seconds += seconds

    def merge(self, other: LevelSums) -> None:
        """Add another level's totals: its running sums, then its compensation terms."""
        self.add(other._hi, other.seconds)
        self.add(other._lo)

    def compensated(self) -> tuple[np.ndarray, np.ndarray]:
        """(running sums, compensation terms): together they restore this object exactly."""
        return self._hi.copy(), self._lo.copy()

    @classmethod
    def restored(
        cls, hi: np.ndarray, lo: np.ndarray, seconds: float = 0.0, exact: float | None = None
    ) -> LevelSums:
        """Inverse of :meth:`compensated` and :attr:`exact` (used to resume from a checkpoint)."""
        level = cls(hi)
        level._lo = np.array(lo, dtype=np.float64)
        level.seconds = float(seconds)
        level.exact = exact
        return level

    @property
    def totals(self) -> np.ndarray:
        """The eight sums (:data:`SUM_FIELDS`): running sums plus compensation."""
        return self._hi + self._lo

    @property
    def n(self) -> int:
        """Number of samples N_l, rounded to an integer."""
        return int(round(self.totals[N]))

    @property
    def cost(self) -> float:
        """Timesteps of all samples: sum over batches of n times the timesteps per sample."""
        return float(self.totals[COST])

    def _moments(self) -> tuple[float, float, float, float]:
        t = self.totals
        n = t[N]
        return t[Y1] / n, t[Y2] / n, t[Y3] / n, t[Y4] / n

    @property
    def mean(self) -> float:
        """Sample mean of Y = Pf - Pc: sum Y / n (0 without samples); a known level's value."""
        if self.exact is not None:
            return self.exact
        return float(self.totals[Y1] / self.totals[N]) if self.n else 0.0

    def _unbiased_variance(self, first: int, second: int) -> float:
        """(sum X^2 - sum X * mean) / (n - 1), floored at 0; 0 for fewer than 2 samples."""
        n = self.n
        if n < 2:
            return 0.0
        t = self.totals
        return max(0.0, float((t[second] - t[first] * (t[first] / n)) / (n - 1)))

    @property
    def variance(self) -> float:
        """Unbiased sample variance of Y = Pf - Pc."""
        return self._unbiased_variance(Y1, Y2)

    @property
    def mean_pf(self) -> float:
        """Sample mean of Pf: sum Pf / n (0 without samples); a known level's value (level 0,
        the only level that can be known, has Pc = 0)."""
        if self.exact is not None:
            return self.exact
        return float(self.totals[PF1] / self.totals[N]) if self.n else 0.0

    @property
    def variance_pf(self) -> float:
        """Unbiased sample variance of Pf."""
        return self._unbiased_variance(PF1, PF2)

    @property
    def kurtosis(self) -> float:
        """Giles' mlmc_test kurtosis: E[(Y-m)^4] / V^2 from the raw power sums."""
        if self.n < 2:
            return float("nan")
        m1, m2, m3, m4 = self._moments()
        central4 = m4 - 4 * m3 * m1 + 6 * m2 * m1**2 - 3 * m1**4
        var = m2 - m1**2
        return float(central4 / var**2) if var > 0 else float("nan")


def moment_row(y: np.ndarray, pf: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
    """Sums of one chunk of samples in the :data:`SUM_FIELDS` layout (n and cost left 0)."""
    row = empty_sums()
    y2 = np.multiply(y, y, out=scratch)
    row[Y1] = y.sum()
    row[Y2] = y2.sum()
    row[Y3] = np.dot(y2, y)
    row[Y4] = np.dot(y2, y2)
    row[PF1] = row[Y1] if pf is y else pf.sum()
    row[PF2] = row[Y2] if pf is y else np.dot(pf, pf)
    return row


def batch_totals(rows: list[np.ndarray], n: int, timesteps_per_sample: int) -> np.ndarray:
    """A batch's sums from its chunk rows: exactly rounded column sums (fsum), n and cost."""
    sums = np.array([math.fsum(column) for column in np.array(rows).T])
    sums[N] = n
    sums[COST] = float(n) * timesteps_per_sample
    return sums
