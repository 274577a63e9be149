"""The NumPy Milstein sampler: coupling, variance decay, memory bound, keyed streams."""

import math
import tracemalloc

import numpy as np
import pytest

from mlmc_hpc.config import OptionSpec
from mlmc_hpc.core.sums import COST, LevelSums, N
from mlmc_hpc.models.european import MilsteinGBMSampler

GILES = OptionSpec("call", 100.0, 100.0, 1.0, 0.05, 0.2)


@pytest.mark.parametrize(
    "option,M",
    [(GILES, 2), (OptionSpec("put", 50.0, 55.0, 0.5, 0.01, 0.4), 2), (GILES, 3)],
)
def test_telescoping_identity(option, M):
    """E[Pf_l] - E[Pf_{l-1}] = E[Y_l], checked with independent samples, 4 standard errors."""
    sampler = MilsteinGBMSampler(option, M, seed=11)
    n = 40_000
    levels = [LevelSums(sampler.sample(level, 0, n)) for level in range(5)]
    for level in range(1, 5):
        fine, coarse = levels[level], levels[level - 1]
        gap = fine.mean_pf - coarse.mean_pf - fine.mean
        se = math.sqrt((fine.variance_pf + coarse.variance_pf + fine.variance) / n)
        assert abs(gap) < 4 * se, (level, gap, se)


def test_variance_decay_matches_giles_milstein_beta():
    """Regressed beta on levels 1..7 within 4 standard errors of Giles' published 1.93."""
    sampler = MilsteinGBMSampler(GILES, 2, seed=5)
    n = 20_000
    levels = [LevelSums(sampler.sample(level, 0, n)) for level in range(8)]
    ls = np.arange(1, 8)
    variances = np.array([levels[l].variance for l in ls])
    kurtosis = np.array([levels[l].kurtosis for l in ls])
    beta = -np.polyfit(ls, np.log2(variances), 1)[0]
    # Var(log2 V_l) ~ (kurtosis - 1) / (n ln^2 2); slope SE by propagation
    centred = ls - ls.mean()
    se = math.sqrt(np.sum(centred**2 * (kurtosis - 1) / (n * math.log(2) ** 2))) / np.sum(
        centred**2
    )
    assert abs(beta - 1.93) < 4 * se + 0.005, (beta, se)  # 0.005: rounding of 1.93
    ratios = variances[:-1] / variances[1:]
    assert np.all(ratios > 3.0)  # near M^2 = 4 per level for Milstein


def test_level_zero_is_exact_one_step_milstein():
    """Level 0 mean within 4 SE of the one-step Milstein expectation, computed independently."""
    option = OptionSpec("call", 100.0, 90.0, 0.25, 0.03, 0.3)
    sums = LevelSums(MilsteinGBMSampler(option, 2, seed=2).sample(0, 0, 400_000))
    z = np.random.default_rng(0).standard_normal(2_000_000)
    h = option.T
    s = option.S0 * (1 + option.r * h + option.sigma * math.sqrt(h) * z
                     + 0.5 * option.sigma**2 * h * (z * z - 1))  # fmt: skip
    payoff = math.exp(-option.r * h) * np.maximum(s - option.K, 0)
    se = math.sqrt(sums.variance / sums.n + payoff.var() / payoff.size)
    assert abs(sums.mean - payoff.mean()) < 4 * se


def test_counts_and_cost():
    sums = MilsteinGBMSampler(GILES, 2, seed=1).sample(3, 7, 1234)
    assert sums[N] == 1234 and sums[COST] == 1234 * 8


def test_memory_is_bounded_for_huge_batches():
    sampler = MilsteinGBMSampler(GILES, 2, seed=1)
    tracemalloc.start()
    sampler.sample(0, 0, 5_000_000)  # a 5e6 array alone would be 40 MB
    sampler.sample(6, 0, 100_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8 * 2**20, peak


def test_streams_are_keyed_by_level_batch_and_seed():
    a = MilsteinGBMSampler(GILES, 2, seed=1)
    assert np.array_equal(a.sample(2, 5, 1000), a.sample(2, 5, 1000))
    assert not np.array_equal(a.sample(2, 5, 1000), a.sample(2, 6, 1000))
    assert a.sample(2, 5, 1000)[1] != a.sample(3, 5, 1000)[1]
    b = MilsteinGBMSampler(GILES, 2, seed=2)
    assert not np.array_equal(a.sample(2, 5, 1000), b.sample(2, 5, 1000))
