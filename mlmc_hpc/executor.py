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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .sums import LevelSums


@dataclass(frozen=True)
class Task:
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


class Sampler(Protocol):
    def steps(self, level: int) -> int:
        """Timesteps of one sample of ``level`` (its cost)."""
        ...

    def sample(self, level: int, batch: int, n: int) -> np.ndarray: ...


class BatchPlanner:
    """Cuts extra samples into keyed batches, largest first.

    ``timesteps(level)`` is the cost of one sample (M^l for MLMC levels).
    """

    def __init__(
        self, batch_timesteps: int, timesteps: Callable[[int], int], next_batch: Sequence[int] = ()
    ) -> None:
        self.batch_timesteps = batch_timesteps
        self.timesteps = timesteps
        self.next_batch = list(next_batch)

    def samples_per_batch(self, level: int) -> int:
        return max(1, self.batch_timesteps // self.timesteps(level))

    def plan(self, extra: Sequence[int]) -> list[Task]:
        while len(self.next_batch) < len(extra):
            self.next_batch.append(0)
        tasks = []
        for level, wanted in enumerate(extra):
            size = self.samples_per_batch(level)
            for start in range(0, int(wanted), size):
                tasks.append(Task(level, self.next_batch[level], min(size, int(wanted) - start)))
                self.next_batch[level] += 1
        tasks.sort(key=lambda t: (-t.n * self.timesteps(t.level), t.level, t.batch))
        return tasks


def merge_in_order(n_levels: int, outcomes: Sequence[Outcome]) -> list[LevelSums]:
    """Per-level totals of (task, sums, seconds) outcomes, added in (level, batch) order."""
    levels = [LevelSums() for _ in range(n_levels)]
    for task, sums, seconds in sorted(outcomes, key=lambda o: (o[0].level, o[0].batch)):
        levels[task.level].add(sums, seconds)
    return levels


class StoppedEarlyError(Exception):
    """A stop was requested: no new batches were started and those running finished.

    ``outcomes`` holds every batch of the interrupted request that did complete.
    """

    def __init__(self, reason: str, outcomes: list[Outcome]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outcomes = outcomes


def never_stop() -> str | None:
    return None


class BatchExecutor:
    """Base of all executors: planning, ordered merging, batch records and stopping.

    ``stop_reason()`` is asked before each batch is started; a non-empty answer makes
    the current request end with :class:`StoppedEarlyError` once running batches are back.
    ``carried`` holds batches already computed before a resume, keyed by (level,
    batch); they are reused, not recomputed, when the same request comes again.
    """

    n_workers = 1
    startup_s = 0.0  # slowest worker's set-up before its first batch (GPU context, compile)

    def __init__(self, batch_timesteps: int, timesteps: Callable[[int], int]) -> None:
        self.planner = BatchPlanner(batch_timesteps, timesteps)
        self.records: list[BatchRecord] = []
        self.origin = time.perf_counter()
        self.stop_reason: Callable[[], str | None] = never_stop
        self.carried: dict[tuple[int, int], Outcome] = {}

    def sample(self, extra: Sequence[int]) -> list[LevelSums]:
        reused: list[Outcome] = []
        todo: list[Task] = []
        for task in self.planner.plan(extra):
            known = self.carried.pop((task.level, task.batch), None)
            if known is None:
                todo.append(task)
            elif known[0].n != task.n:
                raise RuntimeError(f"checkpoint batch {known[0]} does not match the plan {task}")
            else:
                reused.append(known)
        try:
            outcomes = self.run_tasks(todo)
        except StoppedEarlyError as stop:
            raise StoppedEarlyError(stop.reason, reused + stop.outcomes) from None
        return merge_in_order(len(extra), reused + outcomes)

    def run_tasks(self, tasks: list[Task]) -> list[Outcome]:
        raise NotImplementedError

    def continue_from(self, records: list[BatchRecord], elapsed_s: float) -> None:
        """Resume: keep the earlier batch records; new times count on from ``elapsed_s``."""
        self.records = list(records)
        self.origin -= elapsed_s

    def status(self) -> str:
        """Text appended to progress lines (the MPI executor reports its workers)."""
        return ""

    def close(self) -> None:
        """Release workers; the serial executor has none."""


class SerialExecutor(BatchExecutor):
    """Runs every batch in this process (one rank, or mpi4py absent)."""

    def __init__(self, sampler: Sampler, batch_timesteps: int, device: str = "cpu") -> None:
        super().__init__(batch_timesteps, sampler.steps)
        self.sampler = sampler
        self.host = socket.gethostname()
        self.devices = [device]

    def run_tasks(self, tasks: list[Task]) -> list[Outcome]:
        outcomes = []
        for task in tasks:
            reason = self.stop_reason()
            if reason:
                raise StoppedEarlyError(reason, outcomes)
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
