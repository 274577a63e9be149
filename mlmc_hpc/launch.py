"""The ``run`` command: validate everything first, then price, save and report.

With one rank (or without mpi4py) everything runs in this process; under
``mpiexec -n N`` rank 0 validates the config and becomes the master, and ranks
1..N-1 become workers (see :mod:`mlmc_hpc.distributed`).
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from collections.abc import Callable

from .app import price, resolved, serial_executor
from .backend import gpu_count, make_sampler, resolve_backend
from .checkpoint import Resume, read_checkpoint, refuse_unfinished
from .cli import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    check_output_path,
    config_from_args,
    emit_summary,
    print_config_error,
)
from .config import Config, ConfigError
from .stopping import StopRequest, ignore_stop_signals, job_end_time
from .summary import progress_line


def prepare(args: argparse.Namespace) -> tuple[Config, Resume | None]:
    """Validated config (backend and batch size resolved) and, with --resume, the saved
    state to continue from; raises ConfigError."""
    config = config_from_args(args)
    config = resolved(config, resolve_backend(config))
    check_output_path(config.run.output)
    if args.resume:
        return config, read_checkpoint(config.run.output, config)
    refuse_unfinished(config.run.output)
    return config, None


def stop_request(config: Config) -> StopRequest:
    """Signal handlers and the Slurm end-time watch for the process that runs the loop."""
    stop = StopRequest(job_end_time(), config.run.end_margin_s)
    stop.install()
    return stop


def reporters(config: Config, quiet: bool, status: Callable[[], str] | None = None):
    count = 0

    def progress(record) -> None:
        nonlocal count
        count += 1
        if not quiet:
            line = progress_line(count, record, config.mlmc)
            print(line + (status() if status else ""), file=sys.stderr, flush=True)

    def warn(message: str) -> None:
        print(f"warning: {message}", file=sys.stderr, flush=True)

    return progress, warn


def run_command(args: argparse.Namespace) -> int:
    return with_executor(args, prepare, price_job)


def price_job(
    args: argparse.Namespace, config: Config, resume, executor, world_size: int, mpi_version: str
) -> int:
    """The ``run`` command's work: price (with checkpoints), save, report."""
    executor.stop_reason = stop_request(config).reason
    progress, warn = reporters(config, args.quiet, executor.status)
    result = price(
        config, executor, progress, warn, world_size=world_size, mpi_version=mpi_version,
        resume=resume, checkpoint_path=config.run.output,
    )  # fmt: skip
    return save_and_report(result, config, args)


def with_executor(
    args: argparse.Namespace,
    prepare_job: Callable[[argparse.Namespace], tuple[Config, object]],
    job: Callable[..., int],
) -> int:
    """Validate with ``prepare_job`` (ConfigError -> exit 2), then run
    ``job(args, config, context, executor, world_size, mpi_version)`` in this process
    or, under mpiexec, on rank 0 with ranks 1..N-1 as workers."""
    from .distributed import mpi_library_version, world

    comm = world()
    if comm is not None:
        return run_distributed(comm, args, prepare_job, job)
    try:
        config, context = prepare_job(args)
    except ConfigError as error:
        return print_config_error(error)
    return job(args, config, context, serial_executor(config), 1, mpi_library_version())


def save_and_report(result, config: Config, args: argparse.Namespace) -> int:
    """Write the HDF5 file atomically, then print the summary (rank 0 or a lone process)."""
    result.save(config.run.output)
    if result.interrupted:
        iterations = len(result.iterations["L"])
        kept = len(result.checkpoint["pending_seconds"])
        print(
            f"interrupted ({result.stop_reason}) after {iterations} iterations and {kept} "
            f"batches of the next; checkpoint saved to {config.run.output}; "
            f"continue with the same command plus --resume",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_INTERRUPTED
    emit_summary(result, config.run.output, args.json)
    sys.stdout.flush()
    return EXIT_OK


def run_distributed(comm, args: argparse.Namespace, prepare_job, job) -> int:
    from .distributed import abort_on_exception

    role = "master" if comm.Get_rank() == 0 else "worker"
    try:
        return master(comm, args, prepare_job, job) if role == "master" else worker(comm)
    except BaseException as exc:  # noqa: BLE001 - any failure must end every rank
        abort_on_exception(comm, role, exc)
        return EXIT_FAILURE


def worker_device(backend: str, comm) -> str:
    """GPU binding: device local_rank % n_devices, chosen before any other CUDA call."""
    if backend != "cupy":
        return "cpu"
    import cupy

    from .distributed import local_rank

    device = local_rank(comm) % cupy.cuda.runtime.getDeviceCount()
    cupy.cuda.Device(device).use()
    return f"cuda:{device}"


def worker(comm) -> int:
    from .distributed import worker_loop

    ignore_stop_signals()
    config = comm.bcast(None, root=0)
    if config is None:
        return EXIT_USAGE  # rank 0 printed the reason
    started = time.perf_counter()
    device = worker_device(config.run.backend, comm)
    sampler = make_sampler(config.run.backend, config.option, config.mlmc, config.run.seed)
    comm.gather((socket.gethostname(), device, time.perf_counter() - started), root=0)
    if comm.bcast(None, root=0) != "go":
        return EXIT_USAGE
    worker_loop(comm, sampler)
    return EXIT_OK


def check_placement(config: Config, workers: list[tuple[str, str, float]]) -> None:
    """Refuse more GPU workers on a host than that host has GPUs."""
    if config.run.backend != "cupy":
        return
    per_host: dict[str, int] = {}
    for host, _, _ in workers:
        per_host[host] = per_host.get(host, 0) + 1
    here, gpus = socket.gethostname(), gpu_count()
    if per_host.get(here, 0) > gpus:
        raise ConfigError(
            f"too many ranks: {per_host[here]} GPU workers on {here} but {gpus} GPUs; "
            f"start at most {gpus + 1} ranks per node (one master) or use run.backend: numpy"
        )


def master(comm, args: argparse.Namespace, prepare_job, job) -> int:
    from .distributed import MPIExecutor, WorkerFailedError, mpi_library_version

    try:
        config, context = prepare_job(args)
    except ConfigError as error:
        comm.bcast(None, root=0)
        return print_config_error(error)
    comm.bcast(config, root=0)
    workers = comm.gather(None, root=0)[1:]
    try:
        check_placement(config, workers)
    except ConfigError as error:
        comm.bcast("stop", root=0)
        return print_config_error(error)
    comm.bcast("go", root=0)
    executor = MPIExecutor(comm, config.run.batch_timesteps, config.mlmc.timesteps, workers)
    try:
        code = job(args, config, context, executor, comm.Get_size(), mpi_library_version())
    except WorkerFailedError as failure:
        print(f"{failure}\nerror: a worker failed; stopping all {comm.Get_size()} ranks",
              file=sys.stderr, flush=True)  # fmt: skip
        comm.Abort(EXIT_FAILURE)
        return EXIT_FAILURE
    executor.close()
    return code
