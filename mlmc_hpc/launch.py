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
    from .distributed import mpi_library_version, world

    comm = world()
    if comm is not None:
        return run_distributed(comm, args)
    try:
        config, resume = prepare(args)
    except ConfigError as error:
        return print_config_error(error)
    progress, warn = reporters(config, args.quiet)
    executor = serial_executor(config)
    executor.stop_reason = stop_request(config).reason
    result = price(
        config, executor, progress, warn, mpi_version=mpi_library_version(),
        resume=resume, checkpoint_path=config.run.output,
    )  # fmt: skip
    return save_and_report(result, config, args)


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


def run_distributed(comm, args: argparse.Namespace) -> int:
    from .distributed import abort_on_exception

    role = "master" if comm.Get_rank() == 0 else "worker"
    try:
        return master(comm, args) if role == "master" else worker(comm)
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


def master(comm, args: argparse.Namespace) -> int:
    from .distributed import MPIExecutor, WorkerFailedError, mpi_library_version

    try:
        config, resume = prepare(args)
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
    executor.stop_reason = stop_request(config).reason

    def status() -> str:
        return (
            f"  workers busy {executor.busy_workers}/{executor.n_workers}"
            f"  master idle {100 * executor.idle_fraction:.0f}%"
        )

    progress, warn = reporters(config, args.quiet, status)
    try:
        result = price(
            config, executor, progress=progress, warn=warn,
            world_size=comm.Get_size(), mpi_version=mpi_library_version(),
            resume=resume, checkpoint_path=config.run.output,
        )  # fmt: skip
    except WorkerFailedError as failure:
        print(f"{failure}\nerror: a worker failed; stopping all {comm.Get_size()} ranks",
              file=sys.stderr, flush=True)  # fmt: skip
        comm.Abort(EXIT_FAILURE)
        return EXIT_FAILURE
    executor.close()
    return save_and_report(result, config, args)
