"""Batches handed to a sampler in groups (the GPU's launch-all-then-synchronise path).

A sampler with ``sample_many`` and ``max_group`` (the CuPy samplers) gets up to
``max_group`` batches per call from the serial executor and from MPI workers; the sums are
those of the batches one by one, the records keep one row per batch with the group's time
split in proportion to timesteps, and a stop request is honoured between groups.
"""

import numpy as np
import pytest

from mlmc_hpc.config import OptionSpec
from mlmc_hpc.core.sums import N_SUMS
from mlmc_hpc.models.european import MilsteinGBMSampler
from mlmc_hpc.parallel.executor import (
    SerialExecutor,
    StoppedEarlyError,
    compute_tasks,
    groups,
    timed_batches,
)
from mlmc_hpc.parallel.planning import Task

OPTION = OptionSpec("call", 100.0, 100.0, 1.0, 0.05, 0.2)


class Grouped(MilsteinGBMSampler):
    """The NumPy sampler with a GPU-style group call that records the groups it gets."""

    max_group = 3

    def __init__(self) -> None:
        super().__init__(OPTION, 2, 7)
        self.groups: list[int] = []

    def sample_many(self, tasks):
        self.groups.append(len(tasks))
        return [self.sample(*task) for task in tasks]


def run(sampler, extra, stop=None):
    executor = SerialExecutor(sampler, 1 << 12)
    if stop is not None:
        executor.watch(stop)
    return executor, executor.sample(extra)


def test_grouped_sums_equal_one_by_one_bit_for_bit():
    extra = [20000, 5000, 2000, 400]  # 5 + 3 + 2 + 1 batches of 4096 timesteps
    grouped, plain = Grouped(), MilsteinGBMSampler(OPTION, 2, 7)
    executor, sums = run(grouped, extra)
    _, expected = run(plain, extra)
    assert [s.totals.tolist() for s in sums] == [s.totals.tolist() for s in expected]
    tasks = len(executor.records)
    assert tasks > 3 and sum(grouped.groups) == tasks and max(grouped.groups) == 3
    assert grouped.groups == [3] * (tasks // 3) + ([tasks % 3] if tasks % 3 else [])


def test_group_time_is_split_by_timesteps_and_tiles_the_interval():
    sampler = Grouped()
    tasks = [Task(0, 0, 1000), Task(2, 0, 500), Task(3, 1, 250)]
    timed = timed_batches(sampler, tasks)
    work = np.array([1000 * 1, 500 * 4, 250 * 8], dtype=float)
    seconds = np.array([end - start for _, start, end in timed])
    # the edges are perf_counter readings: each rounded by about eps |t|
    rounding = 4 * np.finfo(float).eps * abs(timed[-1][2]) / seconds.min()
    np.testing.assert_allclose(seconds / seconds.sum(), work / work.sum(), rtol=rounding)
    for (_, _, end), (_, start, _) in zip(timed, timed[1:], strict=False):
        assert start == end  # consecutive: the batches ran one after another
    assert sampler.groups == [3]


def test_a_stop_is_honoured_between_groups():
    calls = []

    def stop():
        calls.append(1)
        return "signal" if len(calls) > 1 else None

    sampler = Grouped()
    executor = SerialExecutor(sampler, 1 << 12)
    executor.watch(stop)
    with pytest.raises(StoppedEarlyError):
        executor.sample([20000, 5000])
    assert sampler.groups == [3]  # the first group ran whole, the second never started
    assert len(executor.snapshot()["pending_sums"]) == 3


def test_worker_results_carry_a_trailer_per_batch():
    sampler = Grouped()
    tasks = [Task(1, b, 100 + b) for b in range(5)]
    results = compute_tasks(sampler, tasks)
    assert sampler.groups == [3, 2]
    for task, row in zip(tasks, results, strict=True):
        assert np.array_equal(row[:N_SUMS], sampler.sample(task.level, task.batch, task.n))
        level, batch, start, end, seconds = row[N_SUMS:]
        assert (level, batch) == (task.level, task.batch)
        assert end >= start > 1e9 and seconds == pytest.approx(end - start, abs=1e-6)


def test_samplers_without_a_group_call_get_one_batch_at_a_time():
    tasks = [Task(0, b, 10) for b in range(7)]
    assert [len(g) for g in groups(MilsteinGBMSampler(OPTION, 2, 1), tasks)] == [1] * 7
    assert [len(g) for g in groups(Grouped(), tasks)] == [3, 3, 1]
