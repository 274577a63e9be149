"""The master's deadline for a worker's oldest batch (mlmc_hpc/parallel/watchdog.py)."""

from __future__ import annotations

import numpy as np
import pytest

from mlmc_hpc.parallel.planning import BatchRecord, Task
from mlmc_hpc.parallel.watchdog import NOMINAL_RATE, Watchdog


def cost(level: int) -> int:
    return 2**level


def test_deadline_is_floor_plus_factor_times_the_expected_time():
    dog = Watchdog(factor=20.0, floor_s=120.0, timesteps=cost)
    task = Task(level=3, batch=0, n=1000)  # 8000 timesteps
    assert dog.allowed_s(task, []) == pytest.approx(120.0 + 20.0 * 8000 / NOMINAL_RATE)
    measured = [BatchRecord(3, 0, 1000, 1, "h", 0.0, 2.0, 2.0)]  # 4000 timesteps/s
    assert dog.allowed_s(task, measured) == pytest.approx(120.0 + 20.0 * 2.0)


def test_only_a_worker_past_its_deadline_is_overdue():
    dog = Watchdog(factor=2.0, floor_s=1.0, timesteps=cost)
    in_flight = {1: [Task(0, 0, 10)], 2: [Task(0, 1, 10)], 3: []}
    dog.started(1, now=0.0)
    dog.started(2, now=5.0)
    assert dog.overdue(in_flight, [], now=0.9) is None
    late = dog.overdue(in_flight, [], now=5.5)
    assert late is not None and late.worker == 1 and late.task == Task(0, 0, 10)
    assert late.waited_s == pytest.approx(5.5) and late.allowed_s == pytest.approx(1.0, rel=1e-6)
    assert dog.overdue(in_flight, [], now=5.6) is None  # looked again too soon
    dog.started(1, now=5.6)  # worker 1 answered and started its next batch
    assert dog.overdue(in_flight, [], now=5.9) is None  # 0.3 s and 0.9 s: both in time
    assert dog.overdue(in_flight, [], now=6.2).worker == 2  # 1.2 s > 1.0 s


def test_a_message_of_several_batches_is_allowed_their_total_time():
    from mlmc_hpc.parallel.mpi import pack_vector, unpack_vector, vector_size

    dog = Watchdog(2.0, 1.0, lambda level: 2**level)
    vector = [Task(3, b, 1000) for b in range(4)]  # 4 x 8000 timesteps
    assert dog.allowed_s(vector, []) == pytest.approx(1.0 + 2.0 * 32000 / NOMINAL_RATE)
    dog.started(1, now=0.0)
    late = dog.overdue({1: [vector]}, [], now=10.0)
    assert (late.worker, late.task, late.tasks) == (1, vector[0], 4)
    results = [np.arange(13.0), np.arange(20.0) + 1, np.zeros(13)]
    back = unpack_vector(pack_vector(results), 3)
    assert all(np.array_equal(a, b) for a, b in zip(results, back, strict=True))
    with pytest.raises(RuntimeError, match="returned 3 results for a message of 2 tasks"):
        unpack_vector(pack_vector(results), 2)
    assert vector_size(100_000, 2) == 64 and vector_size(10, 2) == 1 and vector_size(0, 8) == 1
