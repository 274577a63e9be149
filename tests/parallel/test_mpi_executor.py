"""In-process MPI executor tests; run with ``mpiexec -n 2|4 python -m pytest --with-mpi``."""

import numpy as np
import pytest

from mlmc_hpc.config import OptionSpec
from mlmc_hpc.models.european import MilsteinGBMSampler

OPTION = OptionSpec("call", 100.0, 100.0, 1.0, 0.05, 0.2)
EXTRA = [20_000, 3_000, 1_000, 500]


def distributed_sums(comm):
    """Rank 0: (per-level totals, records, executor); workers: None after STOP."""
    from mlmc_hpc.parallel.mpi import MPIExecutor, worker_loop

    sampler = MilsteinGBMSampler(OPTION, 2, seed=4)
    if comm.Get_rank() == 0:
        workers = [("h", "cpu", 0.25)] * (comm.Get_size() - 1)  # host, device, start-up s
        executor = MPIExecutor(comm, batch_timesteps=2048, timesteps=sampler.steps, workers=workers)
        first = executor.sample(EXTRA)
        second = executor.sample([5, 0, 7, 0])
        executor.close()
        return first, second, executor
    worker_loop(comm, sampler)
    return None


@pytest.mark.mpi(min_size=2)
def test_matches_serial_and_assigns_every_batch_once():
    from mpi4py import MPI

    from mlmc_hpc.parallel.executor import SerialExecutor

    comm = MPI.COMM_WORLD
    out = distributed_sums(comm)
    if comm.Get_rank() == 0:
        first, second, executor = out
        serial = SerialExecutor(MilsteinGBMSampler(OPTION, 2, seed=4), batch_timesteps=2048)
        expected = serial.sample(EXTRA) + serial.sample([5, 0, 7, 0])
        for ours, theirs in zip(first + second, expected, strict=True):
            assert np.array_equal(ours.totals, theirs.totals)
        keys = [(r.level, r.batch) for r in executor.records]
        assert len(keys) == len(set(keys)) == len(serial.records)
        assert {r.worker for r in executor.records} <= set(range(1, comm.Get_size()))
        assert executor.startup_s == 0.25  # the slowest worker's set-up
    comm.Barrier()


@pytest.mark.mpi(min_size=2)
def test_clean_shutdown_leaves_no_pending_messages():
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    distributed_sums(comm)
    comm.Barrier()
    assert not comm.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG)
    comm.Barrier()
