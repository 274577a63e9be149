"""The tail estimators: exact order statistics from merged batch summaries, any order."""

import math

import numpy as np
import pytest
from scipy.stats import binom

from mlmc_hpc.core.tail import (
    HALF,
    N_BINS,
    TailSums,
    bin_edges,
    bin_of,
    binomial_ppf,
    estimate,
    kept,
    next_target,
    ranks,
    summarise,
)


def merged(losses, batch, lowest=0.95, scale=1.0, order=None):
    sums = TailSums()
    parts = [losses[i : i + batch] for i in range(0, len(losses), batch)]
    for index in order or range(len(parts)):
        sums.add(summarise(parts[index], scale, lowest))
    return sums


@pytest.mark.parametrize("p", [0.5, 0.95, 0.99, 0.999])
def test_var_and_cvar_equal_the_sorted_sample(p):
    rng = np.random.default_rng(3)
    losses = rng.standard_t(4, size=300_000) * 1000  # heavy tails
    sums = merged(losses, 7000, lowest=min(p, 0.95))
    found = estimate(sums, p)
    ordered = np.sort(losses)
    n = len(losses)
    low, point, high = ranks(n, p)
    assert found.var == ordered[point - 1]
    assert found.var_ci == (ordered[low - 1], ordered[high - 1])
    excess = np.maximum(losses - found.var, 0.0)
    cvar = found.var + excess.sum() / ((1 - p) * n)
    assert found.cvar == pytest.approx(cvar, rel=1e-12)
    half = 1.959963984540054 * excess.std(ddof=1) / ((1 - p) * math.sqrt(n))
    assert found.cvar_ci[1] - found.cvar == pytest.approx(half, rel=1e-9)
    assert sums.n == n and sums.low == losses.min() and sums.high == losses.max()
    assert sums.mean == pytest.approx(losses.mean(), rel=1e-12, abs=1e-9)


def test_only_the_tail_above_the_largest_batch_threshold_is_kept():
    losses = np.random.default_rng(1).normal(size=100_000)
    sums = merged(losses, 10_000)
    tail = sums.settle()
    assert np.all(tail > sums.threshold)
    assert np.array_equal(tail, np.sort(losses[losses > sums.threshold]))
    assert len(tail) < kept(100_000, 0.95) * 1.0  # about 2 (1 - p) n, not everything


def test_merge_order_of_settling_does_not_change_the_bits():
    losses = np.random.default_rng(2).lognormal(size=200_000)
    one = merged(losses, 20_000)
    two = TailSums()
    for i, start in enumerate(range(0, len(losses), 20_000)):
        two.add(summarise(losses[start : start + 20_000], 1.0, 0.95))
        if i % 3 == 0:
            two.settle()  # an iteration boundary (pruning early)
    for p in (0.95, 0.99):
        assert estimate(one, p) == estimate(two, p)
    assert np.array_equal(one.counts, two.counts)


def test_a_too_short_tail_gives_none_not_a_wrong_number():
    losses = np.random.default_rng(4).normal(size=2000)
    sums = TailSums()
    for start in range(0, 2000, 1000):  # each batch keeps ceil(2 x 0.5 x 1000) + 64 = all
        sums.add(summarise(losses[start : start + 1000], 1.0, 0.999))
    assert estimate(sums, 0.999) is not None
    short = TailSums()
    short.add(summarise(losses, 1.0, 0.9999))  # keeps 2 x 1e-4 x 2000 + 64 = 65 losses
    assert estimate(short, 0.5) is None  # the median needs the top 1000


def test_histogram_counts_every_loss_once_in_its_bin():
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(scale=s, size=10_000) for s in (1e-7, 1e-3, 1.0, 1e4)])
    x = np.concatenate([x, [0.0, -0.0, 1e300, -1e300]])
    index = bin_of(x)
    assert index.min() >= 0 and index.max() < N_BINS
    edges = bin_edges(1.0)
    assert len(edges) == N_BINS + 1 and np.all(np.diff(edges) > 0)
    inside = np.abs(x) < 1e2  # away from the outermost bins
    lower, upper = edges[index[inside]], edges[index[inside] + 1]
    assert np.all((lower <= x[inside] * (1 + 1e-12)) & (x[inside] <= upper * (1 + 1e-12)))
    assert bin_of(np.array([0.0]))[0] == HALF


@pytest.mark.parametrize("n", [20, 1000, 123_457, 10**9])
@pytest.mark.parametrize("p", [0.5, 0.95, 0.99, 0.9999])
def test_binomial_quantiles_match_scipy(n, p):
    for q in (0.025, 0.975):
        assert binomial_ppf(q, n, p) == int(binom.ppf(q, n, p))


def test_var_rank_is_the_exact_ceiling_of_p_n():
    assert ranks(100_000, 0.95)[1] == 95_000  # 0.95 x 100000 rounds to 95000.00000000001
    assert ranks(100_001, 0.95)[1] == 95_001
    assert ranks(1_000, 0.999)[1] == 999


def test_next_target_grows_by_the_squared_ratio_in_whole_batches():
    assert next_target(262_144, 1.48, 65_536, 10**9) == 655_360  # 1.1 x 1.48^2 = 2.41x
    assert next_target(262_144, 1.01, 65_536, 10**9) == 327_680  # at least 1.25x
    assert next_target(262_144, 100.0, 65_536, 10**9) == 16 * 262_144  # at most 16x
    assert next_target(262_144, 100.0, 65_536, 500_000) == 500_000  # the cap


def test_a_small_last_batch_that_keeps_everything_does_not_raise_the_threshold():
    rng = np.random.default_rng(8)
    losses = np.concatenate([rng.normal(size=30 * 4096), [3.0]])  # a 1-scenario last batch
    sums = merged(losses, 4096)
    assert sums.threshold < 3.0
    found = estimate(sums, 0.99)
    assert found is not None and found.var == np.sort(losses)[ranks(len(losses), 0.99)[1] - 1]


def test_the_var_rank_uses_p_as_written_for_any_n():
    from mlmc_hpc.core.tail import ceil_fraction

    assert ranks(1_000_144_896, 0.95)[1] == 950_137_652  # p n = 950137651.2
    assert ceil_fraction(0.9, 10) == 9 and ceil_fraction(0.9999, 10_000) == 9_999
    for n in (1, 7, 999_999_937, 10**12 - 1):
        for p in (0.5, 0.95, 0.975, 0.99, 0.995, 0.9999):
            assert ceil_fraction(p, n) == -(-round(p * 10**4) * n // 10**4)
