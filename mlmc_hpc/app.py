"""Glue between a validated config, an executor, the pure driver and the result."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable

import numpy as np

from . import __version__
from .backend import make_sampler, resolve_batch_timesteps
from .config import Config
from .driver import IterationRecord, MLMCEstimate, run_mlmc
from .executor import BATCH_FIELDS, BatchExecutor, SerialExecutor
from .options import reference_price
from .results import RunResult


def resolved(config: Config, backend: str) -> Config:
    """The config with backend and batch size made explicit (stored in the result)."""
    run = dataclasses.replace(
        config.run,
        backend=backend,
        batch_timesteps=resolve_batch_timesteps(config.run.batch_timesteps, backend),
    )
    return dataclasses.replace(config, run=run)


def serial_executor(config: Config) -> SerialExecutor:
    """In-process executor for a resolved config."""
    sampler = make_sampler(config.run.backend, config.option, config.mlmc.M, config.run.seed)
    return SerialExecutor(sampler, config.run.batch_timesteps)


def price(
    config: Config,
    executor: BatchExecutor,
    progress: Callable[[IterationRecord], None] | None = None,
    warn: Callable[[str], None] | None = None,
    world_size: int = 1,
    mpi_version: str = "",
) -> RunResult:
    """Run the adaptive MLMC loop on ``executor`` and assemble the full result."""
    started = time.perf_counter()
    estimate = run_mlmc(executor, config.mlmc, progress=progress, warn=warn)
    wall = time.perf_counter() - started
    return assemble(config, estimate, executor, wall, world_size, mpi_version)


def assemble(
    config: Config,
    estimate: MLMCEstimate,
    executor: BatchExecutor,
    wall_time_s: float,
    world_size: int = 1,
    mpi_version: str = "",
) -> RunResult:
    M = config.mlmc.M
    levels = estimate.levels
    n = np.array([lv.n for lv in levels], dtype=np.int64)
    cost = np.array([M**level for level in range(len(levels))], dtype=np.int64)
    iterations = estimate.iterations
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
