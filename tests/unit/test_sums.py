"""Per-level sums: compensated merging and derived statistics."""

import math

import numpy as np
import pytest

from mlmc_hpc.core.sums import N_SUMS, PF1, Y1, Y2, LevelSums, N


def batch(n, s1, s2):
    row = np.zeros(N_SUMS)
    row[N], row[Y1], row[Y2], row[PF1] = n, s1, s2, s1
    return row


def test_merging_is_correctly_rounded_over_ten_thousand_batches():
    rng = np.random.default_rng(3)
    values = rng.uniform(0.0, 1e6, 10_000) * rng.choice([1.0, 1e-8], 10_000)
    total = LevelSums()
    for v in values:
        total.add(batch(1e6, v, v * v))
    exact = math.fsum(values)
    assert abs(total.totals[Y1] - exact) <= math.ulp(exact)


def test_variance_of_1e10_samples_with_large_mean():
    """1e4 batches of 1e6 samples, mean 1000, variance 1: exact variance recovered."""
    n, mean, var = 1_000_000, 1000.0, 1.0
    total = LevelSums()
    for _ in range(10_000):
        total.add(batch(n, n * mean, (n - 1) * var + n * mean * mean))
    assert total.n == 10**10
    exact = (n - 1) * var * 10_000 / (10**10 - 1)
    # sum Y^2 ~ 1e16 exceeds 2^53: naive float summation drifts by ~1e-6 here
    assert total.variance == pytest.approx(exact, rel=1e-9)
    assert total.mean == mean


def test_statistics_match_numpy():
    rng = np.random.default_rng(1)
    y = rng.standard_normal(10_001) * 3 + 1
    row = np.zeros(N_SUMS)
    row[:5] = [y.size, y.sum(), (y**2).sum(), (y**3).sum(), (y**4).sum()]
    sums = LevelSums()
    sums.add(row[:])
    assert sums.mean == pytest.approx(y.mean(), rel=1e-12)
    assert sums.variance == pytest.approx(y.var(ddof=1), rel=1e-10)
    central = y - y.mean()
    assert sums.kurtosis == pytest.approx((central**4).mean() / y.var() ** 2, rel=1e-8)


def test_merge_of_two_totals_equals_single_total():
    a, b, whole = LevelSums(), LevelSums(), LevelSums()
    for k in range(10):
        row = batch(10, 0.1 * k, 0.01 * k)
        (a if k % 2 else b).add(row, seconds=1.0)
        whole.add(row, seconds=1.0)
    a.merge(b)
    assert np.allclose(a.totals, whole.totals, rtol=0, atol=1e-15)
    assert a.seconds == whole.seconds == 10.0


def test_add_many_is_bit_identical_to_adding_one_by_one():
    rng = np.random.default_rng(0)
    for trial in range(100):
        rows = rng.normal(size=(int(rng.integers(1, 40)), 8)) * 10.0 ** rng.integers(-9, 9, (1, 8))
        one, many = LevelSums(), LevelSums()
        one.add(rows[0])
        many.add(rows[0])
        for row in rows[1:]:
            one.add(row)
        many.add_many(rows[1:])
        for a, b in zip(one.compensated(), many.compensated(), strict=True):
            assert np.array_equal(a, b), trial
