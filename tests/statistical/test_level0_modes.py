"""Level 0 modes (``mlmc.level0``: sample | exact | control; auto = exact), over many seeds.

Level 0 is one Milstein step of length T. ``exact`` replaces its samples by E[P_0]
(:func:`~mlmc_hpc.models.level0.exact_level0`), ``control`` samples Y_0 = P_0 - c (Q - E[Q])
with Q the exact-GBM payoff on the same normals, ``sample`` is Giles' (and mlmc_hpc <= 0.3).
Every run is serial NumPy with the defaults but for the case's keys.

* RMS error against the closed form <= eps for exact and control: if every run's error e_i
  had mean square eps^2, with e_i normal and unbiased, sum e_i^2 / eps^2 would be chi-square
  with n degrees of freedom (n seeds). A bias b at the same mean square (b^2 + v = eps^2)
  only lowers the spread (Var e^2 = 2 v^2 + 4 b^2 v <= 2 eps^4), so the law's 0.999 quantile
  bounds the statistic with a false alarm below once in a thousand cases. As an RMS error
  the limit is eps sqrt(chi2_0.999(n) / n) ~ eps (1 + z sqrt(2/n) / 2), z = 3.09 (the
  delta method on the MSE's relative standard deviation sqrt(2/n)): 1.57 eps for 16 seeds,
  1.28 eps for 64.
* no run says ``converged`` more than 4 eps from the closed form, and the closed-form guard
  never had to withdraw it (the project's promise, as in test_trustworthy.py).
* the arithmetic Asian (no closed form) against a sample-mode run at eps / 8.
* exact mode really removes level 0 (no samples, variance 0, the exact value itself) and with
  it most of the cost; sample mode is bit-identical to 0.3; the control variate cuts the
  level-0 variance; every mode's level-0 term agrees with ``exact_level0``.

The fast tier (16 seeds, 9 cases x 2 modes) takes about 25 s on one core; the slow tier
(``--run-slow``: 64 seeds, 18 cases x 2 modes) about 5 minutes more.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import chi2

import mlmc_hpc
from mlmc_hpc.config import OptionSpec, load_config
from mlmc_hpc.models.level0 import exact_level0
from mlmc_hpc.pricing.api import keyword_overrides

FAST_SEEDS = 16
SLOW_SEEDS = 64
QUANTILE = 0.999
Z = 4.0  # standard errors for single comparisons (two-sided false alarm 6e-5)
MODES = ("exact", "control")

FAST = {
    "call": dict(eps=0.005),
    "put": dict(type="put", eps=0.005),
    "digital": dict(type="digital", eps=0.01),
    "geometric asian": dict(type="asian", average="geometric", eps=0.005),
    "lookback": dict(type="lookback", eps=0.01),
    "barrier 85": dict(type="barrier", barrier=85.0, eps=0.005),
    "barrier 95": dict(type="barrier", barrier=95.0, eps=0.02),  # Lmin raised to 8: costlier
    "call K=120 T=2 sigma=0.4": dict(K=120.0, T=2.0, sigma=0.4, eps=0.02),
}
SLOW = {
    **FAST,
    "put deep out of the money": dict(type="put", K=60.0, sigma=0.3, eps=0.004),
    "call T=0.01": dict(T=0.01, eps=0.004),
    "call out of the money": dict(K=150.0, eps=0.002),
    "call r=1 T=5": dict(r=1.0, T=5.0, eps=0.5),
    "call sigma=0.6 T=2": dict(sigma=0.6, T=2.0, eps=0.1),
    "digital out of the money short": dict(type="digital", K=110.0, T=0.1, payout=1.0, eps=0.002),
    "geometric asian sigma 0.4 T=2": dict(
        type="asian", average="geometric", sigma=0.4, T=2.0, eps=0.02
    ),
    "lookback M=4 sigma 0.4": dict(type="lookback", M=4, sigma=0.4, eps=0.05),
    "barrier 2% below spot M=4": dict(type="barrier", barrier=98.0, M=4, eps=0.02),
    "barrier 10% below spot M=4": dict(type="barrier", barrier=90.0, M=4, eps=0.01),
}

# One case per payoff (the arithmetic Asian included) for the single-run checks.
TYPES = {
    "call": dict(),
    "put": dict(type="put"),
    "digital": dict(type="digital"),
    "arithmetic asian": dict(type="asian"),
    "geometric asian": dict(type="asian", average="geometric"),
    "lookback": dict(type="lookback"),
    "barrier 85": dict(type="barrier", barrier=85.0),
}


def run(seed: int = 1, **keywords) -> mlmc_hpc.RunResult:
    """One serial NumPy run (the driver's notes, e.g. a raised Lmin, are not the point)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return mlmc_hpc.price(seed=seed, backend="numpy", **keywords)


def option_of(keywords: dict) -> OptionSpec:
    """The resolved OptionSpec of a case, as price() resolves it."""
    return load_config(overrides=keyword_overrides(keywords)).option


def rms_limit(seeds: int) -> float:
    """RMS error allowed over ``seeds`` runs, in eps (module docstring)."""
    return math.sqrt(chi2.ppf(QUANTILE, seeds) / seeds)


def check(keywords: dict, mode: str, seeds: int, node: pytest.Item) -> None:
    """The RMS error (in eps) is kept in the test's user_properties (JUnit XML, xunit1)."""
    eps = keywords["eps"]
    results = [run(seed, level0=mode, **keywords) for seed in range(1, seeds + 1)]
    assert all(r.level0 == mode for r in results)
    err = np.array([r.price - r.reference_price for r in results])
    converged = np.array([r.converged for r in results])
    assert np.all(np.isfinite(err)), "every case has a closed form"
    rmse = float(np.sqrt(np.mean(err**2)))
    node.user_properties.append(("rms_error_over_eps", round(rmse / eps, 3)))
    assert rmse <= rms_limit(seeds) * eps, f"RMS error {rmse / eps:.2f} eps over {seeds} seeds"
    bad = np.flatnonzero(converged & (np.abs(err) > 4 * eps)) + 1
    assert bad.size == 0, f"converged with |error| > 4 eps for seeds {bad.tolist()}"
    guarded = [seed for seed, r in enumerate(results, 1) if "converged withdrawn" in r.warnings]
    assert not guarded, f"only the closed-form guard caught seeds {guarded}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", list(FAST))
def test_rms_error_within_eps_and_never_converged_when_wrong(case, mode, request):
    check(FAST[case], mode, FAST_SEEDS, request.node)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", list(SLOW))
def test_rms_error_within_eps_over_many_seeds(case, mode, request):
    check(SLOW[case], mode, SLOW_SEEDS, request.node)


# ----------------------------------------------------------------------------- arithmetic Asian

ASIAN_EPS = 0.01
ASIAN_REFERENCE_EPS = ASIAN_EPS / 8


@pytest.fixture(scope="module")
def asian_reference() -> float:
    """Sample-mode arithmetic Asian at eps / 8 (a seed none of the compared runs uses)."""
    reference = run(seed=1000, type="asian", level0="sample", eps=ASIAN_REFERENCE_EPS)
    assert reference.converged
    return reference.price


@pytest.mark.parametrize("mode", MODES)
def test_arithmetic_asian_agrees_with_a_sample_mode_reference(mode, asian_reference, request):
    """No closed form: the reference's error delta has RMS <= eps / 8, and |delta| <= 4 eps / 8
    (the promise for its converged run). Over the seeds' L2 norm the triangle inequality
    gives RMS(x - ref) <= RMS(x - true) + |delta|, so the RMS bound of the other cases gains
    4 eps / 8. The mean over seeds is a sharper test of the bias: E[x] - true is at most
    sqrt(theta) eps (Giles' split: bias^2 <= theta eps^2, theta = 0.25), and its noise is
    Z sample standard deviations of the prices over sqrt(seeds)."""
    eps, seeds = ASIAN_EPS, FAST_SEEDS
    results = [run(seed, type="asian", level0=mode, eps=eps) for seed in range(1, seeds + 1)]
    prices = np.array([r.price for r in results])
    slack = 4 * ASIAN_REFERENCE_EPS
    rmse = float(np.sqrt(np.mean((prices - asian_reference) ** 2)))
    offset = abs(float(prices.mean()) - asian_reference)
    request.node.user_properties += [("rms_over_eps", round(rmse / eps, 3)),
                                     ("mean_offset_over_eps", round(offset / eps, 3))]  # fmt: skip
    assert rmse <= rms_limit(seeds) * eps + slack, f"RMS {rmse / eps:.2f} eps from the reference"
    theta = 0.25
    assert results[0].theta == theta
    spread = Z * float(np.std(prices, ddof=1)) / math.sqrt(seeds)
    assert offset <= math.sqrt(theta) * eps + spread + slack, (offset / eps, spread / eps)


# ----------------------------------------------------------------------------- exact mode


@pytest.mark.parametrize("case", list(TYPES))
def test_exact_mode_has_no_level_0_samples_and_uses_the_exact_value(case):
    keywords = dict(TYPES[case], eps=0.02)
    result = run(level0="exact", **keywords)
    exact = exact_level0(option_of(keywords))
    levels = result.levels
    assert result.level0 == "exact"
    assert result.level0_value == exact.value  # the value itself, not an estimate of it
    assert exact.method in result.level0_method
    assert levels["n_samples"][0] == 0 and levels["timesteps"][0] == 0
    assert levels["variance"][0] == 0 and levels["mean"][0] == exact.value
    assert np.all(levels["n_samples"][1:] > 0)
    assert result.converged


def test_auto_is_exact():
    assert run(eps=0.05).level0 == "exact"


def test_exact_mode_cuts_the_timesteps_of_a_call():
    """Giles' allocation costs (sum_l sqrt(V_l C_l))^2 / ((1 - theta) eps^2): for the defaults'
    call sqrt(V_0 C_0) ~ 14.0 against sum_{l >= 1} ~ 1.9, so removing level 0 divides the cost
    by up to ~(15.9 / 1.9)^2 ~ 70, less where the N0 = 10^4 floor of levels 1..Lmin dominates
    (large eps). At eps = 0.005 measured: 13.6 million timesteps (sample) against 0.20
    million (exact), 67x at seed 1 (63x to 69x at seeds 2 to 4); at eps = 0.02 only 12x."""
    sample = run(level0="sample", eps=0.005)
    exact = run(level0="exact", eps=0.005)
    ratio = sample.levels["timesteps"].sum() / exact.levels["timesteps"].sum()
    assert ratio >= 20, ratio
    assert exact.converged and sample.converged


# ----------------------------------------------------------------------------- sample mode

# mlmc_hpc 0.3 (before mlmc.level0), seed 1, serial NumPy: price.hex() and N_l.
GOLDEN_SAMPLE = {
    "call": (
        dict(eps=0.02),
        "0x1.4dc389845628ap+3",
        [740490, 15329, 10000, 2033, 738, 266, 126, 47],
    ),
    "lookback": (
        dict(type="lookback", eps=0.05),
        "0x1.12885a718e3dep+4",
        [143740, 10000, 10000, 1550, 617, 204, 74, 30],
    ),
    "barrier 95": (
        dict(type="barrier", barrier=95.0, eps=0.02),
        "0x1.67eb04ff11279p+2",
        [674916, 28773, 13535, 10000, 10000, 10000, 10000, 10000, 10000, 157, 59],
    ),
}


@pytest.mark.parametrize("case", list(GOLDEN_SAMPLE))
def test_sample_mode_is_the_sampling_of_0_3(case):
    keywords, price_hex, n_samples = GOLDEN_SAMPLE[case]
    result = run(level0="sample", **keywords)
    assert result.level0 == "sample"
    assert result.levels["n_samples"][0] > 0
    assert result.level0_value == result.levels["mean"][0]
    assert result.price.hex() == price_hex
    assert result.levels["n_samples"].tolist() == n_samples


# ----------------------------------------------------------------------------- every mode's E[P_0]


@pytest.mark.parametrize("mode", ["sample", "control"])
@pytest.mark.parametrize("case", list(TYPES))
def test_sampled_level_0_agrees_with_exact_level0(case, mode):
    """Both sampled modes estimate E[P_0] (control: E[Y_0] = E[P_0] since E[Q] is exact):
    within Z standard errors of exact_level0, plus 1e-12 relative for the sums' rounding
    (the digital's P_0 is deterministic: its standard error is ~0)."""
    keywords = dict(TYPES[case], eps=0.02)
    result = run(level0=mode, **keywords)
    exact = exact_level0(option_of(keywords))
    n, variance = result.levels["n_samples"][0], result.levels["variance"][0]
    assert result.level0 == mode and n > 0
    assert result.level0_value == result.levels["mean"][0]
    se = math.sqrt(variance / n)
    gap = abs(result.level0_value - exact.value)
    assert gap <= Z * se + 1e-12 * abs(exact.value), (gap, se)
    if mode == "control":  # Pf is the plain P_0 (README): the same mean, its own variance
        se_pf = math.sqrt(result.levels["variance_pf"][0] / n)
        gap_pf = abs(result.levels["mean_pf"][0] - exact.value)
        assert gap_pf <= Z * se_pf + 1e-12 * abs(exact.value), (gap_pf, se_pf)


# ----------------------------------------------------------------------------- control mode


@pytest.mark.parametrize("case", [case for case in TYPES if case != "digital"])
def test_control_variate_cuts_the_level_0_variance(case):
    """V[Y_0] < V[P_0] / 5. A control level 0 stores Y_0 as Y and the plain P_0 as Pf
    (README, HDF5 layout), so its own ``variance_pf`` is V[P_0]. That it is V[P_0] is checked
    against a sample run at the same seed (level 0 there: Y = Pf = P_0), within Z standard
    errors of the difference of two variance estimates, se(V) = V sqrt((kurtosis - 1) / n)
    each, with the kurtosis of P_0 from the sample run; they are taken as independent (a
    positive correlation through shared random numbers would only make the bound looser).
    The digital's P_0 (Giles' conditional expectation at S0) is deterministic: nothing to cut.
    """
    keywords = dict(TYPES[case], eps=0.02)
    control = run(level0="control", **keywords).levels
    sample = run(level0="sample", **keywords).levels
    plain, reduced = control["variance_pf"][0], control["variance"][0]
    assert reduced < plain / 5, (reduced, plain)
    v, kurtosis = sample["variance"][0], sample["kurtosis"][0]  # kurtosis of P_0
    se = [var * math.sqrt((kurtosis - 1) / lv["n_samples"][0])
          for var, lv in ((v, sample), (plain, control))]  # fmt: skip
    assert abs(plain - v) <= Z * math.hypot(*se), (plain, v, se)
