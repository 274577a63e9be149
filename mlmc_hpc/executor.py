"""Executors: turn the driver's per-level sample requests into keyed batches.

A level's extra samples are cut into batches of about ``batch_timesteps`` fine
timesteps; batch b of level l always draws the stream keyed by (seed, l, b) and the
per-level counters only ever grow, so the sums depend on the seed and batch size
alone, never on who computed a batch or when. Results are merged in (level, batch)
order, which makes the totals bit-identical for any number of workers.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .sums import LevelSums


@dataclass(frozen=True)
class Task:
    level: int
    batch: int
    n: int


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


class Sampler(Protocol):
    M: int

    def sample(self, level: int, batch: int, n: int) -> np.ndarray: ...


class BatchPlanner:
    """Cuts extra samples into keyed batches, largest first."""

    def __init__(self, batch_timesteps: int, M: int, next_batch: Sequence[int] = ()) -> None:
        self.batch_timesteps = batch_timesteps
        self.M = M
        self.next_batch = list(next_batch)

    def samples_per_batch(self, level: int) -> int:
        return max(1, self.batch_timesteps // self.M**level)

    def plan(self, extra: Sequence[int]) -> list[Task]:
        while len(self.next_batch) < len(extra):
            self.next_batch.append(0)
        tasks = []
        for level, wanted in enumerate(extra):
            size = self.samples_per_batch(level)
            for start in range(0, int(wanted), size):
                tasks.append(Task(level, self.next_batch[level], min(size, int(wanted) - start)))
                self.next_batch[level] += 1
        tasks.sort(key=lambda t: (-t.n * self.M**t.level, t.level, t.batch))
        return tasks


def merge_in_order(
    n_levels: int, outcomes: Sequence[tuple[Task, np.ndarray, float]]
) -> list[LevelSums]:
    """Per-level totals of (task, sums, seconds) outcomes, added in (level, batch) order."""
    levels = [LevelSums() for _ in range(n_levels)]
    for task, sums, seconds in sorted(outcomes, key=lambda o: (o[0].level, o[0].batch)):
        levels[task.level].add(sums, seconds)
    return levels


class BatchExecutor:
    """Base of all executors: planning, ordered merging and batch records."""

    n_workers = 1

    def __init__(self, batch_timesteps: int, M: int) -> None:
        self.planner = BatchPlanner(batch_timesteps, M)
        self.records: list[BatchRecord] = []
        self.origin = time.perf_counter()

    def sample(self, extra: Sequence[int]) -> list[LevelSums]:
        tasks = self.planner.plan(extra)
        outcomes = self.run_tasks(tasks)
        return merge_in_order(len(extra), outcomes)

    def run_tasks(self, tasks: list[Task]) -> list[tuple[Task, np.ndarray, float]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release workers; the serial executor has none."""


class SerialExecutor(BatchExecutor):
    """Runs every batch in this process (one rank, or mpi4py absent)."""

    def __init__(self, sampler: Sampler, batch_timesteps: int, device: str = "cpu") -> None:
        super().__init__(batch_timesteps, sampler.M)
        self.sampler = sampler
        self.host = socket.gethostname()
        self.devices = [device]

    def run_tasks(self, tasks: list[Task]) -> list[tuple[Task, np.ndarray, float]]:
        outcomes = []
        for task in tasks:
            start = time.perf_counter()
            sums = self.sampler.sample(task.level, task.batch, task.n)
            end = time.perf_counter()
            outcomes.append((task, sums, end - start))
            self.records.append(
                BatchRecord(
                    task.level,
                    task.batch,
                    task.n,
                    0,
                    self.host,
                    start - self.origin,
                    end - self.origin,
                    end - start,
                )
            )
        return outcomes
