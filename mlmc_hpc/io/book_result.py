"""The book result (``mlmc_hpc book``): every contract's run result in one HDF5 file.

Layout:
  /                    attrs: name, config (the book as YAML), contracts (count),
                       converged_count, finished, interrupted, stop_reason, resumed,
                       wall_time_s, backend, n_workers, world_size, mpi_version,
                       package_version, created, format_version, units, descriptions
  /book/*              one row per contract in input order (dimension ``contract``): name,
                       type, S0, K, T, r, sigma, barrier, eps, seed, price, std_error,
                       converged, L, timesteps, seconds
                       pandas: xarray.open_dataset(path, group="book",
                       engine="h5netcdf").to_dataframe(), or BookResult.load(path).to_dataframe()
  /contracts/<name>/   exactly a run result's layout (attributes, levels, iterations,
                       batches, and checkpoint while that contract is unfinished)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .hdf5 import read_hdf5, read_node, write_hdf5
from .run_result import RunResult

if TYPE_CHECKING:
    import pandas

TABLE = ("name", "type", "S0", "K", "T", "r", "sigma", "barrier", "eps", "seed", "price",
         "std_error", "converged", "L", "timesteps", "seconds")  # fmt: skip


def book_table(results: list[RunResult], options: list[Any], seeds: list[int]) -> dict:
    """The ``book`` columns of the contracts' results and options, in input order."""
    rows = []
    for result, option, seed in zip(results, options, seeds, strict=True):
        barrier = math.nan if option.barrier is None else option.barrier
        o, r = option, result
        rows.append((r.name, o.type, o.S0, o.K, o.T, o.r, o.sigma, barrier, r.eps, seed, r.price,
                     r.std_error, r.converged, r.L, r.total_timesteps, r.sampling_s))  # fmt: skip
    columns = {name: np.array([row[i] for row in rows]) for i, name in enumerate(TABLE)}
    columns["seed"] = np.array(seeds, dtype=np.uint64)
    return columns


@dataclass
class BookResult:
    """A book: root facts, the ``book`` table and each contract's :class:`RunResult`."""

    name: str
    config: str
    contracts: int
    converged_count: int
    wall_time_s: float
    backend: str
    n_workers: int
    package_version: str
    created: str
    world_size: int = 1
    mpi_version: str = ""
    finished: bool = True
    interrupted: bool = False
    stop_reason: str = ""
    resumed: int = 0
    book: dict[str, np.ndarray] = field(default_factory=dict)
    results: dict[str, RunResult] = field(default_factory=dict)  # by name, input order

    def to_dataframe(self) -> pandas.DataFrame:
        """The ``book`` table as a pandas DataFrame (one row per contract)."""
        import pandas

        return pandas.DataFrame({name: self.book[name] for name in TABLE})

    def save(self, path: str | Path) -> Path:
        """Write atomically: root attributes, ``book`` and ``contracts/<name>``."""
        attrs = {f.name: getattr(self, f.name) for f in fields(self)
                 if f.name not in ("book", "results")}  # fmt: skip
        nested = {f"contracts/{name}": result.contents() for name, result in self.results.items()}
        return write_hdf5(path, attrs, {"book": self.book}, {"book": ("contract",)}, nested)

    @classmethod
    def load(cls, path: str | Path) -> BookResult:
        """Read a file written by :meth:`save`."""
        import h5py

        attrs, groups = read_hdf5(path)
        names = [str(n) for n in groups.get("book", {}).get("name", [])]
        results = {}
        with h5py.File(path, "r") as h5:
            for name in names:
                if f"contracts/{name}" in h5:
                    results[name] = RunResult.from_contents(*read_node(h5[f"contracts/{name}"]))
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in attrs.items() if k in known}
        return cls(**values, book=groups.get("book", {}), results=results)
