"""Batch planning: a request for extra samples per level becomes keyed batches.

A level's extra samples are cut into batches of about ``batch_timesteps`` fine
timesteps; batch b of level l always draws the stream keyed by (seed, l, b) and the
per-level counters only ever grow, so the sums depend on the seed and batch size
alone, never on who computed a batch or when. Results are merged in (level, batch)
order, which makes the totals bit-identical for any number of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.sums import LevelSums


@dataclass(frozen=True)
class Task:
    """Batch ``batch`` of ``level``: ``n`` samples."""

    level: int
    batch: int
    n: int


Outcome = tuple[Task, np.ndarray, float]  # task, its sums, compute seconds

BATCH_FIELDS = ("level", "batch", "n_samples", "worker", "host", "start_s", "end_s", "compute_s")


@dataclass
class BatchRecord:
    """One computed batch, as stored in the HDF5 ``batches`` group."""

    level: int
    batch: int
    n_samples: int
    worker: int
    host: str
    start_s: float  # seconds from run start
    end_s: float
    compute_s: float


class BatchPlanner:
    """Cuts extra samples into keyed batches, largest first.

    ``timesteps(level)`` is the cost of one sample (:func:`mlmc_hpc.models.gbm.level_cost`).
    """

    def __init__(
        self, batch_timesteps: int, timesteps: Callable[[int], int], next_batch: Sequence[int] = ()
    ) -> None:
        self.batch_timesteps = batch_timesteps
        self.timesteps = timesteps
        self.next_batch = list(next_batch)

    def samples_per_batch(self, level: int) -> int:
        """max(1, batch_timesteps // cost of one sample of ``level``)."""
        return max(1, self.batch_timesteps // self.timesteps(level))

    def plan(self, extra: Sequence[int]) -> list[Task]:
        """Tasks for ``extra[l]`` new samples on each level, the most timesteps first."""
        while len(self.next_batch) < len(extra):
            self.next_batch.append(0)
        tasks = []
        cost = [self.timesteps(level) for level in range(len(extra))]
        for level, wanted in enumerate(extra):
            size, first = self.samples_per_batch(level), self.next_batch[level]
            count = -(-int(wanted) // size)
            tasks += [
                Task(level, first + i, min(size, int(wanted) - i * size)) for i in range(count)
            ]
            self.next_batch[level] += count
        tasks.sort(key=lambda t: (-t.n * cost[t.level], t.level, t.batch))
        return tasks


def merge_in_order(n_levels: int, outcomes: Sequence[Outcome]) -> list[LevelSums]:
    """Per-level totals of (task, sums, seconds) outcomes, added in (level, batch) order."""
    levels = [LevelSums() for _ in range(n_levels)]
    ordered = sorted(outcomes, key=lambda o: (o[0].level, o[0].batch))
    if ordered and not 0 <= ordered[-1][0].level < n_levels:
        raise RuntimeError(f"a batch of level {ordered[-1][0].level} for {n_levels} levels")
    for level, total in enumerate(levels):
        mine = [(sums, seconds) for task, sums, seconds in ordered if task.level == level]
        if mine:  # LevelSums.add_many: the bits of adding them one by one, faster
            total.add_many(np.array([sums for sums, _ in mine]), sum(s for _, s in mine))
    return levels


def batch_table(records: Sequence[BatchRecord]) -> dict[str, np.ndarray]:
    """Records as the columns of the HDF5 ``batches`` group."""
    table = {name: np.array([getattr(r, name) for r in records]) for name in BATCH_FIELDS}
    for name in ("level", "batch", "n_samples", "worker"):
        table[name] = table[name].astype(np.int64)
    for name in ("start_s", "end_s", "compute_s"):
        table[name] = table[name].astype(np.float64)
    table["host"] = table["host"].astype(str)
    return table


def records_from_table(table: dict[str, np.ndarray]) -> list[BatchRecord]:
    """Inverse of :func:`batch_table` (resuming keeps the earlier batches' records)."""
    if not table or "level" not in table:
        return []
    columns = [table[name] for name in BATCH_FIELDS]
    return [
        BatchRecord(
            int(level),
            int(batch),
            int(n),
            int(worker),
            str(host),
            float(start),
            float(end),
            float(compute),
        )  # fmt: skip
        for level, batch, n, worker, host, start, end, compute in zip(*columns, strict=True)
    ]
