"""Option library: closed forms, Giles' couplings, prices, variance decay, telescoping, plain MC.

Tolerances: prices within 3 eps of the closed form (the issue's criterion: RMS error eps);
rates within 3 standard errors computed from the samples' own kurtosis; the telescoping
check is Giles' own (value <= 1).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlmc_hpc.config import OptionSpec, load_config
from mlmc_hpc.core.estimators import consistency_check, rate_standard_error, regression_slope
from mlmc_hpc.core.sums import LevelSums
from mlmc_hpc.models import closed_forms as cf
from mlmc_hpc.models.options import reference_price
from mlmc_hpc.models.paths import STEP_BLOCK, PathSampler, simulate
from mlmc_hpc.models.plain import PlainMCSampler
from mlmc_hpc.models.streams import batch_generator
from mlmc_hpc.parallel.executor import serial_executor
from mlmc_hpc.pricing.run import run_pricing

GILES = dict(S0=100.0, K=100.0, T=1.0, r=0.05, sigma=0.2)
OTHER = dict(S0=50.0, K=55.0, T=0.5, r=0.01, sigma=0.4)


def run(overrides):
    """Serial NumPy run of the defaults with ``overrides`` (as the CLI would resolve them)."""
    config = load_config(overrides=[*overrides, ("run.backend", "numpy")])
    return run_pricing(config, serial_executor(config))


def spec(kind: str, params=GILES, **extra) -> OptionSpec:
    return OptionSpec(kind, **params, **extra)


# ----------------------------------------------------------------------------- closed forms


def test_black_scholes_giles_value_and_parity():
    assert cf.black_scholes("call", 100, 100, 1, 0.05, 0.2) == pytest.approx(10.450583572185565)
    call = cf.black_scholes("call", 50, 55, 0.5, 0.01, 0.4)
    put = cf.black_scholes("put", 50, 55, 0.5, 0.01, 0.4)
    assert call - put == pytest.approx(50 - 55 * math.exp(-0.005), rel=1e-13)


def test_digital_is_minus_the_strike_derivative_of_the_call():
    h = 1e-4
    slope = (cf.black_scholes("call", 100, 100 - h, 1, 0.05, 0.2)
             - cf.black_scholes("call", 100, 100 + h, 1, 0.05, 0.2)) / (2 * h)  # fmt: skip
    assert cf.digital_call(100, 100, 1, 0.05, 0.2, payout=1.0) == pytest.approx(slope, rel=1e-7)


def test_down_and_out_limits():
    call = cf.black_scholes("call", 100, 100, 1, 0.05, 0.2)
    assert cf.down_and_out_call(100, 100, 1, 0.05, 0.2, 1e-3) == pytest.approx(call, rel=1e-12)
    assert cf.down_and_out_call(100, 100, 1, 0.05, 0.2, 100 - 1e-9) == pytest.approx(0, abs=1e-6)
    values = [cf.down_and_out_call(100, 100, 1, 0.05, 0.2, b) for b in (60, 80, 85, 95)]
    assert values == sorted(values, reverse=True) and 0 < values[-1] < call
    with pytest.raises(ValueError):
        cf.down_and_out_call(100, 90, 1, 0.05, 0.2, 95)


def test_down_and_out_with_zero_drift_matches_the_reflection_principle():
    """r = sigma^2/2 makes ln S a driftless Brownian motion: the knock-in part is the
    reflected path's call, c_di = (B/S0) * C(B^2/S0, K) with zero drift in log space."""
    sigma = 0.2
    r = 0.5 * sigma**2
    S0, K, B, T = 100.0, 100.0, 85.0, 1.0
    reflected = cf.black_scholes("call", B * B / S0, K, T, r, sigma) * (S0 / B) ** (
        2 * r / sigma**2 - 1
    )
    direct = cf.black_scholes("call", S0, K, T, r, sigma) - cf.down_and_out_call(
        S0, K, T, r, sigma, B
    )
    assert direct == pytest.approx(reflected, rel=1e-12)


def test_lookback_small_rate_branch_is_continuous():
    at_zero = cf.lookback_call(100, 1, 0.0, 0.2)
    near = cf.lookback_call(100, 1, 1e-4, 0.2)
    assert near == pytest.approx(at_zero, rel=1e-3)
    assert cf.lookback_call(100, 1, 2e-7, 0.2) == pytest.approx(at_zero, rel=1e-5)


def test_geometric_asian_is_below_the_european_and_above_zero():
    geo = cf.geometric_asian_call(100, 100, 1, 0.05, 0.2)
    assert 0 < geo < cf.black_scholes("call", 100, 100, 1, 0.05, 0.2)


def test_reference_price_dispatch():
    assert math.isnan(reference_price(spec("asian")))
    assert reference_price(spec("digital")) == pytest.approx(
        100 * cf.digital_call(100, 100, 1, 0.05, 0.2, 1.0)
    )
    assert reference_price(spec("digital", payout=7.0)) == pytest.approx(
        7 * cf.digital_call(100, 100, 1, 0.05, 0.2, 1.0)
    )


# ----------------------------------------------------------------------------- couplings


def giles_reference(option: OptionSpec, rng: np.random.Generator, level: int, m: int):
    """Scalar transcription of Giles' MCQMC 2006 M = 2 formulas (fine steps, coarse step
    with the Brownian-bridge midpoint), drawing the random numbers in simulate()'s order."""
    o = option
    h = o.T / 2**level
    steps = 2 ** (level - 1)
    draws = []
    for first in range(0, steps, STEP_BLOCK):
        count = min(STEP_BLOCK, steps - first)
        z = rng.standard_normal((count, 2, m)) * math.sqrt(h)
        extra = None
        if o.type == "asian":
            extra = rng.standard_normal((count, 2, m)) * h * math.sqrt(h / 12)
        elif o.type == "lookback":
            extra = np.log1p(-rng.random((count, 2, m)))
        draws += [(z[g], None if extra is None else extra[g]) for g in range(count)]
    s, r, B = o.sigma, o.r, o.barrier
    disc = math.exp(-r * o.T)
    results = []
    for p in range(m):
        xf = xc = o.S0
        af = ac = 0.0
        mf = mc = o.S0
        bf = bc = 1.0
        for dw, extra in draws:
            dw1, dw2 = dw[0, p], dw[1, p]
            for j, d in enumerate((dw1, dw2)):
                x0 = xf
                xf = x0 + r * x0 * h + s * x0 * d + 0.5 * s * s * x0 * (d * d - h)
                if o.type == "asian":
                    af += 0.5 * h * (x0 + xf) + s * x0 * extra[j, p]
                if o.type == "lookback":
                    mf = min(
                        mf,
                        0.5
                        * (
                            x0
                            + xf
                            - math.sqrt((xf - x0) ** 2 - 2 * h * (s * x0) ** 2 * extra[j, p])
                        ),
                    )
                if o.type == "barrier":
                    bf *= 1 - math.exp(-2 * max(0.0, (x0 - B) * (xf - B)) / (h * (s * x0) ** 2))
                last_fine = x0
            x0, dwc, ddw, hc = xc, dw1 + dw2, dw1 - dw2, 2 * h
            xc = x0 + r * x0 * hc + s * x0 * dwc + 0.5 * s * s * x0 * (dwc * dwc - hc)
            vc = s * x0
            mid = 0.5 * (x0 + xc + vc * ddw)
            if o.type == "asian":
                ac += 0.5 * hc * (x0 + xc) + vc * (extra[0, p] + extra[1, p] + 0.25 * hc * ddw)
            if o.type == "lookback":
                for a, b, u in ((x0, mid, extra[0, p]), (mid, xc, extra[1, p])):
                    mc = min(mc, 0.5 * (a + b - math.sqrt((b - a) ** 2 - 2 * h * vc * vc * u)))
            if o.type == "barrier":
                for a, b in ((x0, mid), (mid, xc)):
                    bc *= 1 - math.exp(-2 * max(0.0, (a - B) * (b - B)) / (h * vc * vc))
            last_coarse, last_dw1 = x0, dw1
        if o.type == "asian":
            pf, pc = max(af / o.T - o.K, 0), max(ac / o.T - o.K, 0)
        elif o.type == "lookback":
            pf, pc = xf - mf, xc - mc
        elif o.type == "barrier":
            pf, pc = bf * max(xf - o.K, 0), bc * max(xc - o.K, 0)
        else:  # digital, payout K
            x0 = last_fine
            pf = o.K * cf.normal_cdf((x0 + r * x0 * h - o.K) / (s * x0 * math.sqrt(h)))
            x0 = last_coarse
            pc = o.K * cf.normal_cdf(
                (x0 + r * x0 * 2 * h + s * x0 * last_dw1 - o.K) / (s * x0 * math.sqrt(h))
            )
        results.append((disc * pf, disc * pc))
    return np.array(results).T


@pytest.mark.parametrize("kind", ["asian", "lookback", "digital", "barrier"])
@pytest.mark.parametrize("level", [1, 3, 7])
def test_coupling_matches_a_scalar_transcription_of_giles(kind, level):
    option = spec(kind, barrier=85.0 if kind == "barrier" else None)
    pf, pc = simulate(option, batch_generator(5, level, 0), 2**level, 2, 7)
    ref_pf, ref_pc = giles_reference(option, batch_generator(5, level, 0), level, 7)
    np.testing.assert_allclose(pf, ref_pf, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pc, ref_pc, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- statistics


CASES = [
    ("call", {}), ("put", {}), ("asian", {"average": "geometric"}), ("lookback", {}),
    ("digital", {}), ("digital", {"payout": 10.0}), ("barrier", {"barrier": 85.0}),
]  # fmt: skip


@pytest.mark.parametrize("params", [GILES, OTHER], ids=["giles", "other"])
@pytest.mark.parametrize("kind,extra", CASES)
def test_mlmc_price_within_three_eps_of_the_closed_form(kind, extra, params):
    if kind == "barrier" and params is OTHER:
        extra = {"barrier": 40.0}
    eps = 0.02 if params is GILES else 0.01
    overrides = [("option.type", kind), ("mlmc.eps", eps), ("run.backend", "numpy")]
    overrides += [(f"option.{k}", v) for k, v in {**params, **extra}.items()]
    result = run(overrides)
    assert math.isfinite(result.reference_price)
    assert abs(result.price - result.reference_price) <= 3 * eps
    assert result.converged


def test_arithmetic_asian_lies_between_geometric_and_european():
    """No closed form: AM >= GM pathwise, and the average is less volatile than S_T."""
    result = run([("option.type", "asian"), ("mlmc.eps", 0.01)])
    low = cf.geometric_asian_call(100, 100, 1, 0.05, 0.2)
    assert low + 3 * 0.01 < result.price < cf.black_scholes("call", 100, 100, 1, 0.05, 0.2)


# Giles' published rates (MCQMC 2006; mcqmc06 test: N samples per level, levels 0..L,
# regression on 1..L) and the decimals they are given to.
PUBLISHED = [
    ("call", {}, 1.93, 20_000, 8, 0.005),
    ("asian", {}, 2.27, 20_000, 8, 0.005),
    ("lookback", {}, 1.92, 20_000, 10, 0.005),
    ("digital", {}, 0.9, 200_000, 8, 0.05),
    ("barrier", {"barrier": 85.0}, 1.3, 200_000, 8, 0.05),
]


@pytest.mark.parametrize("kind,extra,beta,n,L,rounding", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_variance_decay_matches_giles_published_beta(kind, extra, beta, n, L, rounding):
    sampler = PathSampler(spec(kind, **extra), 2, seed=2024)
    levels = [LevelSums(sampler.sample(level, 0, n)) for level in range(L + 1)]
    measured = -regression_slope([lv.variance for lv in levels])
    # Giles' value is an estimate from the same N and L: its error is like ours.
    se = rate_standard_error([lv.kurtosis for lv in levels], [n] * (L + 1))
    assert abs(measured - beta) <= 3 * math.sqrt(2) * se + rounding, (measured, se)


@pytest.mark.parametrize("kind,extra", CASES + [("asian", {})])
@pytest.mark.parametrize("M", [2, 4])
def test_telescoping_identity_holds_on_every_level(kind, extra, M):
    sampler = PathSampler(spec(kind, **extra), M, seed=11)
    n = 20_000
    levels = [LevelSums(sampler.sample(level, 0, n)) for level in range(6 if M == 2 else 4)]
    for fine, coarser in zip(levels[1:], levels[:-1], strict=True):
        check = consistency_check(
            fine.mean, fine.mean_pf, coarser.mean_pf,
            fine.variance, fine.variance_pf, coarser.variance_pf, n,
        )  # fmt: skip
        assert check <= 1.0


# ----------------------------------------------------------------------------- plain MC


def test_exact_sampling_has_no_bias_and_its_ci_covers_black_scholes():
    sampler = PlainMCSampler(spec("put", OTHER), None, seed=3)
    level = LevelSums(sampler.sample(0, 0, 400_000))
    se = math.sqrt(level.variance / level.n)
    assert abs(level.mean - cf.black_scholes("put", 50, 55, 0.5, 0.01, 0.4)) <= 3 * se
    assert sampler.steps(0) == 1


@pytest.mark.parametrize(
    "kind,steps,eps", [("call", "auto", 0.02), ("put", 64, 0.03), ("lookback", 256, 0.05)]
)
def test_plain_mc_mode_meets_its_target(kind, steps, eps, tmp_path):
    overrides = [("option.type", kind), ("mlmc.method", "mc"), ("mlmc.mc_steps", steps),
                 ("mlmc.eps", eps)]  # fmt: skip
    result = run(overrides)
    target = eps**2 if steps == "auto" else 0.75 * eps**2
    assert result.method == "mc" and result.L == 0 and math.isnan(result.beta)
    assert result.std_error**2 <= 1.01 * target  # stops once < 1% more samples are wanted
    assert abs(result.price - result.reference_price) <= 3 * eps
    assert result.ci95_low < result.price < result.ci95_high
    assert result.ci95_high - result.price == pytest.approx(1.959963984540054 * result.std_error)
    cost = 1 if steps == "auto" else steps
    assert result.levels["cost_per_sample"].tolist() == [cost]
    assert result.levels["timesteps"][0] == cost * result.levels["n_samples"][0]
    path = tmp_path / "mc.h5"
    result.save(path)
    loaded = type(result).load(path)
    assert loaded.method == "mc" and loaded.ci95_low == result.ci95_low


def test_mlmc_beats_plain_mc_on_cost_for_the_same_lookback_accuracy():
    base = [("option.type", "lookback"), ("mlmc.eps", 0.05)]
    mlmc_result = run(base)
    finest = 2**mlmc_result.L
    mc_result = run(base + [("mlmc.method", "mc"), ("mlmc.mc_steps", finest)])
    assert mlmc_result.levels["timesteps"].sum() < mc_result.levels["timesteps"].sum() / 3
    # Both estimate E[P_L] on the same grid (MLMC telescopes to it): only noise differs.
    spread = math.hypot(mlmc_result.std_error, mc_result.std_error)
    assert abs(mlmc_result.price - mc_result.price) <= 3 * spread
