"""The adaptive driver against synthetic levels with known mean, variance and cost."""

import math

import numpy as np
import pytest

from mlmc_hpc.config import MLMCSettings
from mlmc_hpc.core.driver import run_mlmc
from mlmc_hpc.core.estimators import variance_target
from mlmc_hpc.core.sums import COST, N_SUMS, Y1, Y2, LevelSums, N


class ExactLevels:
    """Executor whose batches have exactly mean a 2^-alpha l, variance b 2^-beta l, cost 2^l."""

    def __init__(self, a=1.0, alpha=1.0, b=1.0, beta=2.0, cost_rate=1.0):
        self.a, self.alpha, self.b, self.beta, self.cost_rate = a, alpha, b, beta, cost_rate
        self.requests = []

    def mean(self, level):
        return self.a * 2.0 ** (-self.alpha * level)

    def variance(self, level):
        return self.b * 2.0 ** (-self.beta * level)

    def sample(self, extra):
        self.requests.append(list(extra))
        out = []
        for level, n in enumerate(extra):
            row = np.zeros(N_SUMS)
            if n:
                m, v = self.mean(level), self.variance(level)
                row[N], row[Y1], row[Y2] = n, n * m, (n - 1) * v + n * m * m
                row[COST] = n * 2.0 ** (self.cost_rate * level)
            out.append(LevelSums(row))
        return out


def expected_finest_level(levels, eps, theta, Lmin):
    """Smallest L >= Lmin with a 2^-alpha L / (2^alpha - 1) <= sqrt(theta) eps."""
    L = Lmin
    while levels.mean(L) / (2**levels.alpha - 1) > math.sqrt(theta) * eps:
        L += 1
    return L


@pytest.mark.parametrize("eps", [0.01, 0.002])
def test_converges_with_optimal_samples_and_right_level(eps):
    levels = ExactLevels()
    settings = MLMCSettings(eps=eps, Lmin=2, Lmax=20, N0=100)
    est = run_mlmc(levels, settings)
    assert est.converged
    assert expected_finest_level(levels, eps, 0.25, 2) == est.L
    V = np.array([lv.variance for lv in est.levels])  # what the driver saw
    beta_seen = -np.polyfit(np.arange(1, est.L + 1), np.log2(V[1:]), 1)[0]
    assert (est.alpha, est.beta, est.gamma) == pytest.approx((1.0, beta_seen, 1.0))
    assert est.beta == pytest.approx(2.0, abs=0.01)
    C = 2.0 ** np.arange(est.L + 1)
    optimal = np.ceil(np.sqrt(V / C) * np.sum(np.sqrt(V * C)) / (0.75 * eps**2))
    n = np.array([lv.n for lv in est.levels])
    assert np.all(n >= optimal)
    assert est.std_error**2 <= variance_target(eps, 0.25)
    assert est.price == pytest.approx(sum(levels.mean(l) for l in range(est.L + 1)))


def test_new_level_gets_samples_in_the_next_iteration():
    est = run_mlmc(ExactLevels(), MLMCSettings(eps=0.002, N0=50))
    grew = [
        i for i in range(1, len(est.iterations)) if est.iterations[i].L > est.iterations[i - 1].L
    ]
    assert grew
    for i in grew:
        if i + 1 < len(est.iterations):
            assert est.iterations[i + 1].extra[est.iterations[i].L] > 0


def test_fixed_rates_are_used_instead_of_regression():
    levels = ExactLevels(alpha=1.0)
    fixed = run_mlmc(levels, MLMCSettings(eps=0.002, N0=100, alpha=2.0, beta=2.0, gamma=1.0))
    free = run_mlmc(ExactLevels(alpha=1.0), MLMCSettings(eps=0.002, N0=100))
    assert fixed.alpha == 2.0 and free.alpha == pytest.approx(1.0)
    # an optimistic alpha believes the bias is smaller, so it stops at a coarser level
    assert fixed.L < free.L


def test_lmax_reached_warns_and_reports_not_converged():
    warnings = []
    est = run_mlmc(ExactLevels(), MLMCSettings(eps=1e-4, Lmax=5, N0=100), warn=warnings.append)
    assert not est.converged
    assert est.L == 5
    assert len(warnings) == 1 and "Lmax = 5" in warnings[0]


def test_zero_variance_levels_do_not_break_the_driver():
    est = run_mlmc(ExactLevels(b=0.0, a=1e-9), MLMCSettings(eps=0.01, N0=10))
    assert est.converged and math.isfinite(est.price)


@pytest.mark.parametrize("safeguards", ["robust", "giles"])
def test_a_known_level_is_never_sampled_and_changes_nothing_else(safeguards):
    """Level 0 known exactly (mlmc.level0 exact): N_0 = 0, V_0 = 0, its value in the price;
    the other levels get Giles' N_l for the remaining variance, so the cost drops by the
    share sqrt(V_0 C_0) took of sum sqrt(V_l C_l)."""
    from mlmc_hpc.core.regime import GILES, ROBUST

    guard = ROBUST if safeguards == "robust" else GILES
    settings = MLMCSettings(eps=0.002, N0=1000)
    levels = ExactLevels(b=100.0)  # V_0 = 100 dominates V_1 = 25, V_2 = 6.25, ...
    sampled = run_mlmc(levels, settings, safeguards=guard)
    known = ExactLevels(b=100.0)
    exact = run_mlmc(known, settings, safeguards=guard, known={0: levels.mean(0)})
    assert all(request[0] == 0 for request in known.requests)
    assert exact.levels[0].n == 0 and exact.levels[0].variance == 0.0
    assert exact.levels[0].mean == levels.mean(0) and exact.levels[0].exact == levels.mean(0)
    assert exact.converged and exact.L == sampled.L
    expected = sum(levels.mean(level) for level in range(exact.L + 1))
    assert exact.price == pytest.approx(expected, rel=1e-12)
    assert exact.std_error <= math.sqrt(variance_target(settings.eps, settings.theta))
    cost = sum(lv.cost for lv in exact.levels)
    assert cost < 0.5 * sum(lv.cost for lv in sampled.levels)
    assert sum(lv.n for lv in exact.levels[1:]) > 0
