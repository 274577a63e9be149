"""Per-node sub-masters: one master feeds a node, not every rank, above a worker count.

A flat master answers every worker itself; past a few hundred fast workers its messages
are the limit (docs/scaling.md). With ``run.node_masters_above`` workers or more, the
ranks 1..N-1 are grouped by node (``Split_type(COMM_TYPE_SHARED)``); the lowest rank of
each node is its sub-master. The top master runs the usual
:class:`~mlmc_hpc.parallel.mpi.MPIExecutor` on a communicator of itself and the
sub-masters, so for it a node is one worker of many GPUs: it sends task vectors and
merges in (level, batch) order as before, and results stay bit-identical. A sub-master
runs the same executor on its node's communicator, hands the vector's tasks to its
workers (or computes them itself on a node without others) and returns the results in
the vector's order, with each batch's times. Errors and stalls inside a node travel up as
a worker's error, naming the rank and host where they happened.

Tests simulate nodes on one machine with :data:`NODES_VARIABLE` (ranks per fake node).
"""

from __future__ import annotations

import os
import socket
import traceback
from typing import Any

import numpy as np

from ..errors import WorkerFailedError, WorkerStalledError
from .executor import compute_tasks
from .mpi import (
    MAX_VECTOR,
    RESULT_SIZE,
    TAG_ERROR,
    TAG_ERROR_TEXT,
    TAG_RESULT,
    TAG_STOP,
    MPIExecutor,
    pack_vector,
    worker_header,
    worker_loop,
)
from .planning import Task
from .poller import Poller

NODES_VARIABLE = "MLMC_HPC_FAKE_NODE_SIZE"  # tests only: this many ranks per "node"


def node_color(comm: Any) -> int:
    """An integer naming this rank's node: the shared-memory group's lowest world rank, or
    (tests) (rank - 1) // NODES_VARIABLE."""
    fake = os.environ.get(NODES_VARIABLE, "")
    if fake:
        return (comm.Get_rank() - 1) // max(1, int(fake))
    from mpi4py import MPI

    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    lowest = node.allreduce(comm.Get_rank(), op=MPI.MIN)
    node.Free()
    return int(lowest)


def split(comm: Any) -> tuple[Any, Any] | None:
    """(top, node) communicators (collective over ``comm``): ``top`` holds rank 0 and the
    sub-masters (None elsewhere); ``node`` holds a node's ranks 1.. (None on rank 0).
    None on every rank when the workers share one node: a sub-master would only add a hop
    (the job stays flat)."""
    from mpi4py import MPI

    rank = comm.Get_rank()
    color = node_color(comm)  # collective: rank 0 takes part too (Split_type)
    color = color if rank else -1
    nodes = comm.allgather(color)
    if len(set(nodes[1:])) < 2:
        return None
    lowest = {c: min(r for r, k in enumerate(nodes) if k == c) for c in set(nodes[1:])}
    is_sub = rank > 0 and lowest[color] == rank
    top = comm.Split(0 if rank == 0 or is_sub else MPI.UNDEFINED, rank)
    node = comm.Split(MPI.UNDEFINED if rank == 0 else int(lowest[color]), rank)
    return (top if top != MPI.COMM_NULL else None), (node if node != MPI.COMM_NULL else None)


def sub_master_loop(top: Any, node: Any, sampler: Any, batch: tuple[int, Any],
                    stall: tuple[float, float]) -> None:  # fmt: skip
    """A node's sub-master: vectors from the top master, computed by its node's workers."""
    from mpi4py import MPI

    workers = node.Get_size() - 1
    inner = None
    if workers:
        infos = [(socket.gethostname(), "cpu", 0.0)] * workers
        inner = MPIExecutor(node, batch[0], batch[1], infos, stall)
    status, poller = MPI.Status(), Poller()
    while True:
        poller.probe(top, status)
        message = np.empty(status.Get_count(MPI.INT64_T), dtype=np.int64)
        top.Recv(message, source=0, tag=status.Get_tag())
        if status.Get_tag() == TAG_STOP:
            if inner is not None:
                inner.close()
            return
        tasks = [Task(int(a), int(b), int(c)) for a, b, c in message.reshape(-1, 3)]
        try:
            results = _compute(tasks, inner, sampler)
        except Exception as error:  # noqa: BLE001 - the top master ends the job
            where = f"in the node of sub-master {top.Get_rank()} on {socket.gethostname()}"
            if isinstance(error, WorkerFailedError | WorkerStalledError):
                text = f"{error} ({where}; ranks numbered within the node)"
            else:
                text = f"{worker_header(top)} ({where})\n" + traceback.format_exc().rstrip()
            top.Send(np.zeros(RESULT_SIZE), dest=0, tag=TAG_ERROR)
            top.send(text, dest=0, tag=TAG_ERROR_TEXT)
            continue
        top.Send(pack_vector(results), dest=0, tag=TAG_RESULT)


def _compute(tasks: list[Task], inner: MPIExecutor | None, sampler: Any) -> list[np.ndarray]:
    """Each task's result with its trailer (level, batch, start, end, seconds), in order."""
    if inner is None:
        return compute_tasks(sampler, tasks)
    before = len(inner.records)
    outcomes = inner.run_tasks(tasks)
    times = {(r.level, r.batch): r for r in inner.records[before:]}
    found = {(t.level, t.batch): sums for t, sums, _ in outcomes}
    results = []
    for t in tasks:
        r = times[(t.level, t.batch)]
        trailer = (t.level, t.batch, r.start_s + inner.epoch, r.end_s + inner.epoch, r.compute_s)
        results.append(np.concatenate([found[(t.level, t.batch)], trailer]))
    return results


def top_executor(comm: Any, workers: list[tuple[str, str, float]], batch: tuple[int, Any],
                 stall: tuple[float, float]) -> MPIExecutor:  # fmt: skip
    """Rank 0 of a hierarchical job: split, then the executor over the sub-masters (each
    described by its own host and a device line counting its node's ranks)."""
    parts = split(comm)
    if parts is None:  # one node: the flat master (the workers serve it flat too)
        return MPIExecutor(comm, batch[0], batch[1], workers, stall)
    top = parts[0]
    nodes = top.gather((0, 0), root=0)[1:]  # (world rank, ranks in the node) per sub-master
    infos = [(workers[r - 1][0], f"node of {size} from rank {r}", workers[r - 1][2])
             for r, size in nodes]  # fmt: skip
    executor = MPIExecutor(top, batch[0], batch[1], infos, stall)
    executor.world_size = comm.Get_size()
    # a node's message is long enough for vectors of several tasks to each of its workers
    executor.vector_cap = max(MAX_VECTOR, 32 * max(size for _, size in nodes))
    return executor


def serve(comm: Any, sampler: Any, batch: tuple[int, Any], stall: tuple[float, float]) -> None:
    """A rank of 1..N-1 in a hierarchical job: split, then sub-master or node worker."""
    parts = split(comm)
    if parts is None:
        worker_loop(comm, sampler)
        return
    top, node = parts
    if top is not None:
        top.gather((comm.Get_rank(), node.Get_size()), root=0)  # who and how big, for rank 0
        sub_master_loop(top, node, sampler, batch, stall)
    else:
        worker_loop(node, sampler)
