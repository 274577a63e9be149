"""Unit tests of the pure MLMC formulas (Giles, Acta Numerica 2015, Algorithm 1)."""

import math

import numpy as np
import pytest

from mlmc_hpc.core.estimators import (
    bias_target,
    estimate_rates,
    extra_samples,
    floor_estimates,
    nearly_converged,
    optimal_samples,
    regression_slope,
    remaining_bias,
    variance_target,
)


def test_regression_recovers_exact_rates_and_ignores_level_zero():
    levels = np.arange(7)
    values = 3.0 * 2.0 ** (-1.5 * levels)
    values[0] = 1e9  # level 0 must not enter the fit
    assert regression_slope(values) == pytest.approx(-1.5, abs=1e-12)


def test_estimate_rates_regresses_and_clamps_and_respects_fixed():
    levels = np.arange(6)
    means = 2.0 ** (-1.0 * levels)
    variances = 2.0 ** (-2.0 * levels)
    costs = 2.0**levels
    assert estimate_rates(means, variances, costs) == pytest.approx((1.0, 2.0, 1.0))
    flat = np.ones(6)
    assert estimate_rates(flat, flat, flat) == (0.5, 0.5, 0.5)
    assert estimate_rates(means, variances, costs, fixed=(3.0, None, 7.0)) == pytest.approx(
        (3.0, 2.0, 7.0)
    )


def test_floor_applies_from_level_two_and_propagates():
    m, v = floor_estimates([8.0, 4.0, 0.0, 0.0], [16.0, 8.0, 0.0, 0.0], alpha=1.0, beta=2.0)
    assert m.tolist() == [8.0, 4.0, 1.0, 0.25]  # 0.5 * m_{l-1} / 2^alpha
    assert v.tolist() == [16.0, 8.0, 1.0, 0.125]  # 0.5 * V_{l-1} / 2^beta


def test_optimal_samples_formula_and_variance_budget():
    V = np.array([100.0, 1.0, 0.25, 0.0625])
    C = np.array([1.0, 2.0, 4.0, 8.0])
    eps, theta = 0.01, 0.25
    N = optimal_samples(V, C, eps, theta)
    expected = [
        math.ceil(math.sqrt(V[l] / C[l]) * np.sum(np.sqrt(V * C)) / ((1 - theta) * eps**2))
        for l in range(4)
    ]
    assert N.tolist() == expected
    assert np.sum(V / N) <= variance_target(eps, theta)
    # Lagrange optimality: N_l = ceil(mu sqrt(V_l / C_l)) for one multiplier mu
    mu = np.sum(np.sqrt(V * C)) / ((1 - theta) * eps**2)
    assert np.all((mu * np.sqrt(V / C) > N - 1) & (mu * np.sqrt(V / C) <= N))


def test_extra_samples_and_one_percent_rule():
    assert extra_samples([10, 5, 8], [4, 9, 8]).tolist() == [6, 0, 0]
    assert nearly_converged([10, 0], [1000, 50])  # 10 <= 1% of 1000
    assert not nearly_converged([11, 0], [1000, 50])


def test_remaining_bias_uses_last_three_levels():
    alpha = 1.0
    # m_L small but m_{L-1} large: the max picks m_{L-1} 2^-alpha
    means = [5.0, 1.0, 0.4, 0.01]
    expected = max(0.01, 0.4 / 2, 1.0 / 4) / (2**alpha - 1)
    assert remaining_bias(means, alpha) == pytest.approx(expected)
    assert bias_target(0.01, 0.25) == pytest.approx(0.005)
