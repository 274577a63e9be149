"""Glue between a validated config, an executor, the pure driver and the result."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable

import numpy as np

from . import __version__
from .backend import make_sampler, resolve_batch_timesteps
from .checkpoint import Resume, checkpoint_group
from .config import Config
from .driver import DriverState, IterationRecord, MLMCEstimate, initial_state, run_mlmc
from .executor import BATCH_FIELDS, BatchExecutor, Outcome, SerialExecutor, StoppedEarlyError
from .options import reference_price
from .plain_mc import confidence_interval, initial_mc_state, run_mc
from .results import RunResult
from .stopping import slurm_job


def resolved(config: Config, backend: str) -> Config:
    """The config with backend and batch size made explicit (stored in the result)."""
    run = dataclasses.replace(
        config.run,
        backend=backend,
        batch_timesteps=resolve_batch_timesteps(config.run.batch_timesteps, backend),
    )
    return dataclasses.replace(config, run=run)


def serial_executor(config: Config) -> SerialExecutor:
    """In-process executor for a resolved config (the sampler's set-up time is kept)."""
    started = time.perf_counter()
    sampler = make_sampler(config.run.backend, config.option, config.mlmc, config.run.seed)
    executor = SerialExecutor(sampler, config.run.batch_timesteps)
    executor.startup_s = time.perf_counter() - started
    return executor


def price(
    config: Config,
    executor: BatchExecutor,
    progress: Callable[[IterationRecord], None] | None = None,
    warn: Callable[[str], None] | None = None,
    world_size: int = 1,
    mpi_version: str = "",
    resume: Resume | None = None,
    checkpoint_path: str | None = None,
) -> RunResult:
    """Run (or continue) the adaptive loop on ``executor`` and assemble the full result.

    With ``checkpoint_path`` the unfinished result is rewritten there after every
    iteration. If the executor is told to stop, the returned result is unfinished and
    ``interrupted``, with a checkpoint holding the batches already computed.
    """
    started = time.perf_counter()
    previous_s, resumed = 0.0, 0
    plain = config.mlmc.method == "mc"
    state = initial_mc_state(config.mlmc) if plain else initial_state(config.mlmc)
    if resume is not None:
        state, previous_s, resumed = resume.state, resume.elapsed_s, resume.resumed
        executor.planner.next_batch = list(resume.next_batch)
        executor.carried = {
            (task.level, task.batch): (task, sums, s) for task, sums, s in resume.pending
        }
        executor.continue_from(resume.records, previous_s)
    saved_next_batch = list(executor.planner.next_batch)

    def snapshot(pending: list[Outcome], reason: str = "") -> RunResult:
        group = checkpoint_group(state, saved_next_batch, pending)
        flags = dict(finished=False, interrupted=bool(reason), stop_reason=reason, resumed=resumed)
        elapsed = previous_s + time.perf_counter() - started
        return assemble(config, state.estimate(), executor, elapsed, world_size, mpi_version,
                        flags, group)  # fmt: skip

    def save_checkpoint(current: DriverState) -> None:
        nonlocal saved_next_batch
        saved_next_batch = list(executor.planner.next_batch)
        if checkpoint_path and not current.finished:
            snapshot([]).save(checkpoint_path)

    try:
        if plain:
            estimate = run_mc(executor, config.mlmc, progress, state, save_checkpoint)
        else:
            estimate = run_mlmc(executor, config.mlmc, progress, warn, state, save_checkpoint)
    except StoppedEarlyError as stop:
        return snapshot(stop.outcomes, stop.reason)
    elapsed = previous_s + time.perf_counter() - started
    flags = dict(resumed=resumed)
    return assemble(config, estimate, executor, elapsed, world_size, mpi_version, flags)


def assemble(
    config: Config,
    estimate: MLMCEstimate,
    executor: BatchExecutor,
    wall_time_s: float,
    world_size: int = 1,
    mpi_version: str = "",
    flags: dict | None = None,
    checkpoint: dict[str, np.ndarray] | None = None,
) -> RunResult:
    """The result object; ``flags`` sets finished, interrupted, stop_reason and resumed."""
    M = config.mlmc.M
    levels = estimate.levels
    n = np.array([lv.n for lv in levels], dtype=np.int64)
    cost = np.array([config.mlmc.timesteps(level) for level in range(len(levels))], dtype=np.int64)
    iterations = estimate.iterations
    ci_low, ci_high = confidence_interval(estimate.price, estimate.std_error)
    added = np.zeros((len(iterations), len(levels)), dtype=np.int64)
    for row, record in enumerate(iterations):
        added[row, : len(record.extra)] = record.extra
    return RunResult(
        price=estimate.price,
        std_error=estimate.std_error,
        eps=config.mlmc.eps,
        converged=bool(estimate.converged),
        L=estimate.L,
        wall_time_s=wall_time_s,
        backend=config.run.backend,
        n_workers=executor.n_workers,
        seed=config.run.seed,
        config=config.to_yaml(),
        package_version=__version__,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        reference_price=reference_price(config.option),
        method=config.mlmc.method,
        ci95_low=ci_low,
        ci95_high=ci_high,
        name=config.name,
        theta=config.mlmc.theta,
        M=M,
        alpha=estimate.alpha,
        beta=estimate.beta,
        gamma=estimate.gamma,
        batch_timesteps=config.run.batch_timesteps,
        world_size=world_size,
        mpi_version=mpi_version,
        worker_devices=",".join(executor.devices),
        slurm_job=slurm_job(),
        startup_s=executor.startup_s,
        sampling_s=float(sum(record.compute_s for record in executor.records)),
        levels={
            "n_samples": n,
            "mean": np.array([lv.mean for lv in levels]),
            "variance": np.array([lv.variance for lv in levels]),
            "cost_per_sample": cost,
            "timesteps": n * cost,
            "compute_time_s": np.array([lv.seconds for lv in levels]),
            "mean_pf": np.array([lv.mean_pf for lv in levels]),
            "variance_pf": np.array([lv.variance_pf for lv in levels]),
            "kurtosis": np.array([lv.kurtosis for lv in levels]),
            "sums": np.array([lv.totals for lv in levels]),
        },
        iterations={
            "samples_added": added,
            "L": np.array([r.L for r in iterations], dtype=np.int64),
            "bias_estimate": np.array([r.bias for r in iterations]),
            "variance_estimate": np.array([r.variance for r in iterations]),
            "seconds": np.array([r.seconds for r in iterations]),
        },
        batches=batch_table(executor),
        checkpoint=checkpoint or {},
        **(flags or {}),
    )


def batch_table(executor: BatchExecutor) -> dict[str, np.ndarray]:
    records = executor.records
    table = {name: np.array([getattr(r, name) for r in records]) for name in BATCH_FIELDS}
    for name in ("level", "batch", "n_samples", "worker"):
        table[name] = table[name].astype(np.int64)
    for name in ("start_s", "end_s", "compute_s"):
        table[name] = table[name].astype(np.float64)
    table["host"] = table["host"].astype(str)
    return table
