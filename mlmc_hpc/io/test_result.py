"""The test result (``mlmc_hpc test``): in memory and as its HDF5 file.

Root attributes alpha, beta, gamma, beta_std_error, N, L, M, theta, reference_price,
backend, n_workers, repeat, wall_time_s, warnings, created, level0, level0_method,
package_version, name, config;
groups ``convergence`` (one row per level), ``complexity`` (one row per eps) and, with
``--repeat``, ``repeat``. Same interface as :class:`~mlmc_hpc.io.run_result.RunResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..core.convergence import ComplexityRow, repeat_summary
from .hdf5 import read_hdf5, write_hdf5

TEST_GROUPS = ("convergence", "complexity", "repeat")


@dataclass
class TestResult:
    """In memory and on disk (same interface as :class:`~mlmc_hpc.results.RunResult`)."""

    __test__ = False  # not a pytest class

    name: str
    config: str
    alpha: float
    beta: float
    gamma: float
    beta_std_error: float
    N: int
    L: int
    M: int
    theta: float
    reference_price: float
    backend: str
    n_workers: int
    repeat: int
    wall_time_s: float
    warnings: str = ""
    created: str = ""
    level0: str = "sample"  # mlmc.level0 of the complexity runs
    level0_method: str = ""  # how level 0 was obtained (the run result's level0_method)
    package_version: str = __version__
    convergence: dict[str, np.ndarray] = field(default_factory=dict)
    complexity: dict[str, np.ndarray] = field(default_factory=dict)
    repeat_runs: dict[str, np.ndarray] = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        """Write atomically (temp file beside ``path``, then renamed over it); returns the path."""
        attrs = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _GROUP_FIELDS}
        groups = {"convergence": self.convergence, "complexity": self.complexity}
        if self.repeat_runs:
            groups["repeat"] = self.repeat_runs
        return write_hdf5(path, attrs, groups)

    @classmethod
    def load(cls, path: str | Path) -> TestResult:
        """Read a file written by :meth:`save`."""
        attrs, groups = read_hdf5(path)
        values: dict[str, Any] = {k: v for k, v in attrs.items() if k in _ATTR_NAMES}
        values.update(convergence=groups.get("convergence", {}),
                      complexity=groups.get("complexity", {}),
                      repeat_runs=groups.get("repeat", {}))  # fmt: skip
        return cls(**values)


_GROUP_FIELDS = ("convergence", "complexity", "repeat_runs")
_ATTR_NAMES = {f.name for f in fields(TestResult)} - set(_GROUP_FIELDS)


def complexity_group(rows: list[ComplexityRow]) -> dict[str, np.ndarray]:
    """The ``complexity`` group: one row per eps, N_l padded with zeros to the deepest L."""
    width = max(len(row.N_l) for row in rows)
    counts = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        counts[i, : len(row.N_l)] = row.N_l
    return {
        "eps": np.array([r.eps for r in rows]), "value": np.array([r.value for r in rows]),
        "mlmc_cost": np.array([r.mlmc_cost for r in rows]),
        "std_cost": np.array([r.std_cost for r in rows]),
        "savings": np.array([r.savings for r in rows]),
        "L": np.array([r.L for r in rows], dtype=np.int64), "N_l": counts,
        "level0_savings": np.array([r.level0_savings for r in rows]),
    }  # fmt: skip


def repeat_group(rows: list[ComplexityRow], reference: float) -> dict[str, np.ndarray]:
    """The ``repeat`` group: per eps, RMS error and share within eps against ``reference``,
    mean cost, and every run's price."""
    summaries = [repeat_summary(row, reference) for row in rows]
    return {
        "eps": np.array([r.eps for r in rows]),
        "rms_error": np.array([s[0] for s in summaries]),
        "within_eps": np.array([s[1] for s in summaries]),
        "mean_cost": np.array([np.mean(r.costs) for r in rows]),
        "prices": np.array([r.prices for r in rows]),  # eps x repeat
    }
