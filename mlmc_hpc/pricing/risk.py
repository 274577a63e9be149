"""One risk run: a resolved risk config, an executor, batches of scenarios, the result.

:func:`run_risk` hands keyed batches of scenarios to the executor (the same serial and MPI
executors as the pricer), merges their tail summaries strictly in batch order
(:mod:`mlmc_hpc.core.tail`) and estimates VaR and CVaR after every iteration. Iterations
grow the scenario count: with ``risk.scenarios: auto`` to what the widest confidence
interval asks for (until every half-width is within ``rel_tol`` of its value, or
``max_scenarios``), with a fixed count by factors of 16 up to it, so long runs report
progress and checkpoint on the way. Which batches form an iteration never changes the
result: it depends on the seed, the batch size and the final count alone.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable

import numpy as np

from .._version import __version__
from ..config.risk_schema import RiskConfig
from ..core.tail import RiskState, TailEstimate, bin_edges, estimate, needed_tail, next_target
from ..errors import RunFailedError, SamplingError
from ..io.risk_checkpoint import RiskResume, risk_checkpoint_group
from ..io.risk_result import RiskResult, level_table, measures
from ..models.portfolio import book
from ..models.risk_sampler import loss_scale
from ..parallel.executor import BatchExecutor, StoppedEarlyError
from ..parallel.planning import Task
from ..parallel.stopping import slurm_job
from .cadence import Cadence

FIRST_SCENARIOS = 1 << 18  # the first iteration (in whole batches)
CHECKPOINT_EVERY_S = 10.0  # later checkpoints at most this often (a stop always saves)
FIXED_GROWTH = 16  # a fixed count: few iterations (each ends in a pause of the workers)
Progress = Callable[[int, RiskState, list[TailEstimate | None]], None]


def first_target(config: RiskConfig) -> int:
    """Scenarios of the first iteration: FIRST_SCENARIOS in whole batches, at most the
    fixed count or max_scenarios."""
    batch = config.run.batch_scenarios
    first = max(1, math.ceil(FIRST_SCENARIOS / batch)) * batch
    return min(first, _cap(config))


def _cap(config: RiskConfig) -> int:
    scenarios = config.risk.scenarios
    return config.risk.max_scenarios if scenarios is None else scenarios


def tasks_for(config: RiskConfig, start: int, target: int) -> list[Task]:
    """Batches start.. up to ``target`` scenarios; only the last batch of a fixed count is
    partial."""
    size = config.run.batch_scenarios
    count = math.ceil(target / size)
    return [Task(0, b, min(size, target - b * size)) for b in range(start, count)]


def estimates(config: RiskConfig, state: RiskState) -> list[TailEstimate | None]:
    """VaR and CVaR at every confidence (None where the kept tail is too short)."""
    return [estimate(state.sums, p) for p in config.risk.confidence]


def worst(config: RiskConfig, found: list[TailEstimate | None]) -> float:
    """The largest CI half-width over rel_tol |value| (inf where a level has no estimate)."""
    return max(math.inf if e is None else e.worst_ratio(config.risk.rel_tol) for e in found)


def run_risk(
    config: RiskConfig,
    executor: BatchExecutor,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
    resume: RiskResume | None = None,
    checkpoint_path: str | None = None,
) -> RiskResult:
    """Run (or continue, from ``resume``) the iterations on ``executor``; the result. With
    ``checkpoint_path`` the unfinished result is written there after the first iteration and
    then at most every CHECKPOINT_EVERY_S seconds and 1/20 of the run (:mod:`.cadence`; it
    holds the kept tail: rewriting it after
    every iteration cost more than the sampling of short runs); a stop returns an
    unfinished, ``interrupted`` result holding the batches merged so far."""
    started = time.perf_counter()
    previous_s, resumed = (resume.elapsed_s, resume.resumed) if resume else (0.0, 0)
    state = resume.state if resume else RiskState(target=first_target(config))
    if resume:
        executor.resume_records(resume.batches, resume.elapsed_s)
    said: list[str] = []
    cadence = Cadence(CHECKPOINT_EVERY_S)

    def elapsed() -> float:
        return previous_s + time.perf_counter() - started

    def result(finished: bool = True, interrupted: bool = False, reason: str = "") -> RiskResult:
        return assemble_risk(config, state, executor, elapsed(), resumed, "\n".join(said),
                             finished, interrupted, reason)  # fmt: skip

    while True:
        tick = time.perf_counter()
        try:
            outcomes = executor.run_tasks(tasks_for(config, state.next_batch, state.target))
        except StoppedEarlyError as stop:
            merge(state, stop.outcomes)
            return result(finished=False, interrupted=True, reason=stop.reason)
        merge(state, outcomes)
        found = estimates(config, state)
        ratio = worst(config, found)
        state.iterations.append((state.sums.n, time.perf_counter() - tick, ratio))
        if progress:
            progress(len(state.iterations), state, found)
        fixed = config.risk.scenarios
        if (fixed is None and ratio <= 1.0) or state.sums.n >= _cap(config):
            break
        if fixed is None:
            state.target = next_target(
                state.sums.n, ratio, config.run.batch_scenarios, _cap(config)
            )
        else:
            state.target = min(fixed, state.target * FIXED_GROWTH)
        if checkpoint_path:
            cadence.offer(lambda: result(finished=False).save(checkpoint_path))
    if None in found:
        p = config.risk.confidence[found.index(None)]
        raise RunFailedError(
            f"the {100 * p:g}% level needs the {needed_tail(state.sums.n, p)} largest of "
            f"{state.sums.n} losses but the batches kept {len(state.sums.tail)}: too few "
            f"scenarios per batch; raise risk.scenarios or run.batch_scenarios"
        )
    if config.risk.scenarios is None and ratio > 1.0:
        message = (f"risk.max_scenarios {config.risk.max_scenarios} reached before every 95% "
                   f"interval was within rel_tol {config.risk.rel_tol:g} (worst "
                   f"{ratio:.2f} x): converged is false")  # fmt: skip
        said.append(message)
        if warn:
            warn(message)
    return result()


def merge(state: RiskState, outcomes: list[tuple[Task, np.ndarray, float]]) -> None:
    """Fold completed batches into ``state`` in batch order, from ``state.next_batch`` on;
    batches beyond a gap (a stop) are dropped and recomputed later."""
    for task, summary, _ in sorted(outcomes, key=lambda o: o[0].batch):
        if task.batch != state.next_batch:
            break
        if not np.all(np.isfinite(summary)):
            raise SamplingError(f"batch {task.batch} of the risk scenarios gave a loss that is "
                                f"NaN or infinite")  # fmt: skip
        state.sums.add(summary)
        state.next_batch += 1
    state.sums.settle()


def assemble_risk(
    config: RiskConfig,
    state: RiskState,
    executor: BatchExecutor,
    wall_time_s: float,
    resumed: int,
    warnings: str,
    finished: bool = True,
    interrupted: bool = False,
    stop_reason: str = "",
) -> RiskResult:
    """The result object (with the checkpoint group while unfinished)."""
    sums = state.sums
    found = [e for e in estimates(config, state) if e is not None] if sums.n else []
    portfolio = book(config)
    scale = loss_scale(portfolio)
    ratio = state.iterations[-1][2] if state.iterations else math.inf
    lowest = found[0].var_ci[0] if found else math.inf
    tail = sums.settle()
    iterations = np.array(state.iterations, dtype=np.float64).reshape(-1, 3)
    batches = executor.batch_table()
    return RiskResult(
        name=config.name,
        config=config.to_yaml(),
        seed=config.run.seed,
        model=config.risk.model,
        scenarios=sums.n,
        converged=bool(finished and ratio <= 1.0 and len(found) == len(config.risk.confidence)),
        rel_tol=config.risk.rel_tol,
        horizon_days=config.risk.horizon_days,
        trading_days=config.risk.trading_days,
        confidence=np.array(config.risk.confidence),
        value0=portfolio.value0,
        stock_value=portfolio.value,
        loss_mean=sums.mean,
        loss_std=sums.std,
        loss_min=sums.low if sums.n else math.nan,
        loss_max=sums.high if sums.n else math.nan,
        histogram_scale=scale,
        tail_threshold=sums.threshold,
        backend=config.run.backend,
        n_workers=executor.n_workers,
        batch_scenarios=config.run.batch_scenarios,
        wall_time_s=wall_time_s,
        package_version=__version__,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        world_size=executor.world_size,
        mpi_version=executor.mpi_version,
        worker_devices=",".join(executor.devices),
        sampling_s=float(np.sum(batches["compute_s"])) if len(batches["compute_s"]) else 0.0,
        startup_s=executor.startup_s,
        slurm_job=slurm_job(),
        finished=finished,
        interrupted=interrupted,
        stop_reason=stop_reason,
        resumed=resumed,
        warnings=warnings,
        measures=measures(found),
        levels=level_table(found),
        histogram={"edges": bin_edges(scale), "counts": sums.counts.copy()},
        tail={"losses": tail[np.searchsorted(tail, lowest, side="left") :] if found else tail},
        iterations={
            "scenarios": iterations[:, 0].astype(np.int64),
            "seconds": iterations[:, 1],
            "worst_ratio": iterations[:, 2],
        },  # fmt: skip
        batches=batches,
        checkpoint={} if finished else risk_checkpoint_group(state),
    )
