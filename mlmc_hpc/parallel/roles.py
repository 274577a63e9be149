"""Rank roles: run a job in this process, or under ``mpiexec`` as master and workers.

With one rank (or without mpi4py) the job runs here on a serial executor. Under
``mpiexec -n N`` rank 0 validates (``prepare``) and becomes the master: it broadcasts the
config, collects each worker's host, device and start-up time, refuses a placement with
more GPU workers on a node than GPUs, and runs the job on an
:class:`~mlmc_hpc.parallel.mpi.MPIExecutor`; ranks 1..N-1 build their sampler and serve
batches until told to stop. Any failure ends every rank (see :mod:`mlmc_hpc.parallel.mpi`).
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from ..errors import (
    ConfigError,
    ExitCode,
    PlacementError,
    RunFailedError,
    WorkerFailedError,
    config_error_exit,
    failure_exit,
)
from ..models.registry import AnyConfig, batch_shape, make_sampler
from .executor import BatchExecutor, serial_executor
from .stopping import ignore_stop_signals

Prepare = Callable[[], tuple[Any, Any]]  # () -> (a resolved config, the job's context)
Job = Callable[[Any, Any, BatchExecutor], int]


def launch(prepare: Prepare, job: Job) -> int:
    """Validate with ``prepare()`` (a ConfigError prints one line and gives exit 2), then
    run ``job(config, context, executor)`` here or, under mpiexec, on rank 0 with ranks
    1..N-1 as workers (a RunFailedError prints one line and gives exit 1). Returns the exit
    code of this rank."""
    from .mpi import mpi_library_version, world

    comm = world()
    if comm is not None:
        return run_distributed(comm, prepare, job)
    refused = launcher_refusal()
    if refused is not None:
        return refused
    try:
        config, context = prepare()
    except ConfigError as error:
        return config_error_exit(error)
    try:
        return job(config, context, serial_executor(config, mpi_library_version()))
    except ConfigError as error:  # found before sampling (the work budget)
        return config_error_exit(error)
    except RunFailedError as failure:
        return failure_exit(failure)


def launcher_refusal() -> int | None:
    """Exit 2 (the first copy saying why in one line) when several copies were launched
    that each see an MPI world of 1 (:mod:`mlmc_hpc.parallel.launcher`), else None."""
    from .launcher import launched_copies, mismatch
    from .mpi import mpi_library_version

    reason = mismatch(mpi_library_version())
    if reason is None:
        return None
    if launched_copies()[1] == 0:
        config_error_exit(PlacementError(reason), "launch error")
    return ExitCode.USAGE


def run_distributed(comm: Any, prepare: Prepare, job: Job) -> int:
    """This rank's role; any exception aborts every rank."""
    from .mpi import abort_on_exception

    role = "master" if comm.Get_rank() == 0 else "worker"
    try:
        return master(comm, prepare, job) if role == "master" else worker(comm)
    except BaseException as exc:  # noqa: BLE001 - any failure must end every rank
        abort_on_exception(comm, role, exc)
        return ExitCode.FAILURE


def worker_device(backend: str, comm: Any) -> tuple[str, int]:
    """GPU binding: device local_rank % n_devices, chosen before any other CUDA call; the
    device and how many GPUs this host has (0 for the CPU backend)."""
    if backend != "cupy":
        return "cpu", 0
    import cupy

    from .mpi import local_rank

    count = cupy.cuda.runtime.getDeviceCount()
    device = local_rank(comm) % count
    cupy.cuda.Device(device).use()
    return f"cuda:{device}", count


def worker(comm: Any) -> int:
    """Receive the config, build the sampler, serve batches until the master says stop."""
    from .mpi import worker_loop

    ignore_stop_signals()
    config = comm.bcast(None, root=0)
    if config is None:
        return ExitCode.USAGE  # rank 0 printed the reason
    started = time.perf_counter()
    device, gpus = worker_device(config.run.backend, comm)
    sampler = make_sampler(config)
    device = getattr(sampler, "device", device)  # cuda:<id> [GPU; CUDA and NVRTC versions]
    comm.gather((socket.gethostname(), device, time.perf_counter() - started, gpus), root=0)
    signal = comm.bcast(None, root=0)
    if signal not in ("go", "go by node"):
        return ExitCode.USAGE
    if signal == "go by node":  # per-node sub-masters (mlmc_hpc.parallel.hierarchy)
        from .hierarchy import serve

        serve(comm, sampler, batch_shape(config), stall_of(config))
        return ExitCode.OK
    worker_loop(comm, sampler)
    return ExitCode.OK


def stall_of(config: AnyConfig) -> tuple[float, float]:
    """(run.stall_factor, run.stall_floor_s)."""
    return config.run.stall_factor, config.run.stall_floor_s


def by_node(config: AnyConfig, workers: int) -> bool:
    """Per-node sub-masters from run.node_masters_above workers on (never for 0)."""
    above = getattr(config.run, "node_masters_above", 0)
    return bool(above) and workers >= above


def check_placement(config: AnyConfig, reports: list[tuple[str, str, float, int]]) -> None:
    """Refuse more GPU workers on any host than that host has GPUs, as its workers report
    them (one more under per-node sub-masters: a node's sub-master feeds the others and
    samples nothing). ``reports``: (host, device, start-up seconds, GPUs) per worker."""
    if config.run.backend != "cupy":
        return
    per_host: dict[str, list[int]] = {}
    for host, _, _, gpus in reports:
        per_host.setdefault(host, []).append(gpus)
    spare = 1 if by_node(config, len(reports)) and len(per_host) > 1 else 0
    for host, counts in per_host.items():
        allowed = max(counts) + spare
        if len(counts) > allowed:
            raise PlacementError(
                f"too many ranks: {len(counts)} GPU workers on {host} but {max(counts)} "
                f"GPUs; start at most {allowed + 1} ranks per node (one master) or use "
                f"run.backend: numpy"
            )


def master(comm: Any, prepare: Prepare, job: Job) -> int:
    """Rank 0: validate, set the workers up, run the job on the MPI executor."""
    from .mpi import MPIExecutor, abort

    try:
        config, context = prepare()
    except ConfigError as error:
        comm.bcast(None, root=0)
        return config_error_exit(error)
    comm.bcast(config, root=0)
    if config.run.backend == "cupy":  # the workers' local_rank is collective: take part
        from .mpi import local_rank

        local_rank(comm)
    reports = comm.gather(None, root=0)[1:]
    workers = [(host, device, startup) for host, device, startup, _ in reports]
    try:
        check_placement(config, reports)
    except ConfigError as error:
        comm.bcast("stop", root=0)
        return config_error_exit(error)
    hierarchical = by_node(config, len(workers))
    comm.bcast("go by node" if hierarchical else "go", root=0)
    if hierarchical:
        from .hierarchy import top_executor

        executor = top_executor(comm, workers, batch_shape(config), stall_of(config))
    else:
        executor = MPIExecutor(comm, *batch_shape(config), workers, stall_of(config))
    try:
        code = job(config, context, executor)
    except WorkerFailedError as failure:
        print(f"{failure}\nerror: a worker failed; stopping all {comm.Get_size()} ranks",
              file=sys.stderr, flush=True)  # fmt: skip
        abort(comm, int(ExitCode.FAILURE))
        return ExitCode.FAILURE
    except RunFailedError as failure:
        failure_exit(failure)
        abort(comm, int(ExitCode.FAILURE))
        return ExitCode.FAILURE
    except ConfigError as error:  # found before sampling (the work budget)
        executor.close()
        return config_error_exit(error)
    if executor.stalled:  # its checkpoint is saved; a stopped worker cannot finalize
        abort(comm, int(code))
    executor.close()
    return code
