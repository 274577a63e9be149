"""Is Giles' bias test allowed to speak? Checks that the finest levels are in the regime
its extrapolation assumes, and the weak rate it extrapolates with.

Giles' test (Acta Numerica 24 (2015), section 3.3; ``mlmc.m``) estimates the remaining
bias sum_{l>L} E[Y_l] as max_{k=0,1,2} |m_{L-k}| 2^{-k alpha} / (2^alpha - 1): it assumes
that the corrections m_l = E[Pf_l - Pc_l] already decay geometrically, m_{l+1} ~ m_l 2^-alpha.
Before that regime (coarse steps against the problem's scales: a barrier a few percent
from spot, rT >> 1) corrections change sign or grow, and the test accepts a wrong price.

The checks below only use what the driver has: each level's signed mean m_l and its
standard error s_l = sqrt(V_l / N_l). A difference counts only when it is significant,
|m_l| > z s_l (z = :data:`Z_SIGNIFICANT`), so noise alone rarely adds a level; a level whose
mean is noise is below the resolution of the estimator and is handled by Giles' floors.
Over the *window* {L-2, L-1, L} (levels >= 1, the levels the bias test uses):

* sign: two significant corrections of opposite sign (the regime has one sign);
* decay: a pair with |m_{l+1}| > rho |m_l| + z sqrt(s_{l+1}^2 + rho^2 s_l^2), i.e. the
  correction does not shrink by at least rho = 2^-MIN_DECAY_RATE (Giles' smallest rate).

The weak rate is at most the one regressed on the *settled* levels (the longest run of
finest levels with no such problem), at most Giles' (regressed on 1..L) and at most the
scheme's weak order: a rate regressed on levels that have not settled can exceed the true
one, which shrinks 1 / (2^alpha - 1) and makes the remaining bias look smaller than it is.
Taking the smallest is conservative: a payoff that really converges faster pays for a
level it did not need, never for a wrong price, and the robust driver never stops earlier
than Giles' on the same samples for want of caution in alpha.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .estimators import MIN_RATE, regression_slope
from .sums import LevelSums

Z_SIGNIFICANT = 3.0  # a correction or a difference is real when above z standard errors
MIN_DECAY_RATE = MIN_RATE  # the regime shrinks corrections by at least 2^-0.5 per level
WINDOW = 3  # the levels Giles' bias test uses: L-2, L-1, L
MIN_SAMPLES = 30  # fewer: a level's standard error is not trusted (inf); the driver
# with the regime checks takes at least this many on every level


@dataclass(frozen=True)
class Safeguards:
    """What the driver checks beyond Giles' test (``mlmc.convergence``).

    ``regime``: accept the bias test only when :func:`regime_problem` finds nothing, and
    keep alpha no larger than its regression on the settled levels; ``alpha_max``: cap on
    a regressed alpha (log2 units: the scheme's weak order times log2 M); False and inf
    give Giles' driver.
    """

    regime: bool = True
    alpha_max: float = math.inf


ROBUST = Safeguards()  # regime checks on, no cap (the caller knows the weak order)
GILES = Safeguards(regime=False)  # Giles' driver exactly


def signed_means(levels: Sequence[LevelSums]) -> tuple[np.ndarray, np.ndarray]:
    """(m_l, s_l): each level's mean correction and its standard error sqrt(V_l / N_l);
    s_l = inf below MIN_SAMPLES samples, where neither the mean nor V_l can be trusted, and
    0 on a known level."""
    means = np.array([lv.mean for lv in levels])
    errors = np.array([0.0 if lv.exact is not None else
                       math.sqrt(lv.variance / lv.n) if lv.n >= MIN_SAMPLES else math.inf
                       for lv in levels])  # fmt: skip
    return means, errors


def pair_problem(means: np.ndarray, errors: np.ndarray, level: int) -> str | None:
    """What is wrong between levels ``level`` and ``level + 1`` (module docstring), or None."""
    m0, m1 = means[level], means[level + 1]
    s0, s1 = errors[level], errors[level + 1]
    real0 = abs(m0) > Z_SIGNIFICANT * s0
    real1 = abs(m1) > Z_SIGNIFICANT * s1
    shown = f"level {level}: {m0:+.3g}, level {level + 1}: {m1:+.3g}"
    if real0 and real1 and m0 * m1 < 0:
        return f"the corrections change sign ({shown})"
    rho = 2.0**-MIN_DECAY_RATE
    if abs(m1) > rho * abs(m0) + Z_SIGNIFICANT * math.hypot(s1, rho * s0):
        return f"the corrections do not shrink ({shown})"
    return None


Signed = tuple[np.ndarray, np.ndarray]  # (m_l, s_l) of every level, e.g. from MLQMC


def _signed(levels: Sequence[LevelSums] | Signed) -> Signed:
    """(m_l, s_l) from level sums (:func:`signed_means`), or as given."""
    return levels if isinstance(levels, tuple) else signed_means(levels)


def regime_problem(levels: Sequence[LevelSums] | Signed) -> str | None:
    """Why levels max(1, L-2)..L are not in the asymptotic regime, or None when they are.

    Sign changes are looked for between every two significant corrections of the window,
    not only neighbours: -0.036, +0.008 (noise), +0.034 is still a sign change.
    """
    means, errors = _signed(levels)
    first = max(1, len(means) - WINDOW)
    window = range(first, len(means))
    real = [l for l in window if abs(means[l]) > Z_SIGNIFICANT * errors[l]]  # noqa: E741
    signs = {bool(means[l] > 0) for l in real}  # noqa: E741
    if len(signs) > 1:
        shown = ", ".join(f"level {l}: {means[l]:+.3g}" for l in real)  # noqa: E741
        return f"the corrections change sign ({shown})"
    for level in window[:-1]:
        problem = pair_problem(means, errors, level)
        if problem:
            return problem
    return None


def settled_from(levels: Sequence[LevelSums] | Signed) -> int:
    """First level (>= 1) of the longest run of finest levels whose every neighbouring pair
    is free of :func:`pair_problem`; len(levels) - 1 when even the last pair has one."""
    means, errors = _signed(levels)
    first = len(means) - 1
    while first > 1 and pair_problem(means, errors, first - 1) is None:
        first -= 1
    return first


def weak_rate(
    giles: float,
    means: np.ndarray,
    levels: Sequence[LevelSums] | Signed,
    safeguards: Safeguards,
) -> float:
    """alpha from Giles' regression ``giles`` (on levels 1..L of the floored |m_l|): with the
    regime checks, also no more than the regression on the settled levels (when there are
    at least two, clamped below at MIN_RATE), and never above the cap. The smallest: each
    alone can overstate alpha (unsettled levels can pull Giles' regression either way), and
    a smaller alpha only makes the bias estimate m_L / (2^alpha - 1) more cautious."""
    alpha = giles
    if safeguards.regime:
        first = settled_from(levels)
        if len(means) - first >= 2:
            settled = -regression_slope(np.concatenate(([0.0], means[first:])))
            alpha = min(alpha, max(MIN_RATE, settled))
    return min(alpha, safeguards.alpha_max)
