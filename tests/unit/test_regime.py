"""The checks around Giles' bias test (core.regime), the scale rules (models.scales), the
driver acting on both, and the run's guards (pricing.safety)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlmc_hpc.config import load_config
from mlmc_hpc.core.driver import MLMCEstimate, run_mlmc
from mlmc_hpc.core.regime import (
    GILES,
    Safeguards,
    regime_problem,
    settled_from,
    signed_means,
    weak_rate,
)
from mlmc_hpc.core.sums import LevelSums
from mlmc_hpc.models.scales import coarsest_level, max_weak_rate, unresolved
from mlmc_hpc.pricing.safety import driver_plan, reference_doubt, withdraw


def level(mean: float, variance: float, n: int, cost: float = 1.0) -> LevelSums:
    """Sums of n samples with exactly this mean and (unbiased) variance (Gaussian 3rd/4th
    moments), cost ``cost`` per sample."""
    second = variance * (n - 1) / n + mean**2
    return LevelSums(np.array([n, n * mean, n * second, n * (mean**3 + 3 * mean * variance),
                               n * 3 * variance**2, n * mean, n * second, n * cost]))  # fmt: skip


def levels(means, variance=1e-6, n=10**6):
    return [level(m, variance, n) for m in means]


# --------------------------------------------------------------------------- regime checks


def test_geometric_decay_of_one_sign_is_the_regime():
    assert regime_problem(levels([10.0, 0.2, 0.1, 0.05, 0.025])) is None
    assert regime_problem(levels([10.0, -0.2, -0.1, -0.05, -0.025])) is None


def test_the_issues_barrier_sequence_is_refused_until_it_settles():
    """Down-and-out B = 95 (issue 15): -0.078, -0.036, +0.008, +0.034, ..."""
    seq = [5.6, -0.0778, -0.0338, 0.0072, 0.0344, 0.0410, 0.0295, 0.0150, 0.0069, 0.0033]
    problems = {L: regime_problem(levels(seq[: L + 1])) for L in range(2, len(seq))}
    assert "change sign" in problems[3]
    assert "change sign" in problems[4]
    assert "do not shrink" in problems[5]  # 0.034 -> 0.041
    assert "do not shrink" in problems[7]  # 0.041 -> 0.0295 is a ratio 0.72 > 2^-0.5
    assert problems[8] is None and problems[9] is None


def test_a_sign_change_across_a_noisy_level_is_still_a_sign_change():
    means = [5.0, -0.036, 0.0, 0.034]
    sums = [level(5.0, 1e-6, 10**6), level(-0.036, 1e-6, 10**6), level(0.0, 1.0, 100),
            level(0.034, 1e-6, 10**6)]  # fmt: skip
    assert signed_means(sums)[0].tolist() == pytest.approx(means)
    assert "change sign" in regime_problem(sums)


def test_noise_alone_is_not_a_problem():
    """Means within 3 standard errors of each other, or of zero, raise nothing."""
    se = 0.01  # variance 1e-2, n = 100
    sums = [level(5.0, 1e-2, 100), level(0.02, 1e-2, 100), level(-0.02, 1e-2, 100),
            level(0.025, 1e-2, 100)]  # fmt: skip
    assert max(abs(m) for m in signed_means(sums)[0][1:]) < 3 * se
    assert regime_problem(sums) is None


def test_significant_growth_is_a_problem_and_small_growth_within_noise_is_not():
    assert "do not shrink" in regime_problem(levels([5.0, 0.01, 0.1, 0.2]))
    grown = [level(5.0, 1e-6, 10**6), level(0.05, 1e-2, 100), level(0.06, 1e-2, 100)]
    assert regime_problem(grown) is None  # 0.06 < 0.707 * 0.05 + 3 * hypot(0.01, 0.00707)


def test_window_is_the_last_three_levels():
    """A problem below L-2 no longer matters once the last three levels have settled."""
    assert regime_problem(levels([5.0, -0.1, 0.4, 0.2, 0.1])) is None
    assert regime_problem(levels([5.0, -0.1, 0.4, 0.2])) is not None


def test_settled_from_and_weak_rate_on_settled_levels():
    seq = [5.6, -0.0778, -0.0338, 0.0072, 0.0344, 0.0410, 0.0295, 0.0150, 0.0069, 0.0033]
    sums = levels(seq)
    assert settled_from(sums) == 6
    means = np.abs(seq)
    settled = -np.polyfit(np.arange(6, 10), np.log2(means[6:]), 1)[0]
    assert weak_rate(2.0, means, sums, GILES) == 2.0
    assert weak_rate(2.0, means, sums, Safeguards(regime=True)) == pytest.approx(settled)
    assert weak_rate(0.7, means, sums, Safeguards(regime=True)) == 0.7  # the smaller one
    assert weak_rate(2.0, means, sums, Safeguards(regime=True, alpha_max=1.0)) == 1.0


def test_a_regressed_rate_above_the_weak_order_is_capped():
    means = np.array([10.0, 0.4, 0.1, 0.025])  # alpha = 2 by regression, settled
    sums = levels(means)
    assert weak_rate(2.0, means, sums, Safeguards(regime=True)) == pytest.approx(2.0)
    assert weak_rate(2.0, means, sums, Safeguards(regime=True, alpha_max=1.0)) == 1.0
    assert max_weak_rate(2) == 1.0 and max_weak_rate(4) == 2.0


def test_levels_with_few_samples_are_never_significant():
    """Under MIN_SAMPLES (30) samples neither the mean nor its variance is trusted: a level
    with one sample (variance 0) must not look like an exact, significant correction."""
    few = [level(5.0, 1e-6, 10**6), level(-0.1, 1e-6, 10**6), level(0.3, 0.0, 1)]
    assert signed_means(few)[1][2] == math.inf
    assert regime_problem(few) is None


# --------------------------------------------------------------------------- the driver


class FakeExecutor:
    """Levels with prescribed means m_l and variances V_l, sampled without noise beyond
    what the sums carry: every request returns n samples with exactly that mean."""

    def __init__(self, means, variances):
        self.means, self.variances = means, variances

    def sample(self, extra):
        return [level(self.means[l], self.variances[l], n, 2.0**l) if n else LevelSums()
                for l, n in enumerate(extra)]  # noqa: E741  # fmt: skip


def pre_asymptotic(L_max=14):
    """The barrier's shape: a sign change and growth before a geometric tail (ratio 2)."""
    head = [5.6, -0.0778, -0.0338, 0.0072, 0.0344, 0.0410, 0.0295]
    tail = [0.0295 / 2 ** (k - 6) for k in range(7, L_max + 1)]
    return head + tail, [10.0] + [0.4 / 2**l for l in range(1, L_max + 1)]


def test_giles_driver_stops_early_on_the_pre_asymptotic_levels_and_the_robust_one_does_not():
    means, variances = pre_asymptotic()
    settings = load_config({"mlmc": {"eps": 0.02}}).mlmc
    true_price = sum(means) + means[-1]  # the tail beyond L_max sums to about m_Lmax
    giles = run_mlmc(FakeExecutor(means, variances), settings, safeguards=GILES)
    robust = run_mlmc(FakeExecutor(means, variances), settings,
                      safeguards=Safeguards(regime=True, alpha_max=1.0))  # fmt: skip
    assert giles.converged and giles.L == 3
    assert abs(giles.price - true_price) > 4 * 0.02
    assert robust.converged and robust.L >= 8
    assert not any(record.unsettled for record in giles.iterations)
    # Without the cap, the regime checks alone catch it once the corrections are resolved
    # (variances / 10^4; with the full variances m_3 = 0.0072 is noise, and only the cap and
    # the scales' Lmin keep the run from stopping at L = 3).
    quiet = [v / 1e4 for v in variances]
    uncapped = run_mlmc(FakeExecutor(means, quiet), settings, safeguards=Safeguards())
    assert uncapped.converged and uncapped.L >= 8
    unsettled = [record.unsettled for record in uncapped.iterations if record.unsettled]
    assert unsettled and all("change sign" in u or "do not shrink" in u for u in unsettled)
    remaining = sum(means[robust.L + 1 :]) + means[-1]
    assert remaining <= math.sqrt(settings.theta) * settings.eps


def test_regime_problem_at_lmax_is_not_converged_and_says_why():
    means, variances = pre_asymptotic()
    settings = load_config({"mlmc": {"eps": 0.02, "Lmax": 4}}).mlmc
    said = []
    estimate = run_mlmc(FakeExecutor(means, variances), settings, warn=said.append,
                        safeguards=Safeguards(regime=True, alpha_max=1.0))  # fmt: skip
    assert not estimate.converged and estimate.L == 4
    assert len(said) == 1 and "Lmax = 4" in said[0] and "change sign" in said[0]


# --------------------------------------------------------------------------- scales


@pytest.mark.parametrize(
    ("option", "M", "expected"),
    [
        ({}, 2, 2),  # Giles' call: h = 1/4 resolves every scale
        ({"type": "barrier", "barrier": 95}, 2, 8),  # 0.0513 >= 3 * 0.2 * sqrt(h)
        ({"type": "barrier", "barrier": 95}, 4, 4),  # 4^4 = 256 steps, as 2^8
        ({"T": 10, "r": 5}, 2, 14),  # T h (r^2 + 2 r sigma^2) = 254 h <= 1/4
        ({"sigma": 1.5}, 2, 4),  # sigma^2 h <= 1/4
        ({"T": 30}, 2, 5),
    ],
)
def test_coarsest_level(option, M, expected):
    config = load_config({"option": option, "mlmc": {"M": M}})
    coarsest = coarsest_level(config.option, M, 2)
    assert coarsest.level == expected
    assert bool(coarsest.reasons) == (expected > 2)
    h = config.option.T / M**expected
    assert not unresolved(config.option, M**expected)
    assert expected == 2 or unresolved(config.option, M ** (expected - 1)), h


@pytest.mark.parametrize("preset", ["aapl", "tsla", "spy", "giles"])
def test_presets_need_no_raise(preset):
    config = load_config(preset)
    assert driver_plan(config).settings == config.mlmc


# --------------------------------------------------------------------------- guards


def test_plan_raises_lmin_and_says_so():
    config = load_config({"option": {"type": "barrier", "barrier": 95}})
    plan = driver_plan(config)
    assert plan.settings.Lmin == 8 and plan.doubt is None
    assert plan.notes == ("raising mlmc.Lmin from 2 to 8: log(S0/B) = 0.0513 >= 3 sigma "
                          "sqrt(h) needs h = T/2^8",)  # fmt: skip
    assert plan.safeguards == Safeguards(regime=True, alpha_max=1.0)
    giles = driver_plan(load_config({"option": {"type": "barrier", "barrier": 95},
                                     "mlmc": {"convergence": "giles"}}))  # fmt: skip
    assert giles.settings.Lmin == 2 and giles.safeguards == GILES and not giles.notes


def test_scales_beyond_lmax_are_a_doubt():
    config = load_config({"option": {"T": 10, "r": 5}, "mlmc": {"Lmax": 10}})
    plan = driver_plan(config)
    assert plan.settings.Lmin == 2  # no raise that cannot help (and could cost 10^4 x 2^10 each)
    assert plan.doubt and "raise mlmc.Lmax to at least 16" in plan.doubt
    near = load_config({"option": {"type": "barrier", "barrier": 99.999999},
                        "mlmc": {"M": 16, "Lmax": 10}})  # fmt: skip
    assert "no Lmax allowed for M = 16 (at most 10) reaches it" in driver_plan(near).doubt


def test_plain_mc_on_a_grid_is_never_converged_and_exact_sampling_can_be():
    def plan(option, steps):
        return driver_plan(load_config({"option": option,
                                        "mlmc": {"method": "mc", "mc_steps": steps}}))  # fmt: skip

    assert "cannot estimate its own bias" in plan({"type": "lookback"}, 64).doubt
    assert "too coarse" not in plan({"type": "lookback"}, 64).doubt
    assert "too coarse" in plan({"sigma": 1.5}, 2).doubt
    assert plan({}, "auto").doubt is None


def estimate(price, std_error=0.001, converged=True):
    return MLMCEstimate(price, std_error, converged, [], 1.0, 1.5, 1.0)


def test_price_far_from_the_closed_form_withdraws_converged():
    config = load_config({"mlmc": {"eps": 0.01}})  # Giles' call, 10.450584
    said = []
    near = withdraw(estimate(10.450584 + 0.039), config, driver_plan(config), said.append)
    assert near.converged and not said
    far = withdraw(estimate(10.450584 + 0.041), config, driver_plan(config), said.append)
    assert not far.converged and "4.1 x max(eps, std_error)" in said[0]
    assert reference_doubt(config, estimate(10.45, std_error=0.02)) is None  # within 4 se
