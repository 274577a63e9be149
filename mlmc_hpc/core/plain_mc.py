"""Plain (single-level) Monte Carlo driver, pure: the baseline MLMC is measured against.

It sees one level's sums from the executor and stops when the estimator's variance
V / N reaches its target: eps^2 for exact sampling (no bias), (1 - theta) eps^2 on a
timestep grid, whose bias budget theta eps^2 it cannot test. Each iteration asks for
N = ceil(V / target) in total (Giles, Acta Numerica 24 (2015), section 1.2); it ends,
like the MLMC loop, once fewer than 1% more samples are wanted. The state is a
:class:`~mlmc_hpc.core.driver.DriverState` with one level, so checkpoints and --resume
work unchanged.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from ..config.schema import MLMCSettings
from .driver import (
    DriverState,
    IterationRecord,
    LevelExecutor,
    MLMCEstimate,
    check_finite,
    end_iteration,
)
from .estimators import extra_samples, nearly_converged, variance_target
from .sums import LevelSums

Z95 = 1.959963984540054  # two-sided 95% standard normal quantile


def mc_variance_target(eps: float, theta: float, exact: bool) -> float:
    """eps^2 when sampling is exact (no bias), else (1 - theta) eps^2."""
    return eps**2 if exact else variance_target(eps, theta)


def samples_needed(variance: float, target: float) -> int:
    """N = ceil(V / target): the samples whose mean has variance <= target."""
    return max(1, math.ceil(variance / target))


def confidence_interval(price: float, std_error: float, z: float = Z95) -> tuple[float, float]:
    """price -+ z std_error (normal approximation, 95% by default)."""
    return price - z * std_error, price + z * std_error


def initial_mc_state(settings: MLMCSettings) -> DriverState:
    """N0 samples on the one level; the MLMC rates do not apply (NaN)."""
    nan = math.nan
    return DriverState(
        levels=[LevelSums()], extra=np.array([settings.N0], dtype=np.int64),
        alpha=nan, beta=nan, gamma=nan,
    )  # fmt: skip


def run_mc(
    executor: LevelExecutor,
    settings: MLMCSettings,
    progress: Callable[[IterationRecord], None] | None = None,
    state: DriverState | None = None,
    checkpoint: Callable[[DriverState], None] | None = None,
) -> MLMCEstimate:
    """Plain Monte Carlo to RMS error eps (see the module docstring); same calling
    conventions as :func:`mlmc_hpc.core.driver.run_mlmc`."""
    exact = settings.mc_steps is None
    target = mc_variance_target(settings.eps, settings.theta, exact)
    state = initial_mc_state(settings) if state is None else state
    while not state.finished:
        started = time.perf_counter()
        taken = [int(x) for x in state.extra]
        level = state.levels[0]
        level.merge(executor.sample(taken)[0])
        check_finite(level, 0)
        extra = extra_samples([samples_needed(level.variance, target)], [level.n])
        state.finished = nearly_converged(extra, [level.n])
        state.converged = state.finished
        state.extra = np.zeros(1, dtype=np.int64) if state.finished else extra
        end_iteration(state, taken, math.nan, started, progress, checkpoint)
    return state.estimate()
