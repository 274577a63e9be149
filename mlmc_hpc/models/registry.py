"""The one map from a config to the sampler that does its work.

By MLMC, European payoffs run on the fused CuPy kernels of
:mod:`mlmc_hpc.models.cupy_sampler` (``run.backend: cupy``) or the fast NumPy sampler, and
path-dependent payoffs on the fused CuPy kernels of :mod:`mlmc_hpc.models.cupy_paths` or
the NumPy path sampler; ``mlmc.method: mc`` on the plain Monte Carlo sampler;
``mlmc.method: mlqmc`` on the quasi-Monte Carlo sampler of
:mod:`mlmc_hpc.models.qmc_sampler` (calls and puts with ``run.backend: cupy``: the
hash-scrambled Sobol kernel of :mod:`mlmc_hpc.models.cupy_qmc`); ``mlmc.level0: control``
puts the control-variate level 0 of :mod:`mlmc_hpc.models.control_sampler` in front of any
of them. Every sampler has
``steps(level)`` (the cost of one sample, from :mod:`mlmc_hpc.models.gbm`) and
``sample(level, batch, n) -> the eight batch sums``. ``mlmc.level0: exact`` needs no
sampler of its own: the driver never asks for level 0 (:mod:`mlmc_hpc.models.level0`).
"""

from __future__ import annotations

from collections.abc import Callable

from ..config.book import BookConfig
from ..config.risk_schema import RiskConfig
from ..config.schema import Config
from .gbm import level_cost
from .options import is_european, reference_price
from .sampler import Sampler

__all__ = ["AnyConfig", "Sampler", "batch_shape", "level_cost", "make_sampler", "reference_price"]

AnyConfig = Config | RiskConfig | BookConfig  # what a job of the executors is configured by


def batch_shape(config: AnyConfig) -> tuple[int, Callable[[int], int]]:
    """(batch size, cost of one sample of a level) in the planner's units: timesteps for
    a pricing run, scenarios (cost 1) for a risk run."""
    if isinstance(config, RiskConfig):
        return config.run.batch_scenarios, _one
    if isinstance(config, BookConfig):
        from .book_sampler import book_cost

        return config.run.batch_timesteps, book_cost(config)
    return config.run.batch_timesteps, level_cost(config.mlmc)


def _one(level: int) -> int:
    return 1


def make_sampler(config: AnyConfig) -> Sampler:
    """The sampler for a resolved config (see the module docstring); a risk config's is
    :class:`~mlmc_hpc.models.risk_sampler.RiskSampler`."""
    if isinstance(config, RiskConfig):
        from .risk_sampler import RiskSampler

        return RiskSampler(config)
    if isinstance(config, BookConfig):
        from .book_sampler import BookSampler

        return BookSampler(config, make_sampler)  # type: ignore[arg-type]
    option, settings, seed = config.option, config.mlmc, config.run.seed
    if settings.method == "mc":
        from .plain import PlainMCSampler

        return PlainMCSampler(option, settings.mc_steps, seed)
    if settings.method == "mlqmc":
        if config.run.backend == "cupy":  # resolve_backend allows it for calls and puts
            from .cupy_qmc import CupyQMCSampler

            return CupyQMCSampler(option, settings.M, seed)
        from .qmc_sampler import QMCPathSampler

        return QMCPathSampler(option, settings.M, seed)
    sampler = _level_sampler(config)
    if settings.level0 == "control":
        from .control_sampler import ControlLevel0Sampler

        return ControlLevel0Sampler(sampler, option, seed)
    return sampler


def _level_sampler(config: Config) -> Sampler:
    option, settings, seed = config.option, config.mlmc, config.run.seed
    if config.run.backend == "cupy":
        if is_european(option):
            from .cupy_sampler import CupyMilsteinSampler

            return CupyMilsteinSampler(option, settings.M, seed)
        from .cupy_paths import CupyPathSampler

        return CupyPathSampler(option, settings.M, seed)
    if is_european(option):
        from .european import MilsteinGBMSampler

        return MilsteinGBMSampler(option, settings.M, seed)
    from .paths import PathSampler

    return PathSampler(option, settings.M, seed)
