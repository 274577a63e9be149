"""Quasi-Monte Carlo requests as keyed batches: (level, randomisation, point range).

The MLQMC loop (:mod:`mlmc_hpc.core.mlqmc`) asks for ``extra[l]`` more points of every
randomisation on level l. Each becomes batches of points [a, a + size) of randomisation
r, ``size`` the largest power of two within ``run.batch_timesteps`` (at least 1), cut from
the request's first point on, so a range never depends on who computes it or when: the point
generator (:mod:`mlmc_hpc.models.qmc`) makes any range bit-identical to one sequential
stream. A batch travels as the usual task (level, batch, n) with

    batch = r * 2**40 + a     (a < 2**32 points, r <= 4096 randomisations: the MPI result
                               carries it as a float64, exact below 2**53),

so the executors, the largest-first queue and the MPI protocol carry over unchanged; the
sums come back per (level, randomisation), merged in increasing a, bit-identical on any
rank count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..core.sums import LevelSums
from ..errors import ConfigError
from ..models.qmc_sampler import batch_id, split_id
from .executor import BatchExecutor
from .planning import Task

MAX_POINTS = 2**32  # per randomisation and level: the Sobol generator's range (bits = 32)


def points_per_batch(batch_timesteps: int, cost: int) -> int:
    """The largest power of two <= batch_timesteps / cost, at least 1."""
    fits = max(1, batch_timesteps // cost)
    return 1 << (fits.bit_length() - 1)


class PointBatches:
    """The MLQMC loop's executor: point requests through any :class:`BatchExecutor`."""

    def __init__(self, executor: BatchExecutor, randomisations: int,
                 timesteps: Callable[[int], int], points: Sequence[int] = (),
                 guard: Callable[[float, int], None] | None = None) -> None:  # fmt: skip
        self.executor, self.randomisations, self.timesteps = executor, randomisations, timesteps
        self.points = list(points)  # N_l taken so far per level (per randomisation)
        self.guard = guard  # guard(timesteps, batches) may refuse a request (the budget)

    def plan(self, extra: Sequence[int]) -> list[Task]:
        """The batches of a request, the most timesteps first (ties in key order)."""
        while len(self.points) < len(extra):
            self.points.append(0)
        tasks = []
        for level, wanted in enumerate(extra):
            size = points_per_batch(self.executor.planner.batch_timesteps, self.timesteps(level))
            first, last = self.points[level], self.points[level] + int(wanted)
            for r in range(self.randomisations if wanted else 0):
                for a in range(first, last, size):
                    tasks.append(Task(level, batch_id(r, a), min(size, last - a)))
        tasks.sort(key=lambda t: (-t.n * self.timesteps(t.level), t.level, t.batch))
        return tasks

    def sample_points(self, extra: Sequence[int]) -> list[list[LevelSums]]:
        """Per level, one LevelSums per randomisation of the new points (empty where none)."""
        while len(self.points) < len(extra):
            self.points.append(0)
        for level, wanted in enumerate(extra):
            if self.points[level] + int(wanted) > MAX_POINTS:
                raise ConfigError(f"level {level} would need more than 2**32 points per "
                                  f"randomisation: raise mlmc.randomisations")  # fmt: skip
        if self.guard:  # priced before any task object exists
            size = self.executor.planner.batch_timesteps
            need, batches = 0.0, 0
            for level, wanted in enumerate(extra):
                cost = self.timesteps(level)
                need += float(self.randomisations * int(wanted) * cost)
                batches += self.randomisations * -(-int(wanted) // points_per_batch(size, cost))
            self.guard(need, batches)
        tasks = self.plan(extra)
        outcomes = self.executor.run_planned(tasks, list(self.executor.planner.next_batch))
        out: list[list[LevelSums]] = [
            [LevelSums() for _ in range(self.randomisations)] if wanted else [] for wanted in extra
        ]
        for task, sums, seconds in sorted(outcomes, key=lambda o: (o[0].level, o[0].batch)):
            r, _ = split_id(task.batch)
            out[task.level][r].add(sums, seconds)
        for level, wanted in enumerate(extra):
            self.points[level] += int(wanted)
        return out
