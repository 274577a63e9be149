"""The pure MLQMC loop (Giles & Waterhouse) on synthetic levels whose randomisation means
scatter like QMC estimates: mean a 2^-l, spread sd_l / N (error O(1/N), not 1/sqrt(N))."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlmc_hpc.config import MLMCSettings
from mlmc_hpc.core.estimators import variance_target
from mlmc_hpc.core.mlqmc import QMCLevel, initial_qmc_state, run_mlqmc
from mlmc_hpc.core.sums import COST, N_SUMS, PF1, Y1, Y2, LevelSums, N


class QMCLike:
    """Level l, randomisation r: the mean of N points is a 2^-l + sd 2^-l / N * Z_r."""

    def __init__(self, a: float = 1.0, sd: float = 1.0, seed: int = 1) -> None:
        self.a, self.sd = a, sd
        self.rng = np.random.default_rng(seed)
        self.requests: list[list[int]] = []
        self.points: dict[int, int] = {}
        self.running: dict[tuple[int, int], float] = {}  # (level, r) -> sum of Y so far

    def exact(self, level: int) -> float:
        return self.a * 2.0**-level

    def sample_points(self, extra):
        self.requests.append(list(extra))
        out = []
        for level, n in enumerate(extra):
            if not n:
                out.append([])
                continue
            done = self.points.get(level, 0)
            total = done + n
            self.points[level] = total
            rows = []
            for _ in range(8):  # R = 8 randomisations
                # the new points' sum makes the running mean exact(l) + sd 2^-l Z / total
                target = (
                    self.exact(level) + self.sd * 2.0**-level * self.rng.standard_normal() / total
                )
                row = np.zeros(N_SUMS)
                row[N], row[COST] = n, n * 2.0**level
                row[Y1] = target * total - (self.running.get((level, len(rows)), 0.0))
                row[PF1] = row[Y1]
                row[Y2] = row[Y1] ** 2 / n + 1e-12
                self.running[(level, len(rows))] = target * total
                rows.append(LevelSums(row))
            out.append(rows)
        return out


@pytest.mark.parametrize("eps", [1e-3, 1e-4])
def test_converges_with_power_of_two_points_and_the_variance_target(eps):
    executor = QMCLike()
    settings = MLMCSettings(eps=eps, Lmax=30)
    state = initial_qmc_state(settings, randomisations=8, start=4)
    estimate = run_mlqmc(executor, settings, lambda l: 2**l, state, start=4)
    assert estimate.converged
    points = [level.points for level in state.levels]
    assert all(p > 0 and p & (p - 1) == 0 for p in points)
    assert sum(level.variance for level in state.levels) <= variance_target(eps, 0.25)
    truth = 2.0  # sum over all levels of 2^-l
    assert abs(estimate.price - truth) <= 3 * eps
    # the bias test stopped at the level Giles' estimate implies (alpha = 1)
    assert executor.exact(estimate.L) <= math.sqrt(0.25) * eps * 1.5


def test_a_known_level_is_never_sampled():
    executor = QMCLike()
    settings = MLMCSettings(eps=1e-3, Lmax=30)
    state = initial_qmc_state(settings, 8, 4, known={0: 1.0})
    estimate = run_mlqmc(executor, settings, lambda l: 2**l, state, start=4)
    assert all(request[0] == 0 for request in executor.requests)
    assert state.levels[0].variance == 0.0 and state.levels[0].mean == 1.0
    assert estimate.converged and abs(estimate.price - 2.0) <= 3e-3


def test_lmax_without_convergence_warns_and_is_not_converged():
    said = []
    settings = MLMCSettings(eps=1e-6, Lmin=2, Lmax=4)
    state = initial_qmc_state(settings, 8, 4)
    estimate = run_mlqmc(QMCLike(), settings, lambda l: 2**l, state, start=4, warn=said.append)
    assert not estimate.converged and estimate.L == 4
    assert said and said[0].startswith("failed to achieve weak convergence")


def test_start_must_be_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        initial_qmc_state(MLMCSettings(eps=0.01), 8, 6)


def test_level_statistics_are_those_of_the_randomisation_means():
    sums = []
    for mean in (1.0, 2.0, 3.0, 6.0):
        row = np.zeros(N_SUMS)
        row[N], row[Y1] = 4, 4 * mean
        sums.append(LevelSums(row))
    level = QMCLevel(sums)
    assert level.points == 4 and level.mean == 3.0
    assert level.variance == pytest.approx(np.var([1, 2, 3, 6], ddof=1) / 4)


def test_the_stopping_bound_is_a_95_percent_upper_bound_on_the_variance():
    """V (R-1) / chi2_{R-1}(0.05): Wilson-Hilferty within 1% of the exact quantile, and
    a variance estimated from R randomisations stays below the bound 95% of the time."""
    from scipy.stats import chi2

    from mlmc_hpc.core.mlqmc import CONFIDENCE_Z, chi2_quantile

    for dof in (7, 15, 31, 63, 127):
        assert chi2_quantile(dof, CONFIDENCE_Z) == pytest.approx(chi2.ppf(0.05, dof), rel=0.01)
    rng = np.random.default_rng(3)
    covered = 0
    for _ in range(2000):
        sums = []
        for mean in rng.standard_normal(32):  # randomisation means with variance 1
            row = np.zeros(N_SUMS)
            row[N], row[Y1] = 1, mean
            sums.append(LevelSums(row))
        covered += QMCLevel(sums).variance_bound() >= 1.0 / 32
    assert abs(covered / 2000 - 0.95) <= 4 * math.sqrt(0.95 * 0.05 / 2000)
