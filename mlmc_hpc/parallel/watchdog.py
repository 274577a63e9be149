"""A worker that stops answering (SIGSTOP, a hung GPU, a stalled file system) must not
hang the job: the master knows each batch's cost and the rate the workers reach.

Batch b of cost c timesteps is expected to take c / rate seconds, rate being the
timesteps per compute second of the batches already done (before the first one, a
nominal 1e8: generous on every device). A worker's oldest batch is overdue once it has
run longer than ``floor_s + factor * expected`` (``run.stall_floor_s``,
``run.stall_factor``), counted from when the worker could start it: its dispatch to an
idle worker, or the arrival of the worker's previous result. While a stop is pending the
floor is at most STOP_FLOOR_S, so the checkpoint is saved before the job is killed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .planning import BatchRecord, Task

NOMINAL_RATE = 1e8  # timesteps per second of one worker before any batch is measured
CHECK_EVERY_S = 0.25  # how often the master looks
STOP_FLOOR_S = 10.0  # the floor while a stop is pending


@dataclass(frozen=True)
class Overdue:
    """The worker (rank) whose batch ``task`` (the first of a message of ``tasks``) has run
    ``waited_s`` > ``allowed_s``."""

    worker: int
    task: Task
    waited_s: float
    allowed_s: float
    tasks: int = 1


Unit = Task | Sequence[Task]  # what a worker holds: one batch, or a message of several


def _tasks(unit: Unit) -> Sequence[Task]:
    return (unit,) if isinstance(unit, Task) else unit


class Watchdog:
    """Deadlines of the workers' oldest batches (module docstring)."""

    def __init__(self, factor: float, floor_s: float, timesteps: Callable[[int], int]) -> None:
        self.factor, self.floor_s, self.timesteps = factor, floor_s, timesteps
        self.since: dict[int, float] = {}  # worker -> when its oldest batch could start
        self.last_check = 0.0
        self.counted, self.done, self.busy = 0, 0.0, 0.0  # running totals of the records

    def started(self, worker: int, now: float | None = None) -> None:
        """The worker was idle and got a batch, or answered and has another queued."""
        self.since[worker] = time.monotonic() if now is None else now

    def rate(self, records: Sequence[BatchRecord]) -> float:
        """Timesteps per compute second of the batches done (nominal before the first);
        only the records added since the last call are read."""
        if len(records) < self.counted:  # restored from a checkpoint: count afresh
            self.counted, self.done, self.busy = 0, 0.0, 0.0
        for r in records[self.counted :]:
            self.done += r.n_samples * self.timesteps(r.level)
            self.busy += r.compute_s
        self.counted = len(records)
        return self.done / self.busy if self.busy > 0 and self.done > 0 else NOMINAL_RATE

    def allowed_s(
        self, unit: Unit, records: Sequence[BatchRecord], stopping: bool = False
    ) -> float:
        """floor + factor * expected seconds of ``unit`` (a batch, or a message of several
        run one after the other) at the measured rate; while a stop is pending the floor
        is at most STOP_FLOOR_S (the job's end or Slurm's KillWait will not wait two
        minutes)."""
        floor = min(self.floor_s, STOP_FLOOR_S) if stopping else self.floor_s
        cost = sum(task.n * self.timesteps(task.level) for task in _tasks(unit))
        return floor + self.factor * cost / self.rate(records)

    def overdue(
        self, in_flight: Mapping[int, Sequence[Unit]], records: Sequence[BatchRecord],
        now: float | None = None, stopping: bool = False,
    ) -> Overdue | None:  # fmt: skip
        """The first worker past its deadline, or None (checked every CHECK_EVERY_S)."""
        now = time.monotonic() if now is None else now
        if now - self.last_check < CHECK_EVERY_S:
            return None
        self.last_check = now
        for worker, units in in_flight.items():
            if units and worker in self.since:
                waited = now - self.since[worker]
                allowed = self.allowed_s(units[0], records, stopping)
                if waited > allowed:
                    oldest = _tasks(units[0])
                    return Overdue(worker, oldest[0], waited, allowed, len(oldest))
        return None
