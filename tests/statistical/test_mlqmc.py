"""Multilevel quasi-Monte Carlo (issue 18, groundwork): the pure Giles-Waterhouse loop on
the QMC level sampler through the batch executor prices every type with a closed form
within 3 eps, and a level's randomised-QMC estimate beats Monte Carlo's variance."""

from __future__ import annotations

import numpy as np
import pytest

from mlmc_hpc.config import MLMCSettings, OptionSpec
from mlmc_hpc.core.mlqmc import initial_qmc_state, run_mlqmc
from mlmc_hpc.core.regime import Safeguards
from mlmc_hpc.core.sums import Y1, Y2, N
from mlmc_hpc.models.level0 import exact_level0
from mlmc_hpc.models.options import reference_price
from mlmc_hpc.models.paths import PathSampler
from mlmc_hpc.models.qmc_sampler import QMCPathSampler, batch_id
from mlmc_hpc.parallel.executor import SerialExecutor
from mlmc_hpc.parallel.points import PointBatches

BASE = dict(S0=100.0, K=100.0, T=1.0, r=0.05, sigma=0.2)
CASES = {
    "call": OptionSpec("call", **BASE),
    "put": OptionSpec("put", **BASE),
    "digital": OptionSpec("digital", **BASE),
    "asian geometric": OptionSpec("asian", **BASE, average="geometric"),
    "lookback": OptionSpec("lookback", **BASE),
    "barrier 85": OptionSpec("barrier", **BASE, barrier=85.0),
}
R, START = 32, 32


def price(option: OptionSpec, eps: float, seed: int = 1):
    settings = MLMCSettings(eps=eps)
    sampler = QMCPathSampler(option, 2, seed)
    points = PointBatches(SerialExecutor(sampler, 1 << 22), R, sampler.steps)
    state = initial_qmc_state(settings, R, START, known={0: exact_level0(option).value})
    return run_mlqmc(points, settings, sampler.steps, state, START,
                     safeguards=Safeguards(regime=True, alpha_max=1.0)), state  # fmt: skip


@pytest.mark.parametrize("name", CASES)
def test_prices_within_3_eps_of_the_closed_form(name):
    eps = 0.01
    estimate, state = price(CASES[name], eps)
    assert estimate.converged
    assert abs(estimate.price - reference_price(CASES[name])) <= 3 * eps
    assert all(level.points & (level.points - 1) == 0 for level in state.levels)
    assert estimate.std_error**2 <= 0.75 * eps**2


# measured on level 3 with 1024 points (R = 32): call 45, asian 29, lookback 4.4, barrier 2.1
# (8192 points: 281, 103, 8.5, 2.9); the minimums leave room for the spread of a variance
# ratio from 32 randomisations (its 1% quantile is about half the true ratio)
GAIN = {"call": 10.0, "asian geometric": 10.0, "lookback": 2.0, "barrier 85": 1.2}


@pytest.mark.parametrize("name", GAIN)
def test_a_randomised_qmc_level_beats_monte_carlo(name):
    """Level 3, 1024 points: the variance of the R randomisation means against V_3 / 1024
    of Monte Carlo (the same coupling with pseudo-random numbers)."""
    option, level, n = CASES[name], 3, 1024
    qmc = QMCPathSampler(option, 2, seed=5)
    means = [qmc.sample(level, batch_id(r, 0), n)[Y1] / n for r in range(R)]
    mc = PathSampler(option, 2, seed=5).sample(level, 0, 100_000)
    mc_var = (mc[Y2] - mc[Y1] ** 2 / mc[N]) / (mc[N] - 1) / n
    ratio = mc_var / np.var(means, ddof=1)
    assert ratio > GAIN[name], ratio


@pytest.mark.parametrize("name", CASES)
def test_the_mlqmc_method_through_the_api(name):
    """``mlmc.method: mlqmc`` end to end (config, executor, result): within 3 eps of the
    closed form, converged, R recorded and every randomisation's sums stored."""
    import mlmc_hpc

    o = CASES[name]
    option = {"type": o.type, "S0": o.S0, "K": o.K, "T": o.T, "r": o.r, "sigma": o.sigma,
              "barrier": o.barrier, "average": o.average}  # fmt: skip
    result = mlmc_hpc.price({"option": option, "mlmc": {"eps": 0.01, "method": "mlqmc"},
                             "run": {"backend": "numpy", "seed": 3}})  # fmt: skip
    assert result.converged and abs(result.price - result.reference_price) <= 0.03
    assert result.randomisations == 32 and result.levels["randomisation_sums"].shape[1] == 32


def test_the_arithmetic_asian_agrees_with_mlmc():
    """No closed form: MLQMC and MLMC at eps 0.004 agree within 3 sqrt(2) eps (each within
    eps in RMS), which a wrong split of the path's dimensions would break."""
    import mlmc_hpc

    runs = [mlmc_hpc.price({"option": {"type": "asian", **BASE},
                            "mlmc": {"eps": 0.004, "method": method},
                            "run": {"backend": "numpy", "seed": 4}}).price
            for method in ("mlqmc", "mlmc")]  # fmt: skip
    assert abs(runs[0] - runs[1]) <= 3 * 2**0.5 * 0.004


# RMSE over independent seeds (each a new set of randomisations): if the MSE is at most
# eps^2, sum_k (e_k / eps)^2 is below a chi-square variable with K degrees of freedom at
# most (see test_level0_modes.py), so the RMSE stays under eps sqrt(chi2_0.999(K) / K).
RMSE_SEEDS = 16
RMSE_CASES = {"call": 0.01, "lookback": 0.02, "barrier 85": 0.01}


@pytest.mark.parametrize("name", RMSE_CASES)
def test_rmse_over_independent_seeds_is_at_most_eps(name):
    from scipy.stats import chi2

    eps = RMSE_CASES[name]
    errors = []
    for seed in range(1, RMSE_SEEDS + 1):
        estimate, _ = price(CASES[name], eps, seed)
        assert estimate.converged
        errors.append((estimate.price - reference_price(CASES[name])) / eps)
    rmse = float(np.sqrt(np.mean(np.square(errors))))
    assert rmse <= np.sqrt(chi2.ppf(0.999, RMSE_SEEDS) / RMSE_SEEDS), (rmse, errors)


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_rmse_over_many_seeds_every_type(name):
    """Nightly: 48 seeds for every type with a closed form, eps 0.01."""
    from scipy.stats import chi2

    seeds, eps = 48, 0.01
    errors = [(price(CASES[name], eps, seed)[0].price - reference_price(CASES[name])) / eps
              for seed in range(100, 100 + seeds)]  # fmt: skip
    rmse = float(np.sqrt(np.mean(np.square(errors))))
    assert rmse <= np.sqrt(chi2.ppf(0.999, seeds) / seeds), (rmse, errors)
