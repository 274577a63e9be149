"""The adaptive loop of each ``mlmc.method``, behind one interface for :mod:`.run`.

``mlmc``: Giles' driver (:mod:`mlmc_hpc.core.driver`); ``mc``: plain Monte Carlo
(:mod:`mlmc_hpc.core.plain_mc`); ``mlqmc``: Giles-Waterhouse (:mod:`mlmc_hpc.core.mlqmc`)
on point batches (:mod:`mlmc_hpc.parallel.points`) of the same executor. Each state is
saved and resumed the same way (:mod:`mlmc_hpc.io.checkpoint`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..config.schema import Config
from ..core.driver import DriverState, IterationRecord, MLMCEstimate, initial_state, run_mlmc
from ..core.mlqmc import QMCState, initial_qmc_state, run_mlqmc
from ..core.plain_mc import initial_mc_state, run_mc
from ..models.gbm import level_cost
from ..parallel.points import PointBatches
from .budget import Budgeted
from .safety import DriverPlan

State = DriverState | QMCState


def new_state(config: Config, plan: DriverPlan, known: Mapping[int, float]) -> State:
    """The state a fresh run of ``config`` starts from."""
    method, settings = config.mlmc.method, plan.settings
    if method == "mc":
        return initial_mc_state(settings)
    if method == "mlqmc":
        return initial_qmc_state(settings, config.mlmc.randomisations, config.mlmc.points0,
                                 known)  # fmt: skip
    return initial_state(settings, known)


def run_loop(
    config: Config,
    plan: DriverPlan,
    state: State,
    budgeted: Budgeted,
    progress: Callable[[IterationRecord], None] | None,
    say: Callable[[str], None],
    save: Callable[[State], None],
) -> MLMCEstimate:
    """Run (or continue) the loop of ``config``'s method from ``state``."""
    settings = plan.settings
    if isinstance(state, QMCState):
        cost = level_cost(config.mlmc)
        points = PointBatches(budgeted.executor, config.mlmc.randomisations, cost,
                              [level.points for level in state.levels], budgeted.check)  # fmt: skip
        return run_mlqmc(points, settings, cost, state, config.mlmc.points0, progress, say,
                         save, plan.safeguards)  # fmt: skip
    if config.mlmc.method == "mc":
        return run_mc(budgeted, settings, progress, state, save)
    return run_mlmc(budgeted, settings, progress, say, state, save, plan.safeguards)
