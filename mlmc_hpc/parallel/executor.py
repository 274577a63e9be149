"""Executors: what the driver calls to turn per-level sample requests into sums.

An executor plans keyed batches (:mod:`mlmc_hpc.parallel.planning`), has them computed
(in this process, or by MPI workers in :mod:`mlmc_hpc.parallel.mpi`), merges them in
(level, batch) order and keeps a record per batch. It is passed in, as emcee passes a
pool. Resuming goes through :meth:`BatchExecutor.snapshot` and
:meth:`BatchExecutor.restore`: the snapshot holds the batch counters as of the start of
the current request and the batches of an interrupted request that did complete, so a
resumed run replans the same request and reuses them instead of recomputing them.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ..core.sums import N_SUMS, LevelSums
from ..errors import RunFailedError
from ..models.registry import AnyConfig, Sampler, batch_shape, make_sampler
from .planning import (
    BatchPlanner,
    BatchRecord,
    Outcome,
    Task,
    batch_table,
    merge_in_order,
    records_from_table,
)

BatchReport = Callable[[int, int, float, float, float], None]


def out_of_memory(level: int, batch: int, n: int) -> str:
    """The one line of a batch that did not fit in memory."""
    return (f"out of memory computing batch {batch} of level {level} ({n} samples): lower "
            f"run.batch_timesteps, or use fewer ranks per node")  # fmt: skip


def timed_batches(sampler: Sampler, tasks: Sequence[Task]) -> list[tuple[np.ndarray, float, float]]:
    """Each task's (sums, start, end), times by ``time.perf_counter``. A sampler with
    ``sample_many`` (the GPU's: launch all, synchronise once) gets the tasks in one call, and
    its time is split over them in proportion to their timesteps (its batches run one after
    another on one device); any other sampler computes and times them one by one."""
    many = getattr(sampler, "sample_many", None)
    if many is None or len(tasks) < 2:
        timed = []
        for task in tasks:
            start = time.perf_counter()
            sums = sampler.sample(task.level, task.batch, task.n)
            timed.append((sums, start, time.perf_counter()))
        return timed
    start = time.perf_counter()
    results = many([(t.level, t.batch, t.n) for t in tasks])
    seconds = time.perf_counter() - start
    work = [float(t.n * sampler.steps(t.level)) for t in tasks]
    edges = start + seconds * np.concatenate([[0.0], np.cumsum(work)]) / sum(work)
    return [(sums, float(edges[k]), float(edges[k + 1])) for k, sums in enumerate(results)]


def groups(sampler: Sampler, tasks: Sequence[Task]) -> Iterator[Sequence[Task]]:
    """Consecutive groups of the tasks, as many as the sampler takes at once: its
    ``max_group`` (one task at a time unless it has one)."""
    size = max(1, int(getattr(sampler, "max_group", 1)))
    for first in range(0, len(tasks), size):
        yield tasks[first : first + size]


def compute_tasks(sampler: Sampler, tasks: Sequence[Task]) -> list[np.ndarray]:
    """Each batch's result followed by its trailer (level, batch, start, end, seconds), start
    and end in seconds since the epoch; a group of :func:`groups` at a time."""
    results: list[np.ndarray] = []
    epoch = time.time() - time.perf_counter()
    for group in groups(sampler, tasks):
        for t, (sums, start, end) in zip(group, timed_batches(sampler, group), strict=True):
            trailer = (t.level, t.batch, start + epoch, end + epoch, end - start)
            results.append(np.concatenate([sums, trailer]))
    return results


class StoppedEarlyError(Exception):
    """A stop was requested: no new batches were started and those running finished.

    The batches of the interrupted request that did complete are in the executor's
    :meth:`~BatchExecutor.snapshot`; ``outcomes`` carries them only from ``run_tasks`` to
    the executor's own ``sample``, never through the driver.
    """

    def __init__(self, reason: str, outcomes: Sequence[Outcome] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outcomes = list(outcomes)


def never_stop() -> str | None:
    """The default stop check: never."""
    return None


class BatchExecutor:
    """Base of all executors: planning, ordered merging, batch records, stopping, resuming.

    ``stop_reason()`` (set with :meth:`watch`) is asked before each batch is started; a
    non-empty answer ends the current request with :class:`StoppedEarlyError` once the
    running batches are back.
    """

    n_workers = 1
    seed: int | None = None  # the samplers' seed, where this process knows it
    world_size = 1  # MPI ranks of the job (master included)
    mpi_version = ""  # the MPI library, where mpi4py is installed
    startup_s = 0.0  # slowest worker's set-up before its first batch (GPU context, compile)

    def __init__(self, batch_timesteps: int, timesteps: Callable[[int], int]) -> None:
        self.planner = BatchPlanner(batch_timesteps, timesteps)
        self.records: list[BatchRecord] = []
        self.devices: list[str] = ["cpu"]
        self.origin = time.perf_counter()
        self.stop_reason: Callable[[], str | None] = never_stop
        self.on_batch: BatchReport | None = None
        self._request = (0, 0, 0.0, 0.0, 0.0)  # batches, of, work done, of, start time
        self._carried: dict[tuple[int, int], Outcome] = {}
        # A stopped request: its batch counters at the start and its completed batches.
        self._stopped: tuple[list[int], list[Outcome]] | None = None

    def watch(self, stop_reason: Callable[[], str | None]) -> None:
        """Ask ``stop_reason()`` before each batch (signals, the Slurm job's end)."""
        self.stop_reason = stop_reason

    def watch_batches(self, report: BatchReport | None) -> None:
        """Call ``report(batches, of, work, of, seconds)`` after each finished batch of a
        request: batches done and planned, work done and planned (timesteps, or scenarios
        for a risk run: n x the planner's cost), seconds since the request started."""
        self.on_batch = report

    def _begin(self, tasks: Sequence[Task]) -> None:
        work = float(sum(t.n * self.planner.timesteps(t.level) for t in tasks))
        self._request = (0, len(tasks), 0.0, work, time.perf_counter())

    def _finished(self, task: Task) -> None:
        if self.on_batch is None:  # nobody watches: no bookkeeping per batch
            return
        done, planned, work, total, start = self._request
        work += task.n * self.planner.timesteps(task.level)
        self._request = (done + 1, planned, work, total, start)
        self.on_batch(done + 1, planned, work, total, time.perf_counter() - start)

    def sample(self, extra: Sequence[int]) -> list[LevelSums]:
        """Sums of ``extra[l]`` new samples on each level l, merged in (level, batch) order."""
        start = list(self.planner.next_batch)
        return merge_in_order(len(extra), self.run_planned(self.planner.plan(extra), start))

    def run_planned(self, tasks: list[Task], counters: list[int]) -> list[Outcome]:
        """The outcomes of ``tasks``: batches completed before an interruption (carried by
        :meth:`restore`) are reused, the others computed. On a stop the completed ones and
        the batch ``counters`` of the request's start go into :meth:`snapshot`."""
        reused: list[Outcome] = []
        todo: list[Task] = []
        for task in tasks:
            known = self._carried.pop((task.level, task.batch), None)
            if known is None:
                todo.append(task)
            elif known[0].n != task.n:
                raise RuntimeError(f"checkpoint batch {known[0]} does not match the plan {task}")
            else:
                reused.append(known)
        try:
            outcomes = self.run_tasks(todo)
        except StoppedEarlyError as stop:
            self._stopped = (counters, reused + stop.outcomes)
            raise StoppedEarlyError(stop.reason) from None
        return reused + outcomes

    def run_tasks(self, tasks: list[Task]) -> list[Outcome]:
        """Compute ``tasks``; on a stop raise ``StoppedEarlyError(reason, done_outcomes)``."""
        raise NotImplementedError

    def snapshot(self) -> dict[str, np.ndarray]:
        """The executor's part of a checkpoint (format 1): ``next_batch`` per level and the
        completed batches of an interrupted request (``pending_tasks`` k x 3,
        ``pending_sums`` k x 8, ``pending_seconds`` k), in (level, batch) order."""
        next_batch, done = self._stopped or (self.planner.next_batch, [])
        pending = sorted(done, key=lambda o: (o[0].level, o[0].batch))
        return {
            "next_batch": np.array(next_batch, dtype=np.int64),
            "pending_tasks": np.array(
                [(t.level, t.batch, t.n) for t, _, _ in pending], dtype=np.int64
            ).reshape(-1, 3),
            "pending_sums": np.array([s for _, s, _ in pending]).reshape(-1, N_SUMS),
            "pending_seconds": np.array([sec for _, _, sec in pending], dtype=np.float64),
        }

    def restore(
        self, snapshot: dict[str, np.ndarray], batches: dict[str, np.ndarray], elapsed_s: float
    ) -> None:
        """Continue from :meth:`snapshot`: batch counters, completed batches to reuse, the
        earlier batch records (``batches`` table) and times counted on from ``elapsed_s``."""
        self.planner.next_batch = [int(b) for b in snapshot["next_batch"]]
        self._carried = {
            (int(level), int(batch)): (Task(int(level), int(batch), int(n)), sums.copy(), float(s))
            for (level, batch, n), sums, s in zip(
                snapshot["pending_tasks"], snapshot["pending_sums"], snapshot["pending_seconds"],
                strict=True,
            )
        }  # fmt: skip
        self.resume_records(batches, elapsed_s)

    def resume_records(self, batches: dict[str, np.ndarray], elapsed_s: float) -> None:
        """Keep the earlier batch records (``batches`` table) and count times on from
        ``elapsed_s`` (a resumed risk run, which has no batch counters to restore)."""
        self.records = records_from_table(batches)
        self.origin -= elapsed_s

    def check_can_run(self, config: AnyConfig) -> None:
        """ValueError unless this executor would run ``config`` as written: it must not have
        run before (its batch counters would go on, so the streams would differ from the
        stored seed's), and its batch size (and seed, where it knows it) must be the config's."""
        if self.records or any(self.planner.next_batch):
            raise ValueError("this executor has already run; pass a new one for each price()")
        size = batch_shape(config)[0]
        if self.planner.batch_timesteps != size:
            raise ValueError(
                f"the executor cuts batches of {self.planner.batch_timesteps} units but the "
                f"config's batch size is {size}; build it from this config"
            )
        if self.seed is not None and self.seed != config.run.seed:
            raise ValueError(
                f"the executor samples with seed {self.seed} but run.seed is "
                f"{config.run.seed}; build it from this config"
            )

    def batch_table(self) -> dict[str, np.ndarray]:
        """The batch records as the HDF5 ``batches`` group."""
        return batch_table(self.records)

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
        self.seed = getattr(sampler, "seed", None)

    def run_tasks(self, tasks: list[Task]) -> list[Outcome]:
        """The tasks in turn, in :func:`groups` (one task each for a CPU sampler); a stop
        request is checked before each group."""
        outcomes: list[Outcome] = []
        self._begin(tasks)
        for group in groups(self.sampler, tasks):
            reason = self.stop_reason()
            if reason:
                raise StoppedEarlyError(reason, outcomes)
            try:
                timed = timed_batches(self.sampler, group)
            except MemoryError:
                task = group[0]
                raise RunFailedError(out_of_memory(task.level, task.batch, task.n)) from None
            for task, (sums, start, end) in zip(group, timed, strict=True):
                outcomes.append((task, sums, end - start))
                self.records.append(BatchRecord(task.level, task.batch, task.n, 0, self.host,
                                                start - self.origin, end - self.origin,
                                                end - start))  # fmt: skip
                self._finished(task)
        return outcomes


def serial_executor(config: AnyConfig, mpi_version: str = "") -> SerialExecutor:
    """In-process executor for a config (the sampler's set-up time is kept as startup_s)."""
    started = time.perf_counter()
    sampler = make_sampler(config)
    device = getattr(sampler, "device", "cpu")  # cuda:<id> [GPU; CUDA and NVRTC versions]
    executor = SerialExecutor(sampler, batch_shape(config)[0], device)
    executor.startup_s = time.perf_counter() - started
    executor.mpi_version = mpi_version
    return executor
