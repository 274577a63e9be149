"""The work budget of a run (``run.max_timesteps``): what cannot finish is refused before
the work starts, never discovered hours later.

Before each iteration the request is priced: sum_l dN_l C_l timesteps (and seconds at
the rate measured so far), and the number of batches it becomes. A request that would
take the run past the budget is refused with a ConfigError (exit 2, one line with the
estimate and the key) before any of its batches starts, so nothing new is written: a
fresh run has written nothing, a later iteration leaves the checkpoint of the last
finished one, which ``--resume --set run.max_timesteps=...`` continues (a key a resume may
change). Not exit 75: a job script would requeue the run into the same refusal. Sample
counts are capped far below int64 by the driver, and a request of more than MAX_BATCHES
batches is refused too (the batch plan and the per-batch records must fit in memory):
``run.batch_timesteps`` fixes the random streams, so that one needs a new run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..config.schema import Config
from ..core.sums import LevelSums
from ..errors import ConfigError
from ..models.gbm import level_cost
from ..parallel.executor import BatchExecutor

MAX_BATCHES = 1_000_000  # per request: its tasks and batch records stay below ~300 MiB
NOMINAL_RATE = 1e8  # timesteps per second per worker before any is measured (NumPy core)


class Budgeted:
    """The driver's executor, with the request priced first (module docstring)."""

    def __init__(self, executor: BatchExecutor, config: Config, spent: Callable[[], float],
                 fresh: bool) -> None:  # fmt: skip
        self.executor, self.config, self.spent, self.fresh = executor, config, spent, fresh
        self.cost = level_cost(config.mlmc)

    def sample(self, extra: Sequence[int]) -> list[LevelSums]:
        """The executor's sums of ``extra``, once the request is within the budget."""
        per_batch = self.executor.planner.samples_per_batch
        need = float(sum(int(n) * self.cost(l) for l, n in enumerate(extra)))  # noqa: E741
        batches = sum(-(-int(n) // per_batch(l)) for l, n in enumerate(extra))  # noqa: E741
        self.check(need, batches)
        return self.executor.sample(extra)

    def check(self, need: float, batches: int) -> None:
        """ConfigError when a request of ``need`` timesteps in ``batches`` batches may not
        run (module docstring); the MLQMC point requests call it directly."""
        problem = self.problem(need, batches)
        first, self.fresh = self.fresh, False
        if problem:
            later = ("; the output keeps the checkpoint of the last finished iteration: "
                     "continue with --resume")  # fmt: skip
            raise ConfigError(problem + ("" if first else later))

    def problem(self, need: float, batches: int) -> str | None:
        """Why the request may not run (the budget first, then the batch count), or None."""
        limit = self.config.run.max_timesteps
        done = self.spent()
        if limit is not None and done + need > limit:
            seconds = need / self.rate()
            return (f"run.max_timesteps: the next iteration needs {need:.3g} timesteps "
                    f"(about {_duration(seconds)} on {self.executor.n_workers} worker(s)), "
                    f"which would pass run.max_timesteps = {limit:.3g} ({done:.3g} done); "
                    f"allow more with --set run.max_timesteps=N (null = unlimited)")  # fmt: skip
        size = self.config.run.batch_timesteps
        if batches > MAX_BATCHES:
            return (f"run.batch_timesteps: the next iteration would be {batches:.3g} "
                    f"batches of {size} timesteps, more than {MAX_BATCHES:.0e}: start a new "
                    f"run with a larger run.batch_timesteps")  # fmt: skip
        return None

    def rate(self) -> float:
        """Timesteps per second of all workers: measured on this run's batches, else nominal."""
        records = self.executor.records
        busy = sum(r.compute_s for r in records)
        steps = sum(r.n_samples * self.cost(r.level) for r in records)
        per_worker = steps / busy if busy > 0 and steps > 0 else NOMINAL_RATE
        return per_worker * max(1, self.executor.n_workers)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
