"""MPI master/worker execution (rank 0 = master, ranks 1..N-1 = workers).

The master is an executor passed to the pure driver: it cuts requests into keyed
batches (see :mod:`mlmc_hpc.parallel.planning`), keeps up to ``PREFETCH`` batches in flight
per worker, largest first, and hands the next one to whichever worker returns a
result (dynamic pull). Tasks go out as three int64; a result comes back as one float64
buffer of any length: the sampler's array (the eight sums of a level batch, a risk batch's
tail summary) followed by TRAILER values (level, batch, start, end, compute seconds).
Waiting is a non-blocking probe polled with a growing sleep, so neither the master nor
an idle worker burns a core (MPICH's blocking receive spins).

A worker's exception comes back as one message headed ``worker r of s on HOST:``;
the master prints it and aborts the job. Any other unhandled exception aborts the
whole job (``COMM_WORLD.Abort``) instead of deadlocking at finalize.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.sums import N_SUMS
from ..errors import ExitCode, WorkerFailedError, WorkerStalledError, stopped_at_once
from ..models.registry import Sampler
from .executor import BatchExecutor, StoppedEarlyError, compute_tasks, out_of_memory
from .planning import BatchRecord, Outcome, Task
from .poller import Poller
from .vectors import MAX_VECTOR, PREFETCH, pack_vector, unpack_vector, vector_size
from .watchdog import Overdue, Watchdog

TAG_TASK, TAG_STOP, TAG_RESULT, TAG_ERROR, TAG_ERROR_TEXT = 11, 12, 13, 14, 15
TRAILER = 5  # level, batch, start, end, compute seconds after the sampler's array
RESULT_SIZE = N_SUMS + TRAILER  # a level batch's result
ABORT_GRACE_S = 0.3
FAULT_VARIABLE = "MLMC_HPC_FAULT_INJECTION"  # tests only: "raise|kill|stop|memory:RANK"


def world() -> Any:  # an mpi4py communicator (mpi4py is untyped) or None
    """COMM_WORLD when mpi4py imports and more than one rank runs, else None."""
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None


def mpi_library_version() -> str:
    """First line of MPI's library version string (e.g. MPICH's), or "" without mpi4py."""
    try:
        from mpi4py import MPI
    except ImportError:
        return ""
    return MPI.Get_library_version().splitlines()[0].strip()


def local_rank(comm: Any) -> int:
    """This rank's index among the ranks of ``comm`` on the same node (shared memory)."""
    from mpi4py import MPI

    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    rank = node.Get_rank()
    node.Free()
    return rank


class MPIExecutor(BatchExecutor):
    """Master side of the batch protocol."""

    def __init__(
        self,
        comm: Any,
        batch_timesteps: int,
        timesteps: Callable[[int], int],
        workers: list[tuple[str, str, float]],
        stall: tuple[float, float] = (20.0, 120.0),
    ) -> None:
        super().__init__(batch_timesteps, timesteps)
        self.watchdog = Watchdog(*stall, timesteps)  # (run.stall_factor, run.stall_floor_s)
        self.stalled = False  # a worker stopped answering: the job must be aborted
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = comm
        self.n_workers = comm.Get_size() - 1
        self.world_size = comm.Get_size()
        self.mpi_version = mpi_library_version()
        self.hosts = [host for host, _, _ in workers]
        self.devices = [device for _, device, _ in workers]
        self.startup_s = max((startup for _, _, startup in workers), default=0.0)
        self.poller = Poller()
        self.busy_workers = 0
        self.idle_fraction = 0.0
        self.vector_cap = MAX_VECTOR  # tasks per message at most (a node takes more)
        self.epoch = time.time()  # batch start/end are stored relative to this

    def run_tasks(self, tasks: list[Task]) -> list[Outcome]:
        """Send the tasks to the workers (dynamic pull, several per message) and collect
        their sums, in arrival order."""
        MPI = self.MPI
        queue = deque(tasks)
        in_flight: dict[int, deque[list[Task]]] = {w: deque() for w in range(1, self.n_workers + 1)}
        outcomes: list[Outcome] = []
        started, idle_before = time.perf_counter(), self.poller.idle_s
        stopping = ""

        def dispatch(worker: int, depth: int = PREFETCH) -> None:
            nonlocal stopping
            while queue and len(in_flight[worker]) < depth:
                stopping = stopping or self.stop_reason() or ""
                if stopping:
                    return
                size = min(self.vector_cap, vector_size(len(queue), self.n_workers,
                                                        self.vector_cap))  # fmt: skip
                vector = [queue.popleft() for _ in range(min(size, len(queue)))]
                message = np.array([(t.level, t.batch, t.n) for t in vector], dtype=np.int64)
                self.comm.Send(message.ravel(), dest=worker, tag=TAG_TASK)
                if not in_flight[worker]:
                    self.watchdog.started(worker)
                in_flight[worker].append(vector)

        def check() -> None:
            nonlocal stopping
            stopping = stopping or self.stop_reason() or ""  # asked while nothing is sent
            late = self.watchdog.overdue(in_flight, self.records, stopping=bool(stopping))
            if late is None:
                return
            self.stalled = True
            message = self.stall_message(late)
            if stopping:
                raise StoppedEarlyError(f"{stopping}; {message}", outcomes)
            raise WorkerStalledError(f"{message}; the job ends, its last checkpoint is kept")

        self._begin(tasks)
        for depth in range(1, PREFETCH + 1):  # every worker one message before any gets two
            for worker in in_flight:
                dispatch(worker, depth)
        self.busy_workers = sum(1 for q in in_flight.values() if q)
        status = MPI.Status()
        while any(in_flight.values()):
            self.poller.probe(self.comm, status, check)
            worker, tag = status.Get_source(), status.Get_tag()
            buffer = np.empty(status.Get_count(MPI.DOUBLE))
            self.comm.Recv(buffer, source=worker, tag=tag)
            if tag == TAG_ERROR:
                text = self.comm.recv(source=worker, tag=TAG_ERROR_TEXT)
                raise WorkerFailedError(text)
            vector = in_flight[worker].popleft()
            if in_flight[worker]:
                self.watchdog.started(worker)  # its next vector, queued there, starts now
            host = self.hosts[worker - 1]
            for task, result in zip(vector, unpack_vector(buffer, len(vector)), strict=True):
                sums, level, batch, start, end, seconds = self._unpack(result)
                if (level, batch) != (task.level, task.batch):
                    raise RuntimeError(f"worker {worker} returned batch {(level, batch)} "
                                       f"for {task}")  # fmt: skip
                outcomes.append((task, sums, seconds))
                start, end = start - self.epoch, end - self.epoch
                self.records.append(BatchRecord(level, batch, task.n, worker, host, start, end,
                                                seconds))  # fmt: skip
                self._finished(task)
            dispatch(worker)
        elapsed = time.perf_counter() - started
        if stopping and queue:
            raise StoppedEarlyError(stopping, outcomes)
        self.idle_fraction = (self.poller.idle_s - idle_before) / elapsed if elapsed else 0.0
        return outcomes

    def resume_records(self, batches: dict[str, np.ndarray], elapsed_s: float) -> None:
        """As the base class; worker clock times also count on from ``elapsed_s``."""
        super().resume_records(batches, elapsed_s)
        self.epoch -= elapsed_s

    def stall_message(self, late: Overdue) -> str:
        """One line naming the worker, its host and the batch it stopped answering on."""
        task = late.task
        steps = task.n * self.watchdog.timesteps(task.level)
        host = self.hosts[late.worker - 1]
        more = f", the first of {late.tasks} in its message" if late.tasks > 1 else ""
        return (f"worker {late.worker} of {self.world_size} on {host} stopped answering: batch "
                f"{task.batch} of level {task.level} ({steps:.3g} timesteps{more}) has run "
                f"{late.waited_s:.0f} s, more than the {late.allowed_s:.0f} s allowed "
                f"(run.stall_floor_s + run.stall_factor x its expected time)")  # fmt: skip

    @staticmethod
    def _unpack(buffer: np.ndarray) -> tuple[np.ndarray, int, int, float, float, float]:
        sums = buffer[:-TRAILER]
        level, batch, start, end, seconds = buffer[-TRAILER:]
        return sums, int(level), int(batch), float(start), float(end), float(seconds)

    def status(self) -> str:
        """Progress-line suffix: workers busy of all and the master's idle share."""
        return f"  busy {self.busy_workers}/{self.n_workers}  idle {100 * self.idle_fraction:.0f}%"

    def close(self) -> None:
        """Tell every worker to stop (a task-shaped message with tag STOP)."""
        empty = np.zeros(3, dtype=np.int64)
        for worker in range(1, self.n_workers + 1):
            self.comm.Send(empty, dest=worker, tag=TAG_STOP)


def worker_loop(comm: Any, sampler: Sampler) -> None:
    """Receive a task vector, compute its results, send them back; until STOP. A result
    goes out with a non-blocking send, so the worker starts its queued vector at once."""
    from mpi4py import MPI

    status, sent = MPI.Status(), MPI.Status()
    poller = Poller()
    fault = os.environ.get(FAULT_VARIABLE, "")
    sending: tuple[Any, np.ndarray] | None = None  # the last Isend and its buffer

    def finish_sending() -> None:
        if sending is not None:
            poller.wait(sending[0], sent)

    while True:
        poller.probe(comm, status)
        message = np.empty(status.Get_count(MPI.INT64_T), dtype=np.int64)
        comm.Recv(message, source=0, tag=status.Get_tag())
        if status.Get_tag() == TAG_STOP:
            finish_sending()
            return
        tasks = [Task(*task) for task in message.reshape(-1, 3).tolist()]
        try:
            _inject_fault(fault, MPI.COMM_WORLD.Get_rank())
            results = compute_tasks(sampler, tasks)
        except MemoryError:  # one line: which batch did not fit
            first = tasks[0]
            text = f"{worker_header(comm)} {out_of_memory(first.level, first.batch, first.n)}"
        except Exception:
            text = worker_header(comm) + "\n" + traceback.format_exc().rstrip()
        else:
            finish_sending()
            buffer = pack_vector(results)
            sending = (comm.Isend(buffer, dest=0, tag=TAG_RESULT), buffer)
            continue
        finish_sending()
        comm.Send(np.zeros(RESULT_SIZE), dest=0, tag=TAG_ERROR)
        comm.send(text, dest=0, tag=TAG_ERROR_TEXT)


def worker_header(comm: Any) -> str:
    """``worker r of s on HOST:``, the first line of a worker's error message."""
    return f"worker {comm.Get_rank()} of {comm.Get_size()} on {socket.gethostname()}:"


def _inject_fault(spec: str, rank: int) -> None:
    kind, _, target = spec.partition(":")
    if not kind or str(rank) != target:
        return
    if kind == "kill":
        os.kill(os.getpid(), 9)
    if kind == "raise":
        raise RuntimeError("injected fault for testing")
    if kind == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
    if kind == "memory":
        raise MemoryError


def abort(comm: Any, code: int) -> None:
    """End every rank with ``code``, after a moment for the launcher to forward what this
    rank printed (mpiexec may drop a dying job's last lines)."""
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(ABORT_GRACE_S)
    comm.Abort(code)


def abort_on_exception(comm: Any, where: str, exc: BaseException) -> None:
    """Print the traceback headed by rank and host, then abort every rank (a second
    Ctrl-C on the master: its one line, exit 130)."""
    if isinstance(exc, KeyboardInterrupt):
        stopped_at_once()
        abort(comm, int(ExitCode.STOPPED_AT_ONCE))
        return
    header = f"rank {comm.Get_rank()} of {comm.Get_size()} on {socket.gethostname()} ({where}):"
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
    print(f"{header}\n{text}", file=sys.stderr, flush=True)
    abort(comm, 1)
