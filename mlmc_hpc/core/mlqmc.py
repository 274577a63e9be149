"""Multilevel quasi-Monte Carlo: Giles and Waterhouse's adaptive loop, pure.

Reference: M.B. Giles and B.J. Waterhouse, "Multilevel quasi-Monte Carlo path simulation",
Advanced Financial Modelling, Radon Series on Computational and Applied Mathematics 8,
de Gruyter (2009), section 3, and Giles' ``mlqmc.m``.

Each level l is sampled with R independent randomisations of one low-discrepancy point set,
N_l points each (a power of two, the same N_l for every randomisation). The level's
estimate is the mean of the R randomisation means mu_{l,r}; its variance is estimated
from them, V_l = sum_r (mu_{l,r} - mean)^2 / (R (R - 1)) (the variance of the level
estimate itself, not of one sample). The loop:

1. take the pending points (levels 0..Lmin with N_start points at first);
2. while sum_l V_l^+ > (1 - theta) eps^2: double N_l on the level with the largest
   V_l^+ / (N_l C_l) (the most variance removed per unit of cost, if V_l ~ 1/N_l), where
   V_l^+ is a 95% upper confidence bound on V_l from its R - 1 degrees of freedom
   (:meth:`QMCLevel.variance_bound`; Giles-Waterhouse use V_l itself; R >= 8, where the
   Wilson-Hilferty quantile is accurate; the iteration records show sum V_l^+);
3. then Giles' bias test on |mean_l| (floored as in MLMC), with the robust regime checks
   (:mod:`~mlmc_hpc.core.regime`) using s_l = sqrt(V_l): passed, converged; else a new
   level with N_start points, or at Lmax not converged.

Like :mod:`~mlmc_hpc.core.driver` it sees only sums, one :class:`LevelSums` per
(level, randomisation), and knows nothing of points, options, MPI or files; a level may
be known exactly (``known={0: value}``: no points, V_0 = 0).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..config.schema import MLMCSettings
from .driver import (
    IterationRecord,
    MLMCEstimate,
    check_finite,
    first_requested,
    no_convergence_message,
)
from .estimators import (
    bias_target,
    estimate_rates,
    floor_estimates,
    remaining_bias,
    variance_target,
)
from .regime import ROBUST, Safeguards, regime_problem, weak_rate
from .sums import N_SUMS, LevelSums

CONFIDENCE_Z = -1.6448536269514722  # the 5% quantile of N(0, 1): a one-sided 95% bound


def chi2_quantile(dof: int, z: float) -> float:
    """Wilson-Hilferty: chi2_k(p) ~ k (1 - 2/(9k) + z_p sqrt(2/(9k)))^3 (relative error
    below 1% for k >= 8), z_p the standard normal quantile of p."""
    c = 2.0 / (9.0 * dof)
    return dof * (1.0 - c + z * math.sqrt(c)) ** 3


class PointExecutor(Protocol):
    """What the MLQMC loop samples through."""

    def sample_points(self, extra: Sequence[int]) -> list[list[LevelSums]]:
        """For each level l, the sums of points N_l..N_l + extra[l] - 1 of every
        randomisation (one LevelSums per randomisation; none where extra[l] is 0)."""
        ...


@dataclass
class QMCLevel:
    """One level: the running sums of each randomisation, or a known exact mean."""

    sums: list[LevelSums]
    exact: float | None = None

    @property
    def points(self) -> int:
        """N_l, points per randomisation (0 for a known level)."""
        return self.sums[0].n if self.sums else 0

    @property
    def randomisation_means(self) -> np.ndarray:
        """mu_{l,r}: the mean of Y over each randomisation's points."""
        return np.array([s.mean for s in self.sums])

    @property
    def mean(self) -> float:
        """The level's estimate: the mean of the randomisation means (or the known value)."""
        if self.exact is not None:
            return self.exact
        return float(np.mean(self.randomisation_means)) if self.points else 0.0

    @property
    def variance(self) -> float:
        """V_l, the estimated variance of :attr:`mean` (0 for a known level)."""
        if self.exact is not None or not self.points or len(self.sums) < 2:
            return 0.0
        return float(np.var(self.randomisation_means, ddof=1) / len(self.sums))

    def variance_bound(self) -> float:
        """V_l (R - 1) / chi2_{R-1}(CONFIDENCE): an upper confidence bound on V_l. The loop
        stops doubling on it, not on V_l: stopping the first time a noisy V_l dips below
        the target leaves the dominant level's true variance 2-4x above its estimate
        (measured on SPY with R = 32); the bound removes that optional-stopping bias."""
        dof = len(self.sums) - 1
        return self.variance * dof / chi2_quantile(dof, CONFIDENCE_Z) if dof > 0 else 0.0

    @property
    def cost(self) -> float:
        """Timesteps of every point of every randomisation taken so far."""
        return float(sum(s.cost for s in self.sums))

    def merged(self) -> LevelSums:
        """All randomisations' sums as one LevelSums (the result's per-level table)."""
        total = LevelSums.known(self.exact) if self.exact is not None else LevelSums()
        for s in self.sums:
            total.merge(s)
        return total


@dataclass
class QMCState:
    """Everything the loop needs to continue (checkpoints)."""

    levels: list[QMCLevel]
    extra: np.ndarray  # points to add per level and randomisation in the next iteration
    alpha: float = 0.0
    converged: bool = False
    finished: bool = False
    iterations: list[IterationRecord] = field(default_factory=list)

    @property
    def first_Lmin(self) -> int:
        """The Lmin the run started with: the finest level of its first request (known
        levels take no points, trailing zeros of a stored row are padding)."""
        return first_requested(self.iterations, self.extra)

    def estimate(self) -> MLMCEstimate:
        """Price = sum of level estimates; std error = sqrt(sum V_l); levels merged."""
        return MLMCEstimate(
            price=float(sum(level.mean for level in self.levels)),
            std_error=math.sqrt(sum(level.variance for level in self.levels)),
            converged=self.converged,
            levels=[level.merged() for level in self.levels],
            alpha=self.alpha,
            beta=math.nan,
            gamma=math.nan,
            iterations=self.iterations,
            randomisation_sums=self.randomisation_sums(),
        )

    def randomisation_sums(self) -> np.ndarray:
        """(L+1) x R x 8: every randomisation's sums (zeros for a known level)."""
        width = max(len(level.sums) for level in self.levels)
        zeros = [np.zeros(N_SUMS)] * width
        return np.array([[s.totals for s in level.sums] or zeros for level in self.levels])


def initial_qmc_state(
    settings: MLMCSettings, randomisations: int, start: int,
    known: Mapping[int, float] | None = None,
) -> QMCState:  # fmt: skip
    """``start`` points (a power of two) per randomisation on levels 0..Lmin but the known."""
    if start < 1 or start & (start - 1):
        raise ValueError(f"the first points per level must be a power of two, got {start}")
    known = known or {}
    levels = [QMCLevel([], known[l]) if l in known else  # noqa: E741
              QMCLevel([LevelSums() for _ in range(randomisations)])
              for l in range(settings.Lmin + 1)]  # fmt: skip
    extra = np.array([0 if lv.exact is not None else start for lv in levels], dtype=np.int64)
    return QMCState(levels, extra)


def run_mlqmc(
    executor: PointExecutor,
    settings: MLMCSettings,
    cost: Callable[[int], int],
    state: QMCState,
    start: int,
    progress: Callable[[IterationRecord], None] | None = None,
    warn: Callable[[str], None] | None = None,
    checkpoint: Callable[[QMCState], None] | None = None,
    safeguards: Safeguards = ROBUST,
) -> MLMCEstimate:
    """Giles-Waterhouse MLQMC to RMS error eps (module docstring); ``cost(l)`` is the
    timesteps of one point on level l; a new level starts with ``start`` points."""
    s = settings
    while not state.finished:
        began = time.perf_counter()
        taken = [int(x) for x in state.extra]
        for index, (level, new) in enumerate(zip(state.levels, executor.sample_points(taken),
                                                 strict=True)):  # fmt: skip
            for running, batch in zip(level.sums, new, strict=False):
                running.merge(batch)
                check_finite(running, index)
        state.extra = np.zeros(len(state.levels), dtype=np.int64)
        bias, unsettled = math.nan, ""
        bounds = np.array([level.variance_bound() for level in state.levels])
        if bounds.sum() > variance_target(s.eps, s.theta):
            chosen = most_effective(state.levels, bounds, cost)
            state.extra[chosen] = state.levels[chosen].points  # double N_l
        else:
            bias, unsettled = _bias_test(state, s, safeguards, cost, start, warn)
        state.finished = state.finished or not state.extra.any()
        record = IterationRecord(taken, len(state.levels) - 1, bias, float(bounds.sum()),
                                 time.perf_counter() - began, unsettled)  # fmt: skip
        state.iterations.append(record)
        if progress:
            progress(record)
        if checkpoint:
            checkpoint(state)
    return state.estimate()


def most_effective(levels: Sequence[QMCLevel], variances: np.ndarray,
                   cost: Callable[[int], int]) -> int:  # fmt: skip
    """argmax_l V_l / (N_l C_l) over the sampled levels (Giles-Waterhouse)."""
    worth = [v / (lv.points * cost(l)) if lv.points else -1.0  # noqa: E741
             for l, (lv, v) in enumerate(zip(levels, variances, strict=True))]  # fmt: skip
    return int(np.argmax(worth))


def _bias_test(
    state: QMCState, s: MLMCSettings, safeguards: Safeguards, cost: Callable[[int], int],
    start: int, warn: Callable[[str], None] | None,
) -> tuple[float, str]:  # fmt: skip
    """Giles' bias test with the regime checks; adds a level, or finishes (module docstring).
    Returns the bias estimate and why a passed test was not believed (else "")."""
    levels = state.levels
    means = np.array([level.mean for level in levels])
    errors = np.sqrt([level.variance for level in levels])
    floored, _ = floor_estimates(np.abs(means), np.zeros(len(levels)), state.alpha, 0.0)
    costs = np.array([float(cost(l)) for l in range(len(levels))])  # noqa: E741
    if s.alpha is None:  # levels 1..L with L >= Lmin >= 2: a regression exists
        giles = estimate_rates(floored, np.ones(len(levels)), costs)[0]
        state.alpha = weak_rate(giles, floored, (means, errors), safeguards)
    else:
        state.alpha = s.alpha
    bias = remaining_bias(floored, state.alpha)
    problem = regime_problem((means, errors)) if safeguards.regime else None
    passed = bias <= bias_target(s.eps, s.theta)
    state.converged = passed and problem is None
    if state.converged:
        state.finished = True
    elif len(levels) - 1 == s.Lmax:
        if warn:
            warn(no_convergence_message(bias, bias_target(s.eps, s.theta), s.Lmax, problem))
        state.finished = True
    else:
        randomisations = max(len(level.sums) for level in levels)
        levels.append(QMCLevel([LevelSums() for _ in range(randomisations)]))
        state.extra = np.append(state.extra, start)
    return bias, problem if passed and problem else ""
