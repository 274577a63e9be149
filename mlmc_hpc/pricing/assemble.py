"""The run result from the driver's estimate, the config and the executor's records."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

from .._version import __version__
from ..config.schema import Config
from ..core.driver import MLMCEstimate
from ..core.plain_mc import confidence_interval
from ..io.run_result import RunResult
from ..models.gbm import level_cost
from ..models.options import reference_price
from ..parallel.executor import BatchExecutor
from ..parallel.stopping import slurm_job


def assemble(
    config: Config,
    estimate: MLMCEstimate,
    executor: BatchExecutor,
    wall_time_s: float,
    flags: dict[str, Any] | None = None,
    checkpoint: dict[str, np.ndarray] | None = None,
) -> RunResult:
    """The result object; ``flags`` sets finished, interrupted, stop_reason, resumed,
    effective_Lmin, warnings, level0 and level0_method."""
    M = config.mlmc.M
    levels = estimate.levels
    n = np.array([lv.n for lv in levels], dtype=np.int64)
    per_sample = level_cost(config.mlmc)
    cost = np.array([per_sample(level) for level in range(len(levels))], dtype=np.int64)
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
        world_size=executor.world_size,
        mpi_version=executor.mpi_version,
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
            **(
                {}
                if estimate.randomisation_sums is None
                else {"randomisation_sums": estimate.randomisation_sums}
            ),
        },
        iterations={
            "samples_added": added,
            "L": np.array([r.L for r in iterations], dtype=np.int64),
            "bias_estimate": np.array([r.bias for r in iterations]),
            "variance_estimate": np.array([r.variance for r in iterations]),
            "seconds": np.array([r.seconds for r in iterations]),
        },
        batches=executor.batch_table(),
        checkpoint=checkpoint or {},
        level0_value=levels[0].mean if levels and config.mlmc.method != "mc" else math.nan,
        randomisations=config.mlmc.randomisations if config.mlmc.method == "mlqmc" else 0,
        rel_eps=math.nan if config.mlmc.rel_eps is None else config.mlmc.rel_eps,
        pilot_price=_pilot(config),
        **(flags or {}),
    )


def _pilot(config: Config) -> float:
    """The pilot price of a run with a relative target (pricing.rel_eps), else NaN."""
    if config.mlmc.rel_eps is None:
        return math.nan
    from .rel_eps import pilot_price

    return pilot_price(config)[0]
