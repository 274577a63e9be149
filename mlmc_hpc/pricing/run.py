"""One pricing run: a resolved config, an executor, the pure driver and the result.

:func:`run_pricing` runs (or continues) the adaptive loop -- Giles' MLMC or plain Monte
Carlo -- on the executor it is given, checkpoints after every iteration when asked, and
assembles the :class:`~mlmc_hpc.io.run_result.RunResult`. It is the seam between the
layers: the driver sees sums, the executor batches, the result file arrays.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..config.schema import Config
from ..core.driver import IterationRecord
from ..errors import SamplingError
from ..io.checkpoint import Resume, checkpoint_group
from ..io.run_result import RunResult
from ..parallel.executor import BatchExecutor, StoppedEarlyError
from .assemble import assemble
from .budget import Budgeted
from .cadence import RUN_EVERY_S, Cadence
from .level0 import level0_plan
from .loops import State, new_state, run_loop
from .safety import driver_plan, withdraw

Progress = Callable[[IterationRecord], None]


def run_pricing(
    config: Config,
    executor: BatchExecutor,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
    resume: Resume | None = None,
    checkpoint_path: str | None = None,
    on_checkpoint: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Run (or continue, from ``resume``) the adaptive loop on ``executor``; the result.

    With ``checkpoint_path`` the unfinished result is rewritten there (atomically) after
    the first iteration, then at most every RUN_EVERY_S seconds and 1/20 of the run
    (:mod:`mlmc_hpc.pricing.cadence`). If the executor is told to stop, the returned result
    is unfinished and ``interrupted``, with a checkpoint holding the batches computed.
    ``on_checkpoint(result)`` receives the unfinished result after every iteration (a book
    collects its contracts' checkpoints so). A request past
    ``run.max_timesteps`` is a ConfigError before it starts (:mod:`mlmc_hpc.pricing.budget`).
    """
    started = time.perf_counter()
    previous_s, resumed = 0.0, 0
    plain = config.mlmc.method == "mc"
    plan, level0 = driver_plan(config), level0_plan(config)
    said: list[str] = []

    def say(message: str) -> None:
        said.append(message)
        if warn:
            warn(message)

    state: State
    if resume is not None:
        state, previous_s, resumed = resume.state, resume.elapsed_s, resume.resumed
        executor.restore(resume.executor, resume.batches, resume.elapsed_s)
    else:
        state = new_state(config, plan, level0.known)
    effective_Lmin = 0 if plain else state.first_Lmin
    notes = plan.notes
    if not plain and effective_Lmin < plan.settings.Lmin:  # a checkpoint of mlmc_hpc < 0.3.0
        notes = (f"this checkpoint started at Lmin = {effective_Lmin}, below the "
                 f"{plan.settings.Lmin} the problem's scales ask for (it predates them); the "
                 f"regime checks still decide when it has converged",)  # fmt: skip
    for note in notes:
        say(note)

    def elapsed() -> float:
        return previous_s + time.perf_counter() - started

    def common() -> dict[str, object]:
        return dict(resumed=resumed, effective_Lmin=effective_Lmin, warnings="\n".join(said),
                    level0=config.mlmc.level0, level0_method=level0.method)  # fmt: skip

    def unfinished(reason: str = "") -> RunResult:
        flags = dict(finished=False, interrupted=bool(reason), stop_reason=reason, **common())
        group = checkpoint_group(state, executor.snapshot())
        return assemble(config, state.estimate(), executor, elapsed(), flags, group)

    cadence = Cadence(RUN_EVERY_S)
    unsaved: list[RunResult] = []  # the last iteration's checkpoint, when the cadence skipped it

    def save_checkpoint(current: State) -> None:
        if current.finished or not (on_checkpoint or checkpoint_path):
            return
        result = unfinished()
        unsaved[:] = []
        if checkpoint_path and not cadence.offer(lambda: result.save(checkpoint_path)):
            unsaved.append(result)
        if on_checkpoint:
            on_checkpoint(result)

    def spent() -> float:
        return float(sum(level.cost for level in state.levels))

    budgeted = Budgeted(executor, config, spent, fresh=resume is None)
    try:
        estimate = run_loop(config, plan, state, budgeted, progress, say, save_checkpoint)
    except StoppedEarlyError as stop:
        return unfinished(stop.reason)
    except Exception as error:  # a refused budget, a failed worker: keep the last state
        if unsaved and checkpoint_path:
            unsaved[0].save(checkpoint_path)
        if not isinstance(error, SamplingError):
            raise
        o = config.option
        where = f"option {o.type}: S0 {o.S0:g}, K {o.K:g}, T {o.T:g}, r {o.r:g}, sigma {o.sigma:g}"
        raise SamplingError(f"{error} ({where})") from None
    estimate = withdraw(estimate, config, plan, say)
    return assemble(config, estimate, executor, elapsed(), common())
