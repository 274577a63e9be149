"""Level 0 in expectation (exact_level0) and with a control variate (control_level0).

Every Monte Carlo check uses a fixed seed and a 4-standard-error bound computed from the
samples themselves; quadrature checks compare two different rules or a closed form.
"""

import math

import numpy as np
import pytest
from scipy.integrate import quad

from mlmc_hpc.config import OptionSpec
from mlmc_hpc.core.sums import Y1, Y2, N
from mlmc_hpc.models.closed_forms import geometric_asian_call
from mlmc_hpc.models.european import MilsteinGBMSampler
from mlmc_hpc.models.level0 import (
    exact_level0,
    integrate_z,
    level0_integrand,
    milstein_x1,
    tail_moments,
)
from mlmc_hpc.models.level0_control import control_level0, control_moments
from mlmc_hpc.models.options import reference_price
from mlmc_hpc.models.paths import simulate

EASY = {"S0": 100.0, "K": 100.0, "T": 1.0, "r": 0.05, "sigma": 0.2}
HARD = {"S0": 100.0, "K": 110.0, "T": 2.0, "r": 0.1, "sigma": 0.4}
KINDS = ("call", "put", "digital", "asian", "geometric", "lookback", "barrier")


def make(kind: str, base: dict) -> OptionSpec:
    hard = base is HARD
    if kind == "geometric":
        return OptionSpec("asian", **base, average="geometric")
    if kind == "barrier":
        return OptionSpec("barrier", **base, barrier=85.0 if hard else 90.0)
    if kind == "digital":
        return OptionSpec("digital", **base, payout=10.0 if hard else None)
    return OptionSpec(kind, **base)


CASES = [
    pytest.param(make(k, b), id=f"{k}-{n}")
    for k in KINDS
    for n, b in (("easy", EASY), ("hard", HARD))
]
VARIABLE = [case for case in CASES if case.values[0].type != "digital"]


def mean_and_se(chunks) -> tuple[float, float, int]:
    """Mean, standard error and count of samples given as an iterable of arrays."""
    n, s1, s2 = 0, [], []
    for x in chunks:
        n += len(x)
        s1.append(math.fsum(x))
        s2.append(math.fsum(x * x))
    mean = math.fsum(s1) / n
    var = max(0.0, (math.fsum(s2) - n * mean * mean) / (n - 1))
    return mean, math.sqrt(var / n), n


def simulated(option: OptionSpec, seed: int, n: int, width: int = 8192):
    rng = np.random.default_rng(seed)
    for start in range(0, n, width):
        yield simulate(option, rng, 1, None, min(width, n - start))[0]


# 1. exact_level0 against brute-force Monte Carlo of the existing level-0 samplers.


@pytest.mark.parametrize("option", CASES)
def test_exact_matches_path_sampler(option):
    """1e7 samples of paths.simulate (one step, M=None) within 4 standard errors; the digital's
    P_0 is deterministic, so its samples must all equal the exact value (1e5 of them)."""
    exact = exact_level0(option).value
    n = 100_000 if option.type == "digital" else 10_000_000
    chunks = list(simulated(option, seed=2024, n=n))
    mean, se, _ = mean_and_se(chunks)
    if option.type == "digital":
        assert all(np.ptp(x) == 0.0 for x in chunks)
        assert chunks[0][0] == pytest.approx(exact, rel=1e-14)
    else:
        assert abs(mean - exact) <= 4 * se, (mean, exact, se)


@pytest.mark.parametrize("option", [c for c in CASES if c.values[0].type in ("call", "put")])
def test_exact_matches_milstein_sampler(option):
    """MilsteinGBMSampler level 0 (its own one-step formula), 1e7 samples, 4 standard errors."""
    sums = MilsteinGBMSampler(option, 2, seed=7).sample(0, 0, 10_000_000)
    n, mean = sums[N], sums[Y1] / sums[N]
    se = math.sqrt((sums[Y2] / n - mean * mean) / (n - 1))
    assert abs(mean - exact_level0(option).value) <= 4 * se


# 2. exact_level0 against independent computations.


def scipy_quad(option: OptionSpec) -> float:
    """int E[P_0 | Z] phi(Z) dZ by QUADPACK's adaptive Gauss-Kronrod, split at the kinks."""
    func, kinks = level0_integrand(option)

    def f(z):
        return float(func(np.array([z]))[0]) * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

    edges = sorted({-38.5, -10.0, -5.0, 0.0, 5.0, 10.0, 38.5, *kinks})
    pieces = [
        quad(f, a, b, epsabs=0, epsrel=1e-13, limit=400)[0]
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
    return math.fsum(pieces)


EDGE_EUROPEANS = [
    OptionSpec("call", 100.0, 200.0, 1.0, 0.05, 0.2),  # deep out of the money: 1.5e-3
    OptionSpec("call", 100.0, 300.0, 1.0, 0.05, 0.2),  # 3e-9
    OptionSpec("put", 100.0, 150.0, 1.0, 0.05, 0.2),  # roots on both sides of 0
    OptionSpec("put", 100.0, 53.2, 1.0, 0.05, 0.2),  # narrow root interval: Gauss-Legendre
    OptionSpec("put", 100.0, 54.0, 1.0, 0.05, 0.2),  # both roots deep in the left tail
    OptionSpec("put", 100.0, 50.0, 1.0, 0.05, 0.2),  # no real root: 0
    OptionSpec("call", 100.0, 100.0, 5.0, 0.0, 1.0),
    OptionSpec("put", 100.0, 100.0, 0.01, 0.05, 0.1),
]


@pytest.mark.parametrize(
    "option", [c.values[0] for c in CASES if c.values[0].type in ("call", "put")] + EDGE_EUROPEANS
)
def test_european_closed_form_matches_quadrature(option):
    """Closed form vs the adaptive Gauss-Legendre quadrature of the same payoff (measured
    agreement <= 1e-15 relative) and vs QUADPACK, at 1e-12."""
    exact = exact_level0(option).value
    func, kinks = level0_integrand(option)
    assert exact == pytest.approx(integrate_z(func, kinks)[0], rel=1e-12, abs=1e-300)
    assert exact == pytest.approx(scipy_quad(option), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("option", [c for c in VARIABLE if c.values[0].type not in ("call", "put")])
def test_quadrature_matches_quadpack_and_tensor_rule(option):
    """Gauss-Legendre over Z vs QUADPACK on the same E[P_0 | Z] (measured <= 6e-16), and vs a
    2-D tensor rule on the raw payoff, without the conditional closed form (measured <= 3e-15)."""
    exact = exact_level0(option)
    assert "estimated relative error" in exact.method
    assert exact.value == pytest.approx(scipy_quad(option), rel=1e-12)
    if option.type in ("asian", "lookback"):
        assert exact.value == pytest.approx(control_moments(option, scale=2)[0], rel=1e-10)


@pytest.mark.parametrize("z", [-3.0, -0.7, 0.0, 0.4, 2.5])
@pytest.mark.parametrize("base", [EASY, HARD])
def test_conditional_closed_forms_match_nested_quadrature(base, z):
    """E[P_0 | Z] of the asian (both averages) and the lookback vs QUADPACK over xi or E."""
    phi = lambda x: math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)  # noqa: E731
    x1 = float(milstein_x1(OptionSpec("call", **base), np.array(z)))
    S0, K, T, r, sigma = (base[k] for k in ("S0", "K", "T", "r", "sigma"))
    D = math.exp(-r * T)
    arithmetic = lambda x: max(0.5 * (S0 + x1) + sigma * S0 * math.sqrt(T / 12) * x - K, 0) * phi(x)  # noqa: E731
    log_mean = 0.5 * (math.log(S0) + math.log(x1))
    geometric = lambda x: max(math.exp(log_mean + sigma * math.sqrt(T / 12) * x) - K, 0) * phi(x)  # noqa: E731
    spread = lambda e: 0.5 * (x1 - S0 + math.sqrt((x1 - S0) ** 2 + 2 * T * (sigma * S0) ** 2 * e))  # noqa: E731
    kinks = {
        "asian": (K - 0.5 * (S0 + x1)) / (sigma * S0 * math.sqrt(T / 12)),
        "geometric": (math.log(K) - log_mean) / (sigma * math.sqrt(T / 12)),
    }
    for kind, f in (("asian", arithmetic), ("geometric", geometric)):
        k = min(max(kinks[kind], -40.0), 40.0)
        nested = (
            quad(f, -40, k, epsabs=0, epsrel=1e-13)[0] + quad(f, k, 40, epsabs=0, epsrel=1e-13)[0]
        )
        func = level0_integrand(make(kind, base))[0]
        assert float(func(np.array([z]))[0]) == pytest.approx(D * nested, rel=1e-10, abs=1e-12)
    nested = quad(lambda e: spread(e) * math.exp(-e), 0, np.inf, epsabs=0, epsrel=1e-13)[0]
    func = level0_integrand(make("lookback", base))[0]
    assert float(func(np.array([z]))[0]) == pytest.approx(D * nested, rel=1e-10)


@pytest.mark.parametrize("s", [-6.0, -2.0, -0.5, 0.0, 1.0, 2.0, 2.001, 3.0, 5.0, 9.0])
def test_tail_moments_match_quadpack(s):
    """J_k(s) = int_s^inf (Z - s)^k phi(Z) dZ on both branches (erfc and continued fraction)."""
    j1, j2 = (float(v[0]) for v in tail_moments(np.array([s])))
    for k, value in ((1, j1), (2, j2)):
        f = lambda z, k=k: (z - s) ** k * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)  # noqa: E731
        first = quad(f, s, s + 1.0, epsabs=0, epsrel=2e-14)[0]  # the largest piece
        rest = np.arange(s + 1.0, max(s, 0.0) + 10.0)
        pieces = [first] + [quad(f, a, a + 1.0, epsabs=1e-17 * first)[0] for a in rest]
        assert value == pytest.approx(math.fsum(pieces), rel=1e-12)


# 3. The control variate.


@pytest.mark.parametrize("option", CASES)
def test_control_mean_and_variance(option):
    """1e6 samples of Y_0: mean within 4 standard errors of E[P_0]; Var(Y_0) < Var(P_0)/5.
    Measured Var(P_0)/Var(Y_0) on these samples (easy, hard): call 3250, 69; put 2110, 24;
    arithmetic asian 144, 19.5; geometric asian 1690, 101; lookback 109, 24; barrier 4380, 69."""
    control = control_level0(option)
    exact = exact_level0(option).value
    rng = np.random.default_rng(99)
    pairs = [control.pair(rng, 8192) for _ in range(123)]  # 1_007_616 samples
    y = [p - control.coefficient * (q - control.control_mean) for p, q in pairs]
    mean, se, _ = mean_and_se(y)
    if option.type == "digital":
        assert control.coefficient == 0.0 and "deterministic" in control.method
        assert all(np.ptp(x) == 0.0 for x in y)
        assert y[0][0] == pytest.approx(exact, rel=1e-14)
        return
    assert abs(mean - exact) <= 4 * se, (mean, exact, se)
    p0 = np.concatenate([p for p, _ in pairs])
    assert np.var(np.concatenate(y)) < np.var(p0) / 5


@pytest.mark.parametrize("option", CASES)
def test_control_mean_is_the_closed_form(option):
    control = control_level0(option)
    if option.type == "asian" and option.average == "arithmetic":
        o = option
        closed = geometric_asian_call(o.S0, o.K, o.T, o.r, o.sigma)
    else:
        closed = reference_price(option)
    assert control.control_mean == closed
    if option.type != "digital":  # the covariance rule integrates Q to its closed form
        assert control_moments(option)[1] == pytest.approx(closed, rel=1e-9)


@pytest.mark.parametrize("option", CASES)
def test_control_is_deterministic_and_samples_p0_like_the_path_sampler(option):
    """Same c bit for bit on every call; same Y_0 for the same seed; P_0 equals the
    paths.simulate sample drawn from the same stream (the documented draw order)."""
    first, second = control_level0(option), control_level0(option)
    assert first == second
    a = first.sample(np.random.default_rng(5), 1000)
    b = second.sample(np.random.default_rng(5), 1000)
    assert a.dtype == np.float64 and a.shape == (1000,) and np.array_equal(a, b)
    p0, _ = first.pair(np.random.default_rng(6), 1000)
    pf, _ = simulate(option, np.random.default_rng(6), 1, None, 1000)
    np.testing.assert_allclose(p0, pf, rtol=1e-12, atol=1e-10)


# 4. Undefined level 0.


def test_geometric_asian_with_nonpositive_milstein_minimum_is_refused():
    """1/2 + (r - sigma^2/2) T <= 0: X_1 can be <= 0, so ln X_1 and E[P_0] are undefined."""
    option = OptionSpec("asian", 100.0, 100.0, 2.0, 0.0, 0.8, average="geometric")  # -0.14
    for function in (exact_level0, control_level0):
        with pytest.raises(ValueError, match=r"undefined.*1/2 \+ \(r - sigma\^2/2\) T") as info:
            function(option)
        assert "r=0" in str(info.value) and "sigma=0.8" in str(info.value)
        assert "T=2" in str(info.value) and "\n" not in str(info.value)
    boundary = OptionSpec("asian", 100.0, 100.0, 1.0, 0.0, 1.0, average="geometric")  # w = 0
    with pytest.raises(ValueError, match="undefined"):
        exact_level0(boundary)
