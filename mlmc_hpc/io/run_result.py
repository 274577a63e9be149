"""The run result: in memory, and as the HDF5 file that is its public contract.

``mlmc_hpc.price(...)`` returns it; ``RunResult.load(path)`` returns an equal one.

``RunResult.save(path)`` writes atomically (temp file beside the target, then
``os.replace``) and ``RunResult.load(path)`` reads back an equal object, so code
that inspects results never cares which of the two it holds.

HDF5 layout (documented in the README):
  /                  attrs: price, std_error, eps, converged, L, wall_time_s, backend,
                     n_workers, seed, config, package_version, created, reference_price,
                     name, theta, M, alpha, beta, gamma, batch_timesteps, world_size,
                     mpi_version, worker_devices, finished, interrupted, stop_reason,
                     resumed, startup_s, sampling_s, method, ci95_low, ci95_high,
                     slurm_job ("<id> restart <n> on <nodes>" of the job that wrote it),
                     effective_Lmin (the driver's Lmin after the scale rules),
                     warnings (every warning the run gave, one per line),
                     level0 (sample | exact | control), level0_value (the level-0 term
                     of the price), level0_method (how it was obtained, one line),
                     randomisations (R of mlqmc, else 0), rel_eps and pilot_price
                     (eps = rel_eps x |pilot_price| with mlmc.rel_eps, else NaN)
  /levels/*          length L+1: n_samples, mean, variance, cost_per_sample, timesteps,
                     compute_time_s, mean_pf, variance_pf, kurtosis, sums (L+1 x 8);
                     an exact level 0 has n_samples 0, variance 0, timesteps 0 and mean
                     level0_value; mlqmc adds randomisation_sums (L+1 x R x 8): n_samples
                     is R N_l, mean the mean of the R randomisation means, variance the
                     pooled per-point variance (the standard error comes from the means)
  /iterations/*      one row per iteration: samples_added (iter x L+1), L,
                     bias_estimate, variance_estimate, seconds
  /batches/*         one row per batch: level, batch, n_samples, worker, host,
                     start_s, end_s, compute_s
  /checkpoint/*      only while finished is false: the state --resume continues from
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .hdf5 import read_hdf5, write_hdf5
from .integrity import signed
from .tables import flat_columns, to_xarray

if TYPE_CHECKING:
    import pandas

ROOT_ATTRS = (
    "price", "std_error", "eps", "converged", "L", "wall_time_s", "backend", "n_workers",
    "seed", "config", "package_version", "created", "reference_price", "name", "theta", "M",
    "alpha", "beta", "gamma", "batch_timesteps", "world_size", "mpi_version", "worker_devices",
    "finished", "interrupted", "stop_reason", "resumed", "startup_s", "sampling_s", "method",
    "ci95_low", "ci95_high", "slurm_job", "effective_Lmin", "warnings", "level0",
    "level0_value", "level0_method", "randomisations", "rel_eps", "pilot_price",
)  # fmt: skip
GROUPS = ("levels", "iterations", "batches", "checkpoint")
LEVEL_FIELDS = (
    "n_samples", "mean", "variance", "cost_per_sample", "timesteps", "compute_time_s",
    "mean_pf", "variance_pf", "kurtosis", "sums",
)  # fmt: skip
ITERATION_FIELDS = ("samples_added", "L", "bias_estimate", "variance_estimate", "seconds")


@dataclass
class RunResult:
    """One run: root attributes and per-level, iteration and batch tables (module docstring)."""

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
    effective_Lmin: int = 0  # the driver's Lmin: mlmc.Lmin raised to the problem's scales
    warnings: str = ""  # the run's warnings (stderr), one per line; empty when none
    level0: str = "sample"  # how level 0 entered: sample | exact | control (mlmc.level0)
    level0_value: float = float("nan")  # the level-0 term of the price (NaN for plain MC)
    level0_method: str = ""  # how level0_value was obtained (closed form, quadrature, ...)
    randomisations: int = 0  # mlqmc: R randomisations of each level's points; else 0
    rel_eps: float = float("nan")  # mlmc.rel_eps: eps was rel_eps x |pilot_price|; else NaN
    pilot_price: float = float("nan")  # the pilot eps was resolved from (pricing.rel_eps)
    levels: dict[str, np.ndarray] = field(default_factory=dict)
    iterations: dict[str, np.ndarray] = field(default_factory=dict)
    batches: dict[str, np.ndarray] = field(default_factory=dict)
    checkpoint: dict[str, np.ndarray] = field(default_factory=dict)  # see checkpoint.py

    @property
    def ci95(self) -> tuple[float, float]:
        """The 95% confidence interval (price -+ 1.96 std_error)."""
        return self.ci95_low, self.ci95_high

    @property
    def total_timesteps(self) -> int:
        """Timesteps of all samples on all levels (the cost of the run)."""
        return int(np.sum(self.levels.get("timesteps", 0)))

    def __repr__(self) -> str:
        state = "converged" if self.converged else "NOT converged"
        if not self.finished:
            state = "interrupted" if self.interrupted else "unfinished"
        return (
            f"<RunResult {self.name!r} {self.method}: price {self.price:.6g} "
            f"+- {self.std_error:.2g} (eps {self.eps:g}, {state}, L={self.L}, "
            f"{self.total_timesteps:.3g} timesteps, {self.wall_time_s:.2f} s)>"
        )

    def __str__(self) -> str:
        lines = [
            f"{self.name}: {self.method} price {self.price:.6f} +- {self.std_error:.6f} "
            f"(95% CI [{self.ci95_low:.6f}, {self.ci95_high:.6f}])"
        ]
        if math.isfinite(self.reference_price):
            error = self.price - self.reference_price
            lines.append(f"reference {self.reference_price:.6f} (closed form), "
                         f"error {error:+.2e} = {error / self.eps:+.2f} eps")  # fmt: skip
        lines.append(
            f"eps {self.eps:g}, converged {self.converged}, L {self.L}, "
            f"{self.total_timesteps:.4g} timesteps, {self.wall_time_s:.2f} s on "
            f"{self.n_workers} {self.backend} worker(s)"
        )
        return "\n".join(lines)

    def to_dataframe(self, table: str = "levels") -> pandas.DataFrame:
        """A table as a pandas DataFrame: ``levels`` (one row per level 0..L, the default;
        ``sums`` left out), ``iterations`` (``samples_added`` as ``samples_added_<l>``) or
        ``batches``."""
        try:
            import pandas
        except ImportError:
            raise ImportError("RunResult.to_dataframe needs pandas: pip install pandas") from None
        data = self._table(table)
        if table == "levels":
            data = {name: data[name] for name in LEVEL_FIELDS if name != "sums" and name in data}
        frame = pandas.DataFrame(flat_columns(data))
        frame.index.name = {"levels": "level", "iterations": "iteration"}.get(table, "batch")
        return frame

    def to_xarray(self, table: str = "levels") -> Any:
        """A table as an ``xarray.Dataset`` with named dimensions (``level``, ``sum``,
        ``iteration``, ``batch``) and the root attributes; needs xarray."""
        attrs = {name: getattr(self, name) for name in ROOT_ATTRS}
        return to_xarray(self._table(table), table, attrs)

    def _table(self, table: str) -> dict[str, np.ndarray]:
        if table not in ("levels", "iterations", "batches"):
            raise ValueError(f"table must be levels, iterations or batches, got {table!r}")
        return dict(getattr(self, table))

    def contents(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """(attributes, groups) as written: the checkpoint signed (mlmc_hpc.io.integrity),
        absent when finished."""
        attrs = {name: getattr(self, name) for name in ROOT_ATTRS}
        groups = {name: getattr(self, name) for name in GROUPS}
        return attrs, signed(groups, self.config, self.wall_time_s, self.resumed)

    def save(self, path: str | Path) -> Path:
        """Write atomically; the target is replaced only by a complete file."""
        return write_hdf5(path, *self.contents())

    @classmethod
    def load(cls, path: str | Path) -> RunResult:
        """Read a file written by :meth:`save`; attributes it lacks keep their defaults."""
        return cls.from_contents(*read_hdf5(path))

    @classmethod
    def from_contents(cls, attrs: dict[str, Any], groups: dict[str, dict[str, Any]]) -> RunResult:
        """The result of :meth:`contents` read back (a file, or a book's contract group)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in GROUPS:
                values[f.name] = groups.get(f.name, {})
            elif f.name in attrs:
                values[f.name] = attrs[f.name]
        return cls(**values)
