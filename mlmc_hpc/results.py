"""The run result: in memory, and as the HDF5 file that is its public contract.

``RunResult.save(path)`` writes atomically (temp file beside the target, then
``os.replace``) and ``RunResult.load(path)`` reads back an equal object, so code
that inspects results never cares which of the two it holds.

HDF5 layout (documented in the README):
  /                  attrs: price, std_error, eps, converged, L, wall_time_s, backend,
                     n_workers, seed, config, package_version, created, reference_price,
                     name, theta, M, alpha, beta, gamma, batch_timesteps, world_size,
                     mpi_version, worker_devices, finished, interrupted, stop_reason,
                     resumed, startup_s, sampling_s, method, ci95_low, ci95_high,
                     slurm_job ("<id> restart <n> on <nodes>" of the job that wrote it)
  /levels/*          length L+1: n_samples, mean, variance, cost_per_sample, timesteps,
                     compute_time_s, mean_pf, variance_pf, kurtosis, sums (L+1 x 8)
  /iterations/*      one row per iteration: samples_added (iter x L+1), L,
                     bias_estimate, variance_estimate, seconds
  /batches/*         one row per batch: level, batch, n_samples, worker, host,
                     start_s, end_s, compute_s
  /checkpoint/*      only while finished is false: the state --resume continues from
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

ROOT_ATTRS = (
    "price", "std_error", "eps", "converged", "L", "wall_time_s", "backend", "n_workers",
    "seed", "config", "package_version", "created", "reference_price", "name", "theta", "M",
    "alpha", "beta", "gamma", "batch_timesteps", "world_size", "mpi_version", "worker_devices",
    "finished", "interrupted", "stop_reason", "resumed", "startup_s", "sampling_s", "method",
    "ci95_low", "ci95_high", "slurm_job",
)  # fmt: skip
GROUPS = ("levels", "iterations", "batches", "checkpoint")
LEVEL_FIELDS = (
    "n_samples", "mean", "variance", "cost_per_sample", "timesteps", "compute_time_s",
    "mean_pf", "variance_pf", "kurtosis", "sums",
)  # fmt: skip
ITERATION_FIELDS = ("samples_added", "L", "bias_estimate", "variance_estimate", "seconds")


@dataclass
class RunResult:
    price: float
    std_error: float
    eps: float
    converged: bool
    L: int
    wall_time_s: float
    backend: str
    n_workers: int
    seed: int
    config: str
    package_version: str
    created: str
    reference_price: float
    name: str
    theta: float
    M: int
    alpha: float
    beta: float
    gamma: float
    batch_timesteps: int
    world_size: int = 1
    mpi_version: str = ""
    worker_devices: str = ""
    finished: bool = True  # False: a checkpoint of a run still going or interrupted
    interrupted: bool = False  # stopped early by a signal or the job's end; see stop_reason
    stop_reason: str = ""
    resumed: int = 0  # how many times the run was continued with --resume
    startup_s: float = 0.0  # slowest worker's set-up: CUDA context, kernel compilation
    sampling_s: float = 0.0  # sum over batches of their compute time
    method: str = "mlmc"  # mlmc | mc (plain Monte Carlo: one level, L = 0)
    slurm_job: str = ""  # "<job id> restart <n> on <nodes>" inside Slurm, else empty
    ci95_low: float = float("nan")  # price -+ 1.96 std_error
    ci95_high: float = float("nan")
    levels: dict[str, np.ndarray] = field(default_factory=dict)
    iterations: dict[str, np.ndarray] = field(default_factory=dict)
    batches: dict[str, np.ndarray] = field(default_factory=dict)
    checkpoint: dict[str, np.ndarray] = field(default_factory=dict)  # see checkpoint.py

    def save(self, path: str | Path) -> Path:
        """Write atomically; the target is replaced only by a complete file."""
        attrs = {name: getattr(self, name) for name in ROOT_ATTRS}
        groups = {name: getattr(self, name) for name in GROUPS}
        if not groups["checkpoint"]:
            del groups["checkpoint"]
        return write_hdf5(path, attrs, groups)

    @classmethod
    def load(cls, path: str | Path) -> RunResult:
        attrs, groups = read_hdf5(path)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in GROUPS:
                values[f.name] = groups.get(f.name, {})
            elif f.name in attrs:
                values[f.name] = attrs[f.name]
        return cls(**values)


def write_hdf5(path: str | Path, attrs: dict[str, Any], groups: dict[str, dict]) -> Path:
    """Root attributes and groups of datasets, written to a temp file beside ``path`` and
    renamed over it, so the target is only ever replaced by a complete file."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(temporary, "w") as h5:
            for name, value in attrs.items():
                h5.attrs[name] = value
            for group_name, contents in groups.items():
                group = h5.create_group(group_name)
                for key, values in contents.items():
                    values = np.asarray(values)
                    if values.dtype.kind == "U":
                        values = values.astype(h5py.string_dtype())
                    group.create_dataset(key, data=values)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path


def read_hdf5(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """(root attributes, {group: {dataset: array}}) of a file written by :func:`write_hdf5`."""
    import h5py

    with h5py.File(path, "r") as h5:
        attrs = {name: _plain(value) for name, value in h5.attrs.items()}
        groups = {
            name: {key: _decoded(item[key][()]) for key in item}
            for name, item in h5.items()
            if isinstance(item, h5py.Group)
        }
    return attrs, groups


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decoded(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in ("O", "S"):
        return np.array([v.decode() if isinstance(v, bytes) else v for v in values])
    return values
