"""Small pure functions of Giles' adaptive MLMC algorithm.

References: M.B. Giles, "Multilevel Monte Carlo methods", Acta Numerica 24 (2015),
Algorithm 1 and section 2.2; and the driver ``mlmc.m`` / ``mlmc.cpp`` (v1.0) whose
conventions these follow: rates are log2 of per-level decay factors, regressed on
levels 1..L and clamped at 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MIN_RATE = 0.5
MAX_SAMPLES = float(2**62)  # N_l is capped here: never an int64 overflow (the budget refuses)
Floats = Sequence[float] | np.ndarray  # per-level values: a list or a float64 array
Ints = Sequence[int] | np.ndarray  # per-level sample counts: a list or an int64 array


def regression_slope(values: Floats) -> float:
    """Least-squares slope of log2(values[l]) against l for l = 1..L (values[0] ignored)."""
    levels = np.arange(1, len(values), dtype=np.float64)
    positive = np.maximum(np.asarray(values[1:], dtype=np.float64), np.finfo(np.float64).tiny)
    logs = np.log2(positive)
    if len(levels) < 2:
        raise ValueError("need at least levels 1 and 2 to regress a rate")
    design = np.vstack([levels, np.ones_like(levels)]).T
    slope, _ = np.linalg.lstsq(design, logs, rcond=None)[0]
    return float(slope)


def estimate_rates(
    means: Floats,
    variances: Floats,
    costs: Floats,
    fixed: tuple[float | None, float | None, float | None] = (None, None, None),
) -> tuple[float, float, float]:
    """alpha, beta, gamma: |E Y_l| ~ 2^-alpha l, V_l ~ 2^-beta l, C_l ~ 2^gamma l.

    A rate given in ``fixed`` is used as is; the others come from the regression
    on levels 1..L, clamped to >= 0.5 as in Giles' code.
    """
    alpha, beta, gamma = fixed
    if alpha is None:
        alpha = max(MIN_RATE, -regression_slope(means))
    if beta is None:
        beta = max(MIN_RATE, -regression_slope(variances))
    if gamma is None:
        gamma = max(MIN_RATE, regression_slope(costs))
    return alpha, beta, gamma


def floor_estimates(
    means: Floats, variances: Floats, alpha: float, beta: float
) -> tuple[np.ndarray, np.ndarray]:
    """For l >= 2: m_l >= m_{l-1} / (2 * 2^alpha) and V_l >= V_{l-1} / (2 * 2^beta).

    Guards against zero (or tiny) estimates on fine levels with few samples; applied
    in increasing l so a floor propagates, exactly as ``mlmc.m`` does.
    """
    m = np.array(means, dtype=np.float64)
    v = np.array(variances, dtype=np.float64)
    for level in range(2, len(m)):
        m[level] = max(m[level], 0.5 * m[level - 1] / 2.0**alpha)
        v[level] = max(v[level], 0.5 * v[level - 1] / 2.0**beta)
    return m, v


def optimal_samples(variances: Floats, costs: Floats, eps: float, theta: float) -> np.ndarray:
    """N_l = ceil( sqrt(V_l / C_l) * sum_k sqrt(V_k C_k) / ((1 - theta) eps^2) ).

    Minimises total cost sum N_l C_l subject to sum V_l / N_l <= (1 - theta) eps^2.
    Capped at 2**62, so a tiny eps never wraps around int64.
    """
    v = np.asarray(variances, dtype=np.float64)
    c = np.asarray(costs, dtype=np.float64)
    total = np.sum(np.sqrt(v * c))
    wanted = np.ceil(np.sqrt(v / c) * total / ((1.0 - theta) * eps**2))
    return np.minimum(wanted, MAX_SAMPLES).astype(np.int64)


def extra_samples(targets: Ints, done: Ints) -> np.ndarray:
    """dN_l = max(0, N_l - N_l_done)."""
    return np.maximum(0, np.asarray(targets, dtype=np.int64) - np.asarray(done, dtype=np.int64))


def nearly_converged(extra: Ints, done: Ints, fraction: float = 0.01) -> bool:
    """True when no level needs more than ``fraction`` extra samples."""
    return not np.any(np.asarray(extra) > fraction * np.asarray(done))


def remaining_bias(means: Floats, alpha: float) -> float:
    """Weak-error estimate max_{k=0,1,2} m_{L-k} 2^(-k alpha) / (2^alpha - 1)."""
    m = np.asarray(means, dtype=np.float64)
    last = m[-1:-4:-1]  # m_L, m_{L-1}, m_{L-2}
    weights = 2.0 ** (-alpha * np.arange(len(last)))
    return float(np.max(last * weights) / (2.0**alpha - 1.0))


def bias_target(eps: float, theta: float) -> float:
    """Largest bias allowed: sqrt(theta) eps."""
    return math.sqrt(theta) * eps


def variance_target(eps: float, theta: float) -> float:
    """Largest estimator variance allowed: (1 - theta) eps^2."""
    return (1.0 - theta) * eps**2


def consistency_check(
    mean_y: float,
    mean_pf: float,
    mean_pf_coarser: float,
    var_y: float,
    var_pf: float,
    var_pf_coarser: float,
    n: int,
) -> float:
    """Giles' telescoping check for level l >= 1 (``mlmc_test.m``), with independent
    samples per level: E[Pc_l] must equal E[Pf_{l-1}], so

        |mean Y_l - mean Pf_l + mean Pf_{l-1}| / (3 (sqrt V_Y + sqrt Vf_l + sqrt Vf_{l-1}) / sqrt n)

    is below 1 unless the coupling is wrong (values > 1 are Giles' warning).
    """  # fmt: skip
    spread = 3.0 * (math.sqrt(var_y) + math.sqrt(var_pf) + math.sqrt(var_pf_coarser))
    return abs(mean_y - mean_pf + mean_pf_coarser) / (spread / math.sqrt(n))


def slope_standard_error(se_log2: Floats) -> float:
    """Standard error of the least-squares slope over levels 1..L (index 0 ignored) when
    log2 of level l's estimate has standard error se_log2[l], levels independent:
    slope = sum_l c_l y_l, c_l = (l - mean l) / sum (l - mean l)^2, se = sqrt(sum c_l^2 se_l^2).
    """
    levels = np.arange(1, len(se_log2), dtype=np.float64)
    weights = (levels - levels.mean()) / np.sum((levels - levels.mean()) ** 2)
    return float(np.sqrt(np.sum(weights**2 * np.asarray(se_log2[1:], dtype=np.float64) ** 2)))


def rate_standard_error(kurtosis: Floats, n: Ints) -> float:
    """Standard error of beta: a sample variance of n values with kurtosis k has relative
    variance (k - 1)/n, so se(log2 V_l) = sqrt((k_l - 1)/n_l) / ln 2."""
    k = np.asarray(kurtosis, dtype=np.float64)
    counts = np.asarray(n, dtype=np.float64)
    return slope_standard_error(np.sqrt(np.maximum(k - 1.0, 0.0) / counts) / math.log(2.0))


def weak_rate_standard_error(means: Floats, variances: Floats, n: Ints) -> float:
    """Standard error of alpha: se(log2 |m_l|) = sqrt(V_l / n_l) / (|m_l| ln 2)."""
    m = np.abs(np.asarray(means, dtype=np.float64))
    se = np.sqrt(np.asarray(variances, dtype=np.float64) / np.asarray(n, dtype=np.float64))
    return slope_standard_error(se / (np.maximum(m, np.finfo(np.float64).tiny) * math.log(2.0)))
