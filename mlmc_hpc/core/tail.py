"""Value-at-Risk and CVaR from mergeable batch summaries, exact for the samples drawn.

A batch of n losses is summarised as (see :func:`summarise`): n, the sum and sum of
squares, min and max, counts on a fixed loss grid (:func:`bin_of`), and its k largest
losses, k = ceil(q n) + 64 with q = 2 (1 - lowest confidence), with t_b the k-th largest.
Merging batches in order keeps every loss above T = max_b t_b: a loss x > T exceeds its
own batch's t_b, so its batch kept it. Hence the m losses above T are exactly the m
largest of all N, and every order statistic among them is exact; VaR and CVaR at p need
only the top (1 - p) N of them (plus the width of the confidence interval), about half of
what is kept. Sums are added in batch order and the kept losses are sorted, so the result
is the same bits whatever computed which batch.

Estimators (Serfling 1980, sec. 2.6; Rockafellar and Uryasev 2000):
  VaR_p  = X_(ceil(p N)), the p-quantile of the N losses drawn;
  95% CI = [X_(r), X_(s)], r = F^-1(0.025), s = F^-1(0.975) + 1, F the Binomial(N, p) CDF:
           distribution-free, coverage >= 95%;
  CVaR_p = VaR_p + sum_i (X_i - VaR_p)^+ / ((1 - p) N);
  95% CI = CVaR_p -+ 1.96 sd((X - VaR_p)^+) / ((1 - p) sqrt(N)) (central limit theorem; the
           VaR's own error does not enter to first order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

Z95 = 1.959963984540054  # the standard normal's 0.975 quantile
X_MIN = 1e-6  # loss grid: |loss| / scale below this falls in the middle bin
X_MAX = 1e3  # ... and beyond this in the outermost bins
STEP = math.log1p(0.01)  # bins 1% wide (relative) between
HALF = math.ceil(math.log(X_MAX / X_MIN) / STEP)
N_BINS = 2 * HALF + 1
EXTRA_KEPT = 64
HEADER = 7  # n, sum, sum of squares, min, max, t_b, k


def bin_of(x: np.ndarray) -> np.ndarray:
    """Grid index 0..N_BINS-1 of losses ``x`` in units of the scale: the middle bin HALF
    holds |x| < X_MIN, bin HALF +- j holds X_MIN e^{(j-1) STEP} <= +-x < X_MIN e^{j STEP},
    the outermost bins everything beyond X_MAX."""
    with np.errstate(divide="ignore"):
        j = np.floor(np.log(np.abs(x) * (1.0 / X_MIN)) * (1.0 / STEP)) + 1.0
    np.clip(j, 0.0, HALF, out=j)
    return (np.where(x < 0.0, -j, j) + HALF).astype(np.int64)


def bin_edges(scale: float) -> np.ndarray:
    """The N_BINS + 1 edges of the grid in loss units (outermost ones +-inf)."""
    inner = X_MIN * np.exp(STEP * np.arange(HALF))
    edges = np.concatenate([-inner[::-1], inner]) * scale
    return np.concatenate([[-np.inf], edges, [np.inf]])


def kept(n: int, lowest: float) -> int:
    """Losses a batch of ``n`` keeps: ceil(2 (1 - lowest) n) + EXTRA_KEPT, at most n."""
    return min(n, math.ceil(2.0 * (1.0 - lowest) * n) + EXTRA_KEPT)


def summarise(losses: np.ndarray, scale: float, lowest: float) -> np.ndarray:
    """A batch's summary as one float64 array: HEADER values, N_BINS counts, k losses."""
    n = len(losses)
    k = kept(n, lowest)
    top = np.sort(np.partition(losses, n - k)[n - k :])
    counts = np.bincount(bin_of(losses * (1.0 / scale)), minlength=N_BINS)
    threshold = float(top[0]) if k < n else -math.inf  # all kept: every loss is exact
    header = [n, float(np.sum(losses)), float(np.dot(losses, losses)), float(losses.min()),
              float(losses.max()), threshold, k]  # fmt: skip
    return np.concatenate([np.array(header, dtype=np.float64), counts.astype(np.float64), top])


@dataclass
class TailSums:
    """Batch summaries merged in batch order (module docstring)."""

    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    threshold: float = -math.inf  # T: every loss above it is in ``tail``
    counts: np.ndarray = field(default_factory=lambda: np.zeros(N_BINS, dtype=np.int64))
    tail: np.ndarray = field(default_factory=lambda: np.empty(0))  # sorted, all > threshold
    _new: list[np.ndarray] = field(default_factory=list)

    def add(self, summary: np.ndarray) -> None:
        """Merge the next batch's :func:`summarise` array (call in batch order)."""
        n, total, total_sq, low, high, t_b, k = summary[:HEADER]
        if len(summary) != HEADER + N_BINS + int(k):
            raise ValueError(
                f"a batch summary has {len(summary)} values, not {HEADER + N_BINS + int(k)}"
            )
        self.n += int(n)
        self.total += total
        self.total_sq += total_sq
        self.low, self.high = min(self.low, low), max(self.high, high)
        self.threshold = max(self.threshold, t_b)
        self.counts += summary[HEADER : HEADER + N_BINS].astype(np.int64)
        self._new.append(summary[HEADER + N_BINS :])

    def settle(self) -> np.ndarray:
        """The kept losses above T, sorted (merges what :meth:`add` collected)."""
        if self._new:  # each piece is sorted: prune each, then a run-merging (stable) sort
            pieces = [p[np.searchsorted(p, self.threshold, side="right") :]
                      for p in (self.tail, *self._new)]  # fmt: skip
            self.tail = np.sort(np.concatenate(pieces), kind="stable")
            self._new = []
        return self.tail

    @property
    def mean(self) -> float:
        """Mean loss."""
        return self.total / self.n if self.n else math.nan

    @property
    def std(self) -> float:
        """Standard deviation of the loss (sample, N - 1)."""
        if self.n < 2:
            return math.nan
        return math.sqrt(max(0.0, (self.total_sq - self.total * self.mean) / (self.n - 1)))


@dataclass(frozen=True)
class TailEstimate:
    """VaR and CVaR at one level with their 95% confidence intervals (loss units)."""

    level: float
    var: float
    var_ci: tuple[float, float]
    cvar: float
    cvar_ci: tuple[float, float]

    def worst_ratio(self, rel_tol: float) -> float:
        """Largest CI half-width over rel_tol |value| of VaR and CVaR (<= 1: met)."""
        pairs = ((self.var, self.var_ci), (self.cvar, self.cvar_ci))
        return max(max(v - lo, hi - v) / (rel_tol * abs(v)) if v else math.inf
                   for v, (lo, hi) in pairs)  # fmt: skip


def binomial_ppf(q: float, n: int, p: float) -> int:
    """Smallest k with P(Binomial(n, p) <= k) >= q: the probabilities are built by the
    ratio pmf(k+1)/pmf(k) = (n-k)/(k+1) p/(1-p) over np -+ 12 sd (the mass beyond is below
    1e-32) and summed, so it is exact to rounding for any n."""
    sd = math.sqrt(n * p * (1.0 - p))
    low = max(0, math.floor(n * p - 12.0 * sd) - 10)
    high = min(n, math.ceil(n * p + 12.0 * sd) + 10)
    k = np.arange(low, high, dtype=np.float64)
    steps = np.log((n - k) / (k + 1.0)) + math.log(p / (1.0 - p))
    log_pmf = np.concatenate([[0.0], np.cumsum(steps)])
    pmf = np.exp(log_pmf - log_pmf.max())
    cdf = np.cumsum(pmf) / pmf.sum()
    return low + int(np.searchsorted(cdf, q * (1.0 - 1e-12)))


def ceil_fraction(p: float, n: int) -> int:
    """ceil(p n) for p as written (0.95 is 95/100, not its binary neighbour), exactly."""
    digits = f"{p:.17g}" if "e" in repr(p) else repr(p)
    whole, _, fraction = digits.partition(".")
    numerator, denominator = int(whole + fraction), 10 ** len(fraction)
    return -(-numerator * n // denominator)


def ranks(n: int, p: float) -> tuple[int, int, int]:
    """1-based ranks (r, ceil(p n), s) of the 95% CI's ends and of VaR_p among n losses."""
    point = ceil_fraction(p, n)
    low = max(1, binomial_ppf(0.025, n, p))
    high = min(n, binomial_ppf(0.975, n, p) + 1)
    return low, max(1, point), high


def needed_tail(n: int, p: float) -> int:
    """How many of the largest losses VaR_p and its CI need: n - r + 1."""
    return n - ranks(n, p)[0] + 1


def estimate(sums: TailSums, p: float) -> TailEstimate | None:
    """VaR_p and CVaR_p with 95% CIs (module docstring); None when the kept losses do not
    reach the CI's lower rank (too few scenarios per batch for this level)."""
    tail, n = sums.settle(), sums.n
    low, point, high = ranks(n, p)
    m = len(tail)
    if n - low + 1 > m:
        return None

    def order(rank: int) -> float:  # X_(rank), 1-based from the smallest
        return float(tail[m - (n - rank + 1)])

    var = order(point)
    excess = tail[np.searchsorted(tail, var, side="right") :] - var
    s1, s2 = float(np.sum(excess)), float(np.dot(excess, excess))
    spread = math.sqrt(max(0.0, (s2 - s1 * s1 / n) / (n - 1))) if n > 1 else math.inf
    cvar = var + s1 / ((1.0 - p) * n)
    half = Z95 * spread / ((1.0 - p) * math.sqrt(n))
    return TailEstimate(p, var, (order(low), order(high)), cvar, (cvar - half, cvar + half))


def next_target(n: int, worst: float, batch: int, cap: int) -> int:
    """Scenarios of the next auto iteration: the CI half-widths shrink as 1/sqrt(N), so
    N (worst ratio)^2 x 1.1, at least 1.25 N and at most 16 N, in whole batches, <= cap."""
    growth = min(16.0, max(1.25, 1.1 * worst * worst)) if math.isfinite(worst) else 16.0
    wanted = math.ceil(n * growth / batch) * batch
    return min(cap, wanted)


@dataclass
class RiskState:
    """Where a risk run stands: batches 0..next_batch-1 merged, the current iteration's
    target in scenarios, and per iteration (scenarios, seconds, worst ratio)."""

    sums: TailSums = field(default_factory=TailSums)
    next_batch: int = 0
    target: int = 0
    iterations: list[tuple[int, float, float]] = field(default_factory=list)
