"""The MLQMC point generator: bridge, increments, keyed ranges, QMC variance reduction."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy.special import ndtri
from scipy.stats import qmc

from mlmc_hpc.models.qmc import (
    PADDING_BLOCK,
    QMC_DIMENSIONS,
    LevelPoints,
    bridge_order,
    brownian_increments,
    substep_order,
)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 16, 1000])
def test_bridge_order_builds_every_node_once_from_built_ends(n):
    order = bridge_order(n)
    assert order[0] == (0, n, n)
    assert sorted(mid for _, _, mid in order) == list(range(1, n + 1))
    built = {0, n}
    for left, right, mid in order[1:]:
        assert left in built and right in built and mid == (left + right) // 2
        assert left < mid < right
        built.add(mid)
    assert substep_order(n) == [mid - 1 for _, _, mid in order]


def test_bridge_order_is_breadth_first():
    assert [mid for _, _, mid in bridge_order(8)] == [8, 4, 2, 6, 1, 3, 5, 7]
    assert bridge_order(3) == [(0, 3, 3), (0, 3, 1), (1, 3, 2)]


@pytest.mark.parametrize("n", [5, 8])
def test_brownian_increments_are_independent_n_0_h(n):
    m, h = 200_000, 0.1
    z = np.random.default_rng(11).standard_normal((n, m))
    dw = brownian_increments(z, h)
    assert dw.shape == (n, m)
    assert np.all(np.abs(dw.mean(axis=1)) < 4 * math.sqrt(h / m))
    assert np.all(np.abs(dw.var(axis=1) - h) < 4 * h * math.sqrt(2 / m))
    corr = np.corrcoef(dw)
    off = corr[~np.eye(n, dtype=bool)]
    assert np.all(np.abs(off) < 4 / math.sqrt(m))
    # W(T) is the first coordinate: up to the rounding of summing the differences
    np.testing.assert_allclose(dw.sum(axis=0), math.sqrt(n * h) * z[0], rtol=0, atol=1e-13)


def test_brownian_increments_one_step_and_bad_input():
    z = np.array([[0.5, -1.0]])
    np.testing.assert_array_equal(brownian_increments(z, 0.25), 0.5 * z)
    with pytest.raises(ValueError):
        brownian_increments(np.zeros(3), 0.1)
    with pytest.raises(ValueError):
        brownian_increments(np.zeros((2, 3)), 0.0)


CASES = [
    (4, "uniforms"),  # d = 8: all Sobol
    (100, "normals"),  # d = 200 <= QMC_DIMENSIONS
    (200, "none"),  # d = 200
    (300, "none"),  # d = 300: 44 normal padding coordinates
    (130, "uniforms"),  # d = 260: 4 uniform padding coordinates
    (160, "normals"),  # d = 320: 64 normal padding coordinates
]


@pytest.mark.parametrize(("steps", "extra"), CASES)
def test_draw_of_a_range_is_the_slice_of_one_stream(steps, extra):
    points = LevelPoints(seed=5, level=3, randomisation=2, steps=steps, extra=extra)
    total = 2 * PADDING_BLOCK + 7
    z_all, x_all = points.draw(0, total)
    assert z_all.shape == (steps, total)
    for start, count in [
        (0, 1),
        (0, 37),
        (5, 1),
        (PADDING_BLOCK - 3, PADDING_BLOCK + 10),  # straddles two block edges
        (PADDING_BLOCK, PADDING_BLOCK),
        (total - 1, 1),
    ]:
        z, x = points.draw(start, count)
        np.testing.assert_array_equal(z, z_all[:, start : start + count])
        if extra == "none":
            assert x is None and x_all is None
        else:
            assert x is not None and x_all is not None
            np.testing.assert_array_equal(x, x_all[:, start : start + count])
    assert np.all(np.isfinite(z_all))


def test_keys_change_the_points_and_fix_them():
    base = {"seed": 1, "level": 2, "randomisation": 0, "steps": 300, "extra": "normals"}
    z0, x0 = LevelPoints(**base).draw(10, 50)
    z1, x1 = LevelPoints(**base).draw(10, 50)
    np.testing.assert_array_equal(z0, z1)
    np.testing.assert_array_equal(x0, x1)
    for key in ("seed", "level", "randomisation"):
        z, x = LevelPoints(**{**base, key: base[key] + 1}).draw(10, 50)
        assert not np.any(z[:QMC_DIMENSIONS] == z0[:QMC_DIMENSIONS])  # Sobol part
        assert not np.any(x == x0)  # all padding here (d = 600)


def test_key_contract_and_coordinate_order():
    """Coordinates 0..steps-1 -> z rows; steps + k -> extra row substep_order[k]."""
    steps, count = 16, 64
    points = LevelPoints(seed=9, level=4, randomisation=3, steps=steps, extra="uniforms")
    z, x = points.draw(0, count)
    key = np.random.SeedSequence([4, 3, 9, 0x51])
    engine = qmc.Sobol(2 * steps, bits=32, rng=np.random.Generator(np.random.SFC64(key)))
    u = engine.random_base2(6).T + 2.0**-33
    np.testing.assert_array_equal(z, ndtri(u[:steps]))
    assert x is not None
    np.testing.assert_array_equal(x[substep_order(steps)], u[steps:])


def test_qmc_call_variance_is_far_below_mc():
    """Measured ratios (32 randomisations of 2^12 points): about 5200 (steps 1) and
    10600 (steps 16); exact values vary by ~25% with the randomisations drawn."""
    S0, K, r, sigma, T, N, R = 100.0, 100.0, 0.05, 0.2, 1.0, 2**12, 32

    def payoff(wt):
        growth = (r - 0.5 * sigma**2) * T + sigma * wt
        return math.exp(-r * T) * np.maximum(S0 * np.exp(growth) - K, 0.0)

    sample = math.sqrt(T) * np.random.default_rng(3).standard_normal(2**18)
    mc_variance = payoff(sample).var() / N
    for steps in (1, 16):
        means = []
        for rand in range(R):
            z, _ = LevelPoints(2024, 4, rand, steps, "none").draw(0, N)
            means.append(payoff(brownian_increments(z, T / steps).sum(axis=0)).mean())
        qmc_variance = np.var(means, ddof=1)
        assert mc_variance / qmc_variance >= 20.0
        assert abs(np.mean(means) - 10.450583572185565) < 4 * math.sqrt(qmc_variance / R)


@pytest.mark.parametrize("steps", [64, 200])
def test_extra_distributions(steps):
    count = 2**12
    _, normals = LevelPoints(1, 6, 0, steps, "normals").draw(0, count)
    _, uniforms = LevelPoints(1, 6, 0, steps, "uniforms").draw(0, count)
    assert normals is not None and uniforms is not None
    m = normals.size
    assert abs(normals.mean()) < 4 / math.sqrt(m)
    assert abs(normals.var() - 1.0) < 4 * math.sqrt(2 / m)
    assert uniforms.min() > 0.0 and uniforms.max() <= 1.0
    assert abs(uniforms.mean() - 0.5) < 4 * math.sqrt(1 / 12 / m)
    # the first extra coordinate (Sobol: a stratified sample) is the last sub-step's
    first = uniforms[substep_order(steps)[0]]
    assert substep_order(steps)[0] == steps - 1
    cells = np.floor(first * count).astype(int)
    if 2 * steps <= QMC_DIMENSIONS:
        np.testing.assert_array_equal(np.sort(cells), np.arange(count))
        assert abs(normals[steps - 1].mean()) < 1e-3  # MC: standard error 1/64


def test_bad_points_and_ranges():
    with pytest.raises(ValueError):
        LevelPoints(0, 0, 0, 0, "none")
    with pytest.raises(ValueError):
        LevelPoints(0, 0, 0, 4, "ln")
    with pytest.raises(ValueError):
        LevelPoints(-1, 0, 0, 4, "none")
    points = LevelPoints(0, 0, 0, 4, "none")
    assert points.dimension() == 4
    assert LevelPoints(0, 0, 0, 4, "normals").dimension() == 8
    for start, count in [(-1, 4), (0, 0), (2**32 - 1, 2)]:
        with pytest.raises(ValueError):
            points.draw(start, count)


def test_import_does_not_load_scipy():
    code = "import sys, mlmc_hpc.models.qmc; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
