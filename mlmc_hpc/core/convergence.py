"""Giles' convergence and complexity tests (``mlmc_test.m``), on any executor.

Convergence test: N samples on each level 0..L; per level the means and variances of
Pf - Pc and Pf, the kurtosis, the telescoping check and the cost; alpha, beta, gamma by
regression on levels 1..L. Complexity test: the adaptive driver at each eps with those
rates, its cost sum_l N_l C_l, the plain Monte Carlo cost on its finest level
V[Pf_L] C_L / ((1 - theta) eps^2), and their ratio (the savings). With ``repeat`` > 1,
K independent runs per eps give the empirical RMS error against the closed form and
the fraction of runs within eps (Giles' ``mlmc_test_100``). ``level0_savings`` is what
the level-0 mode saves at each eps, predicted by Giles' optimal cost
(sum_l sqrt(V_l C_l))^2 / ((1 - theta) eps^2) with the run's levels >= 1 and V_0 sampled
(the convergence test's V[Pf_0]) against V_0 as run (0 when exact); 1 for ``sample``.

Reference: M.B. Giles, Acta Numerica 24 (2015), section 3 and the MATLAB/C++ codes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..config.schema import MLMCSettings
from .driver import LevelExecutor, run_mlmc
from .estimators import consistency_check, estimate_rates, rate_standard_error, variance_target
from .regime import ROBUST, Safeguards
from .sums import LevelSums

KURTOSIS_WARNING = 100.0  # Giles: kurtosis above this on the finest level
CONVERGENCE_COLUMNS = ("level", "ave_pf_pc", "ave_pf", "var_pf_pc", "var_pf", "kurtosis",
                       "check", "cost")  # fmt: skip
COMPLEXITY_COLUMNS = ("eps", "value", "mlmc_cost", "std_cost", "savings", "L", "N_l",
                      "level0_savings")  # fmt: skip
REPEAT_COLUMNS = ("eps", "rms_error", "within_eps", "mean_cost", "prices")


@dataclass
class ConvergenceTable:
    """One row per level (columns :data:`CONVERGENCE_COLUMNS`) and the regressed rates."""

    columns: dict[str, np.ndarray]
    alpha: float
    beta: float
    gamma: float
    beta_std_error: float
    warnings: list[str] = field(default_factory=list)


def convergence_test(
    executor: LevelExecutor, N: int, L: int, cost: Callable[[int], int]
) -> ConvergenceTable:
    """N samples on each level 0..L through ``executor``; see the module docstring."""
    levels = executor.sample([N] * (L + 1))
    mean_y = np.array([lv.mean for lv in levels])
    mean_pf = np.array([lv.mean_pf for lv in levels])
    var_y = np.array([lv.variance for lv in levels])
    var_pf = np.array([lv.variance_pf for lv in levels])
    kurtosis = np.array([lv.kurtosis for lv in levels])
    check = np.full(L + 1, np.nan)
    for l in range(1, L + 1):  # noqa: E741 - Giles' notation
        check[l] = consistency_check(mean_y[l], mean_pf[l], mean_pf[l - 1],
                                     var_y[l], var_pf[l], var_pf[l - 1], N)  # fmt: skip
    costs = np.array([float(cost(l)) for l in range(L + 1)])
    alpha, beta, gamma = estimate_rates(np.abs(mean_y), var_y, costs)
    warnings = []
    if kurtosis[-1] > KURTOSIS_WARNING:
        warnings.append(
            f"kurtosis on the finest level = {kurtosis[-1]:.1f} > {KURTOSIS_WARNING:g}: "
            f"the variance estimates there are unreliable"
        )
    bad = [l for l in range(1, L + 1) if check[l] > 1.0]  # noqa: E741
    if bad:
        worst = max(bad, key=lambda l: check[l])  # noqa: E741
        warnings.append(
            f"consistency check > 1 on level(s) {', '.join(map(str, bad))} "
            f"(max {check[worst]:.2f} on level {worst}): the coupling may be wrong"
        )
    return ConvergenceTable(
        columns={
            "level": np.arange(L + 1), "ave_pf_pc": mean_y, "ave_pf": mean_pf,
            "var_pf_pc": var_y, "var_pf": var_pf, "kurtosis": kurtosis, "check": check,
            "cost": costs,
        },
        alpha=alpha, beta=beta, gamma=gamma,
        beta_std_error=rate_standard_error(kurtosis, [N] * (L + 1)),
        warnings=warnings,
    )  # fmt: skip


def std_cost(var_pf: float, cost: float, eps: float, theta: float) -> float:
    """Plain Monte Carlo cost for the same variance on one grid: V[Pf] C / ((1-theta) eps^2)."""
    return var_pf * cost / variance_target(eps, theta)


@dataclass
class ComplexityRow:
    """One eps of the complexity test: the first run's price, cost and levels, all runs' prices."""

    eps: float
    value: float
    mlmc_cost: float
    std_cost: float
    L: int
    N_l: list[int]
    level0_savings: float = 1.0  # predicted cost with level 0 sampled / with it as run
    prices: list[float] = field(default_factory=list)  # all K runs (repeat)
    costs: list[float] = field(default_factory=list)

    @property
    def savings(self) -> float:
        """MLMC's saving over plain Monte Carlo: std_cost / mlmc_cost."""
        return self.std_cost / self.mlmc_cost


def complexity_test(
    executor: LevelExecutor,
    settings: MLMCSettings,
    eps_list: Sequence[float],
    convergence: ConvergenceTable,
    cost: Callable[[int], int],
    repeat: int = 1,
    progress: Callable[[str], None] | None = None,
    safeguards: Safeguards = ROBUST,
    known: Mapping[int, float] | None = None,
) -> list[ComplexityRow]:
    """The adaptive driver at each eps (``repeat`` times) with the convergence test's rates
    (alpha capped at ``safeguards.alpha_max``, as the driver caps a regressed alpha) and the
    run's ``safeguards`` (and ``known`` levels: an exact level 0).

    Every run draws fresh batches (the executor's per-level batch counters only grow).
    std_cost uses V[Pf] of the run's finest level from the convergence test when it has
    that level, else from the run itself, as Giles does.
    """
    fixed = dataclasses.replace(
        settings,
        alpha=min(convergence.alpha, safeguards.alpha_max),
        beta=convergence.beta,
        gamma=convergence.gamma,
    )
    rows: list[ComplexityRow] = []
    for eps in eps_list:
        row: ComplexityRow | None = None
        for k in range(repeat):
            estimate = run_mlmc(executor, dataclasses.replace(fixed, eps=eps),
                                safeguards=safeguards, known=known)  # fmt: skip
            counts = [lv.n for lv in estimate.levels]
            mlmc_cost = float(sum(n * cost(l) for l, n in enumerate(counts)))
            finest = estimate.L
            tested = convergence.columns["var_pf"]
            var_pf = tested[finest] if finest < len(tested) else estimate.levels[-1].variance_pf
            if row is None:
                row = ComplexityRow(eps, estimate.price, mlmc_cost,
                                    std_cost(float(var_pf), cost(finest), eps, settings.theta),
                                    finest, counts, level0_savings(estimate.levels,
                                    convergence.columns["var_pf"][0], cost))  # fmt: skip
            row.prices.append(estimate.price)
            row.costs.append(mlmc_cost)
            if progress:
                progress(f"eps {eps:g} run {k + 1}/{repeat}: {estimate.price:.6f}, L {finest}")
        if row is None:
            raise ValueError(f"repeat must be >= 1, got {repeat}")
        rows.append(row)
    return rows


def level0_savings(
    levels: Sequence[LevelSums], sampled_v0: float, cost: Callable[[int], int]
) -> float:
    """(sqrt(V0 C_0) + S)^2 / (sqrt(V_0 C_0) + S)^2, S = sum_{l>=1} sqrt(V_l C_l): Giles'
    optimal cost with level 0 sampled plainly (V0 = the run's own V[Pf_0] where it sampled
    level 0, so exactly 1 for ``sample``; else ``sampled_v0``) over the cost with level 0
    as in ``levels`` (V_0 = 0 when known); see the module docstring."""
    if levels[0].n:
        sampled_v0 = levels[0].variance_pf
    rest = sum(math.sqrt(lv.variance * cost(l)) for l, lv in enumerate(levels) if l)  # noqa: E741
    as_run = math.sqrt(levels[0].variance * cost(0)) + rest
    return float((math.sqrt(sampled_v0 * cost(0)) + rest) ** 2 / as_run**2) if as_run else 1.0


def repeat_summary(row: ComplexityRow, reference: float) -> tuple[float, float]:
    """(RMS error against ``reference``, fraction of runs with |error| <= eps); NaN without
    a reference."""
    if not math.isfinite(reference):
        return math.nan, math.nan
    errors = np.array(row.prices) - reference
    return float(np.sqrt(np.mean(errors**2))), float(np.mean(np.abs(errors) <= row.eps))
