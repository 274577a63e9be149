"""The typed config: one frozen dataclass per YAML section, fully resolved after loading.

The schema is a public contract (README, ``defaults.yaml``, CHANGELOG). After
:func:`~mlmc_hpc.config.loading.load_config` nothing is left as "auto": the backend is
numpy or cupy and ``run.batch_timesteps`` is an integer. Only ``mlmc.mc_steps`` keeps
``None``, which is a value of its own (exact sampling), not a default waiting to be chosen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import yaml

EUROPEAN_TYPES = ("call", "put")
PATH_TYPES = ("asian", "lookback", "digital", "barrier")
OPTION_TYPES = EUROPEAN_TYPES + PATH_TYPES
AVERAGES = ("arithmetic", "geometric")
METHODS = ("mlmc", "mc", "mlqmc")
CONVERGENCE_CHECKS = ("robust", "giles")
LEVEL0_MODES = ("auto", "sample", "exact", "control")
BACKENDS = ("auto", "numpy", "cupy")
SECTIONS = ("name", "option", "mlmc", "run")


@dataclass(frozen=True)
class OptionSpec:
    """Section ``option``: the contract and the GBM it is written on."""

    type: str
    S0: float
    K: float
    T: float
    r: float
    sigma: float
    barrier: float | None = None  # down-and-out level (type barrier only)
    payout: float | None = None  # digital cash amount; None = K (type digital only)
    average: str = "arithmetic"  # arithmetic | geometric (type asian only)


@dataclass(frozen=True)
class MLMCSettings:
    """Section ``mlmc``: the estimator's target and Giles' algorithm parameters."""

    eps: float
    Lmin: int = 2
    Lmax: int = 20
    N0: int = 10000
    theta: float = 0.25
    M: int = 2
    alpha: float | None = None
    beta: float | None = None
    gamma: float | None = None
    convergence: str = "robust"  # robust | giles (see mlmc_hpc.core.regime)
    level0: str = "exact"  # sample | exact | control after loading (auto resolved; models.level0)
    method: str = "mlmc"  # mlmc | mc (plain Monte Carlo) | mlqmc (multilevel quasi-MC)
    mc_steps: int | None = None  # mc: timesteps per path; None = exact sampling (European)
    randomisations: int = 32  # mlqmc: independent randomisations R of each level's points
    points0: int = 32  # mlqmc: first points per randomisation of a level (a power of two)
    rel_eps: float | None = None  # eps as a fraction of a pilot price (pricing.rel_eps)


@dataclass(frozen=True)
class RunSpec:
    """Section ``run``: reproducibility, hardware and output (resolved: no "auto" left)."""

    seed: int
    backend: str  # numpy | cupy after loading
    batch_timesteps: int
    output: str
    end_margin_s: float = 60.0  # stop this long before SLURM_JOB_END_TIME
    max_timesteps: int | None = 300_000_000_000  # work budget of a run; None = unlimited
    stall_factor: float = 20.0  # a worker's batch may take floor + factor x its expected time
    stall_floor_s: float = 120.0
    progress_s: float = 10.0  # not on a terminal: a progress line this often inside a request
    node_masters_above: int = 64  # MPI: per-node sub-masters from this many workers; 0 never


@dataclass(frozen=True)
class Config:
    """The whole validated config; ``to_yaml()`` is what a result file stores."""

    name: str
    option: OptionSpec
    mlmc: MLMCSettings
    run: RunSpec

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict in the YAML schema (``mc_steps`` None is written ``auto``)."""
        data = asdict(self)
        if data["mlmc"]["mc_steps"] is None:
            data["mlmc"]["mc_steps"] = "auto"
        return data

    def to_yaml(self) -> str:
        """The config as YAML text, keys in schema order."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)
