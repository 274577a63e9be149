"""Giles' adaptive MLMC driver (``mlmc.m`` / ``mlmc.cpp`` v1.0), pure.

The driver sees only per-level sums (:class:`~mlmc_hpc.core.sums.LevelSums`) returned by
an executor for the extra samples it asks for; it knows nothing about options,
MPI or GPUs. Given the same executor results it takes the same decisions, because
the cost per sample is the deterministic timestep count, never wall time.

Complexity theorem: Giles, Acta Numerica 24 (2015), Theorem 1; algorithm: ibid.,
Algorithm 1, with the variance split theta of section 3.3. The bias test is Giles' plus
the :mod:`~mlmc_hpc.core.regime` checks (``Safeguards``): it is accepted only when the
finest levels are in the regime it assumes, and alpha is no larger than its regression
on the settled levels nor the scheme's weak order; ``GILES`` switches both off.

A level may be known (``known={0: value}``: an exact level-0 expectation): its mean is
the value, its variance 0, and it is never sampled; Giles' formulas then give it N_l = 0
and every other decision is unchanged.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..config.schema import MLMCSettings
from ..errors import SamplingError
from .estimators import (
    Ints,
    bias_target,
    estimate_rates,
    extra_samples,
    floor_estimates,
    nearly_converged,
    optimal_samples,
    remaining_bias,
)
from .regime import MIN_SAMPLES, ROBUST, Safeguards, regime_problem, weak_rate
from .sums import LevelSums


class LevelExecutor(Protocol):
    """What the driver samples through: serial, MPI, or a test double."""

    def sample(self, extra: Sequence[int]) -> list[LevelSums]:
        """Sums of ``extra[l]`` new samples on each level l (empty sums where 0)."""
        ...


@dataclass
class IterationRecord:
    """What one iteration of the driver did (one row of the result's ``iterations``)."""

    extra: list[int]  # samples added per level in this iteration
    L: int  # finest level after the iteration's decisions
    bias: float  # remaining-bias estimate (NaN when the bias test did not run)
    variance: float  # estimator variance sum V_l / N_l after the iteration
    seconds: float  # wall time of the iteration
    unsettled: str = ""  # why a passed bias test was not believed (regime check), else empty


@dataclass
class MLMCEstimate:
    """The estimate sum_l mean Y_l, its standard error sqrt(sum_l V_l / N_l), and its levels."""

    price: float
    std_error: float
    converged: bool
    levels: list[LevelSums]
    alpha: float
    beta: float
    gamma: float
    iterations: list[IterationRecord] = field(default_factory=list)
    # MLQMC: the sums of every (level, randomisation), (L+1) x R x 8; None otherwise
    randomisation_sums: np.ndarray | None = None

    @property
    def L(self) -> int:
        """Finest level sampled."""
        return len(self.levels) - 1


def level_statistics(levels: Sequence[LevelSums]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """|mean Y_l|, V_l and cost per sample C_l of the levels sampled so far (a known level:
    its |value|, 0 and a nominal cost of 1, which Giles' N_l multiplies by V_l = 0)."""
    means = np.array([abs(lv.mean) for lv in levels])
    variances = np.array([lv.variance for lv in levels])
    costs = np.array([1.0 if lv.exact is not None else lv.cost / lv.n for lv in levels])
    return means, variances, costs


def estimator_variance(levels: Sequence[LevelSums]) -> float:
    """sum_l V_l / N_l."""
    return float(sum(lv.variance / lv.n for lv in levels if lv.n))


def first_requested(iterations: Sequence[IterationRecord], extra: Ints) -> int:
    """The finest level of a run's first request (its Lmin): N0 on every level 0..Lmin but
    known ones; a row read back from a result is padded with zeros to the final L, so
    trailing zeros do not count."""
    first = iterations[0].extra if iterations else list(extra)
    return int(np.flatnonzero(first)[-1]) if np.any(first) else len(first) - 1


@dataclass
class DriverState:
    """Everything the loop needs to continue: saved after every iteration (checkpoints).

    ``extra`` is the next request; ``finished`` is set once no level needs more samples
    or Lmax was reached without passing the bias test.
    """

    levels: list[LevelSums]
    extra: np.ndarray
    alpha: float
    beta: float
    gamma: float
    converged: bool = False
    finished: bool = False
    iterations: list[IterationRecord] = field(default_factory=list)

    @property
    def first_Lmin(self) -> int:
        """The Lmin the run started with (:func:`first_requested`)."""
        return first_requested(self.iterations, self.extra)

    def estimate(self) -> MLMCEstimate:
        """The estimate from the samples taken so far (final once ``finished``)."""
        return MLMCEstimate(
            price=float(sum(lv.mean for lv in self.levels)),
            std_error=math.sqrt(estimator_variance(self.levels)),
            converged=self.converged,
            levels=self.levels,
            alpha=self.alpha,
            beta=self.beta,
            gamma=self.gamma,
            iterations=self.iterations,
        )


def initial_state(settings: MLMCSettings, known: Mapping[int, float] | None = None) -> DriverState:
    """N0 samples on levels 0..Lmin but the ``known`` ones ({level: exact mean}); rates as
    fixed in the settings, else 0 until regressed."""
    alpha, beta, gamma = (0.0 if rate is None else rate for rate in _fixed_rates(settings))
    known = known or {}
    levels = [LevelSums.known(known[l]) if l in known else LevelSums()  # noqa: E741
              for l in range(settings.Lmin + 1)]  # fmt: skip
    return DriverState(
        levels=levels,
        extra=np.array(
            [0 if lv.exact is not None else settings.N0 for lv in levels], dtype=np.int64
        ),  # fmt: skip
        alpha=alpha,
        beta=beta,
        gamma=gamma,
    )


def _fixed_rates(settings: MLMCSettings) -> tuple[float | None, float | None, float | None]:
    return settings.alpha, settings.beta, settings.gamma


def run_mlmc(
    executor: LevelExecutor,
    settings: MLMCSettings,
    progress: Callable[[IterationRecord], None] | None = None,
    warn: Callable[[str], None] | None = None,
    state: DriverState | None = None,
    checkpoint: Callable[[DriverState], None] | None = None,
    safeguards: Safeguards = ROBUST,
    known: Mapping[int, float] | None = None,
) -> MLMCEstimate:
    """Adaptive MLMC to RMS error eps; see the module docstring for the references.

    Pass a saved ``state`` to continue a run: the decisions, and so the result, are
    the same as without the interruption. ``checkpoint(state)`` is called after
    every iteration (after ``progress``). ``safeguards``: the checks around Giles' bias
    test (:class:`~mlmc_hpc.core.regime.Safeguards`); a fixed ``settings.alpha`` is
    used as given. ``known``: levels whose mean is exact (module docstring), for a new run.
    """
    s = settings
    fixed = _fixed_rates(s)
    state = initial_state(s, known) if state is None else state
    while not state.finished:
        started = time.perf_counter()
        taken = [int(x) for x in state.extra]
        levels = state.levels
        for index, (level, batch) in enumerate(zip(levels, executor.sample(taken), strict=True)):
            level.merge(batch)
            check_finite(level, index)
        done = np.array([lv.n for lv in levels])

        means, variances, costs = level_statistics(levels)
        means, variances = floor_estimates(means, variances, state.alpha, state.beta)
        alpha, beta, gamma = estimate_rates(means, variances, costs, fixed)
        if s.alpha is None:
            alpha = weak_rate(alpha, means, levels, safeguards)
        state.alpha, state.beta, state.gamma = alpha, beta, gamma
        extra = extra_samples(sample_targets(variances, costs, s, safeguards, levels), done)

        bias, unsettled = math.nan, ""
        if nearly_converged(extra, done):
            bias = remaining_bias(means, alpha)
            problem = regime_problem(levels) if safeguards.regime else None
            passed = bias <= bias_target(s.eps, s.theta)
            unsettled = problem if passed and problem else ""
            state.converged = passed and problem is None
            if not state.converged and len(levels) - 1 == s.Lmax:
                if warn:
                    warn(no_convergence_message(bias, bias_target(s.eps, s.theta), s.Lmax, problem))
                state.finished = True
            elif not state.converged:
                levels.append(LevelSums())
                variances = np.append(variances, variances[-1] / 2.0**beta)
                costs = np.append(costs, costs[-1] * 2.0**gamma)
                done = np.append(done, 0)
                extra = extra_samples(sample_targets(variances, costs, s, safeguards, levels),
                                      done)  # fmt: skip
        state.extra = np.asarray(extra, dtype=np.int64)
        state.finished = state.finished or int(state.extra.sum()) == 0
        end_iteration(state, taken, bias, started, progress, checkpoint, unsettled)
    return state.estimate()


def check_finite(level: LevelSums, index: int) -> None:
    """SamplingError naming the level when its sums are NaN or inf (an overflowing payoff):
    never a NaN price, never a decision taken on one."""
    if not np.all(np.isfinite(level.totals)):
        raise SamplingError(f"level {index} returned non-finite sums (NaN or inf) after "
                            f"{level.n} samples: the payoff overflows there")  # fmt: skip


def sample_targets(
    variances: np.ndarray,
    costs: np.ndarray,
    s: MLMCSettings,
    safeguards: Safeguards,
    levels: Sequence[LevelSums] = (),
) -> np.ndarray:
    """Giles' optimal N_l; with the regime checks at least MIN_SAMPLES per sampled level, so
    that every level's mean and variance are resolved enough for the checks to see them.
    A known level (in ``levels``; a level appended after them is sampled) gets 0."""
    targets = optimal_samples(variances, costs, s.eps, s.theta)
    if safeguards.regime:
        targets = np.maximum(targets, MIN_SAMPLES)
    for index, level in enumerate(levels):
        if level.exact is not None:
            targets[index] = 0
    return targets


def no_convergence_message(bias: float, target: float, Lmax: int, problem: str | None) -> str:
    """Why the run stopped at Lmax without weak convergence: the bias test failed, or the
    finest levels are not in the regime the test assumes."""
    if problem is None:
        return (f"failed to achieve weak convergence: bias estimate {bias:.3e} > "
                f"{target:.3e} at Lmax = {Lmax}")  # fmt: skip
    return (f"failed to achieve weak convergence at Lmax = {Lmax}: {problem}, so the "
            f"bias estimate {bias:.3e} cannot be trusted")  # fmt: skip


def end_iteration(
    state: DriverState,
    taken: list[int],
    bias: float,
    started: float,
    progress: Callable[[IterationRecord], None] | None,
    checkpoint: Callable[[DriverState], None] | None,
    unsettled: str = "",
) -> None:
    """Record the iteration that took ``taken`` samples, then report and checkpoint it."""
    record = IterationRecord(
        extra=taken,
        L=len(state.levels) - 1,
        bias=bias,
        variance=estimator_variance(state.levels),
        seconds=time.perf_counter() - started,
        unsettled=unsettled,
    )
    state.iterations.append(record)
    if progress:
        progress(record)
    if checkpoint:
        checkpoint(state)
