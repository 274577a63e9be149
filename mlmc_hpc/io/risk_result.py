"""The risk result: in memory, and as the HDF5 file that is its public contract.

``mlmc_hpc.risk(...)`` returns it; ``RiskResult.load(path)`` returns an equal one.

HDF5 layout (README, "Portfolio risk"):
  /             attrs: var_<p>, cvar_<p> (loss units) and var_<p>_ci95, cvar_<p>_ci95 (their
                95% intervals, 2-vectors) for each confidence p, named by p in percent with
                ``_`` for a decimal point (var_95, var_99_5, var_99_99); confidence (the
                levels), scenarios, model, converged (every interval within rel_tol),
                rel_tol, horizon_days, trading_days, value0 (the book today), stock_value,
                loss_mean, loss_std, loss_min, loss_max, histogram_scale, tail_threshold,
                name, config, seed, backend, n_workers, world_size, mpi_version,
                worker_devices, batch_scenarios, wall_time_s, sampling_s, startup_s,
                package_version, created, slurm_job, finished, interrupted, stop_reason,
                resumed, warnings
  /levels/*     one row per confidence: confidence, var, var_ci_low, var_ci_high, cvar,
                cvar_ci_low, cvar_ci_high
  /histogram/*  edges (N_BINS + 1, loss units, outermost +-inf), counts (N_BINS): every
                scenario's loss on a fixed grid 1% wide relative to the loss (core/tail.py)
  /tail/*       losses: the largest losses, sorted, from the lowest level's CI lower end up
                (what VaR and CVaR were computed from, exactly)
  /iterations/* one row per iteration: scenarios (total after it), seconds, worst_ratio
                (largest CI half-width / (rel_tol |value|))
  /batches/*    one row per batch: level (0), batch, n_samples (scenarios), worker, host,
                start_s, end_s, compute_s
  /checkpoint/* only while finished is false: what --resume continues from
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .hdf5 import read_hdf5, write_hdf5
from .integrity import signed
from .tables import to_xarray

if TYPE_CHECKING:
    import pandas

GROUPS = ("levels", "histogram", "tail", "iterations", "batches", "checkpoint")
MEASURE = re.compile(r"^c?var_\d+(_\d+)?(_ci95)?$")
LEVEL_FIELDS = ("confidence", "var", "var_ci_low", "var_ci_high", "cvar", "cvar_ci_low",
                "cvar_ci_high")  # fmt: skip


def level_key(p: float) -> str:
    """``95`` for 0.95, ``99_5`` for 0.995: p in percent, ``_`` for the decimal point."""
    return f"{100 * p:.10g}".replace(".", "_")


@dataclass
class RiskResult:
    """One risk run: VaR/CVaR per level, the loss histogram and tail, timings (module doc)."""

    name: str
    config: str
    seed: int
    model: str
    scenarios: int
    converged: bool
    rel_tol: float
    horizon_days: int
    trading_days: int
    confidence: np.ndarray
    value0: float
    stock_value: float
    loss_mean: float
    loss_std: float
    loss_min: float
    loss_max: float
    histogram_scale: float
    tail_threshold: float
    backend: str
    n_workers: int
    batch_scenarios: int
    wall_time_s: float
    package_version: str
    created: str
    world_size: int = 1
    mpi_version: str = ""
    worker_devices: str = ""
    sampling_s: float = 0.0
    startup_s: float = 0.0
    slurm_job: str = ""
    finished: bool = True
    interrupted: bool = False
    stop_reason: str = ""
    resumed: int = 0
    warnings: str = ""
    measures: dict[str, Any] = field(default_factory=dict)  # var_95, var_95_ci95, ...
    levels: dict[str, np.ndarray] = field(default_factory=dict)
    histogram: dict[str, np.ndarray] = field(default_factory=dict)
    tail: dict[str, np.ndarray] = field(default_factory=dict)
    iterations: dict[str, np.ndarray] = field(default_factory=dict)
    batches: dict[str, np.ndarray] = field(default_factory=dict)
    checkpoint: dict[str, np.ndarray] = field(default_factory=dict)

    def var(self, p: float) -> float:
        """VaR at level ``p`` (loss units)."""
        return float(self.measures[f"var_{level_key(p)}"])

    def cvar(self, p: float) -> float:
        """CVaR at level ``p`` (loss units)."""
        return float(self.measures[f"cvar_{level_key(p)}"])

    def ci95(self, measure: str, p: float) -> tuple[float, float]:
        """The 95% interval of ``measure`` (``"var"`` or ``"cvar"``) at level ``p``."""
        low, high = self.measures[f"{measure}_{level_key(p)}_ci95"]
        return float(low), float(high)

    def __repr__(self) -> str:
        state = "converged" if self.converged else "NOT within rel_tol"
        if not self.finished:
            state = "interrupted" if self.interrupted else "unfinished"
        shown = ", ".join(f"VaR{level_key(p)} {self.var(p):,.0f}" for p in self.confidence
                          if f"var_{level_key(p)}" in self.measures)  # fmt: skip
        return (f"<RiskResult {self.name!r} {self.model}: {shown} ({self.scenarios:,} "
                f"scenarios, {state}, {self.wall_time_s:.2f} s)>")  # fmt: skip

    def to_dataframe(self) -> pandas.DataFrame:
        """The per-level table (one row per confidence) as a pandas DataFrame."""
        try:
            import pandas
        except ImportError:
            raise ImportError("RiskResult.to_dataframe needs pandas: pip install pandas") from None
        return pandas.DataFrame({name: self.levels[name] for name in LEVEL_FIELDS})

    def to_xarray(self) -> Any:
        """The per-level table as an ``xarray.Dataset`` (dimension ``confidence``) with the
        root attributes and the measures; needs xarray."""
        attrs = {f.name: getattr(self, f.name) for f in fields(self)
                 if f.name not in GROUPS and f.name != "measures"}  # fmt: skip
        attrs.update((k, v) for k, v in self.measures.items() if not k.endswith("_ci95"))
        return to_xarray(self.levels, "levels", attrs, first_axis="confidence")

    def save(self, path: str | Path) -> Path:
        """Write atomically; the target is replaced only by a complete file."""
        attrs = {f.name: getattr(self, f.name) for f in fields(self)
                 if f.name not in GROUPS and f.name != "measures"}  # fmt: skip
        attrs.update(self.measures)
        groups = {name: getattr(self, name) for name in GROUPS}
        groups = signed(groups, self.config, self.wall_time_s, self.resumed)
        return write_hdf5(path, attrs, groups, axes={"levels": ("confidence",)})

    @classmethod
    def load(cls, path: str | Path) -> RiskResult:
        """Read a file written by :meth:`save`."""
        attrs, groups = read_hdf5(path)
        values: dict[str, Any] = {"measures": {}}
        names = {f.name for f in fields(cls)}
        for key, value in attrs.items():
            if MEASURE.match(key):
                values["measures"][key] = value
            elif key in names:
                values[key] = value
        for name in GROUPS:
            values[name] = groups.get(name, {})
        return cls(**values)


def measures(estimates: list[Any]) -> dict[str, Any]:
    """Root attributes var_<p>, var_<p>_ci95, cvar_<p>, cvar_<p>_ci95 of tail estimates."""
    out: dict[str, Any] = {}
    for e in estimates:
        key = level_key(e.level)
        out[f"var_{key}"] = e.var
        out[f"var_{key}_ci95"] = np.array(e.var_ci)
        out[f"cvar_{key}"] = e.cvar
        out[f"cvar_{key}_ci95"] = np.array(e.cvar_ci)
    return out


def level_table(estimates: list[Any]) -> dict[str, np.ndarray]:
    """The ``levels`` group of tail estimates (NaN rows where a level has none yet)."""
    columns: dict[str, list[float]] = {name: [] for name in LEVEL_FIELDS}
    for e in estimates:
        row = (e.level, e.var, *e.var_ci, e.cvar, *e.cvar_ci)
        for name, value in zip(LEVEL_FIELDS, row, strict=True):
            columns[name].append(float(value) if value is not None else math.nan)
    return {name: np.array(values, dtype=np.float64) for name, values in columns.items()}
