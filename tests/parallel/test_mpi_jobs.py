"""Whole MPI jobs under mpiexec (subprocesses with timeouts, so a hang fails the test)."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.helpers import MPIEXEC, ROOT, mpirun, needs_mpi, wait_for_checkpoint

pytestmark = needs_mpi


def contents(path):
    """Every attribute and dataset except timings, hosts and rank-count facts."""
    skip_attrs = {"wall_time_s", "created", "n_workers", "world_size", "worker_devices",
                  "startup_s", "sampling_s"}  # fmt: skip
    with h5py.File(path) as h5:
        attrs = {k: v for k, v in h5.attrs.items() if k not in skip_attrs}
        data = {
            f"{g}/{k}": h5[g][k][()]
            for g in ("levels", "iterations")
            for k in h5[g]
            if k not in ("compute_time_s", "seconds")
        }
    return attrs, data


WORKLOADS = {
    "european": ((), (1, 2, 3, 4)),  # level 0 exact (the default)
    "european sample": (("--set", "mlmc.level0=sample"), (1, 3)),
    "asian control": (("--set", "option.type=asian", "--set", "mlmc.level0=control"), (1, 3)),
    "mlqmc barrier": (("--set", "mlmc.method=mlqmc", "--set", "option.type=barrier",
                       "--set", "option.barrier=380"), (1, 3)),  # fmt: skip
    "asian": (("--set", "option.type=asian"), (1, 3)),
    "barrier": (("--set", "option.type=barrier", "--set", "option.barrier=380"), (1, 3)),
    "plain mc": (("--set", "mlmc.method=mc", "--set", "option.type=lookback",
                  "--set", "mlmc.mc_steps=32", "--eps", "0.05"), (1, 3)),
}  # fmt: skip


@pytest.mark.parametrize("workload", WORKLOADS)
def test_bit_identical_on_any_rank_count(tmp_path, workload):
    extra, ranks = WORKLOADS[workload]
    args = ("--config", str(ROOT / "configs/tsla.yaml"), "--eps", "0.02", "--quiet",
            "--set", "run.batch_timesteps=200000", *extra)  # fmt: skip
    reference = None
    for n in ranks:
        (tmp_path / f"n{n}").mkdir()
        out = tmp_path / f"n{n}" / "r.h5"  # same path text: the stored config must match
        done = mpirun(n, *args, "--output", "r.h5", cwd=out.parent)
        assert done.returncode == 0, done.stderr
        attrs, data = contents(out)
        with h5py.File(out) as h5:
            assert h5.attrs["world_size"] == n and h5.attrs["n_workers"] == max(1, n - 1)
        if reference is None:
            reference = attrs, data
            continue
        assert attrs.keys() == reference[0].keys()
        for key, value in attrs.items():
            assert value == reference[0][key] or np.isnan(value) and np.isnan(reference[0][key]), (
                key
            )
        for key, value in data.items():
            assert np.array_equal(value, reference[1][key], equal_nan=value.dtype.kind == "f"), key


def test_batches_table_covers_every_batch_once(tmp_path):
    out = tmp_path / "b.h5"
    done = mpirun(3, "--eps", "0.02", "--set", "run.batch_timesteps=100000", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert re.search(r"  busy [12]/2  idle \d+%$", done.stderr.splitlines()[0])
    assert all(len(line) <= 100 for line in done.stderr.splitlines())
    with h5py.File(out) as h5:
        level, batch = h5["batches/level"][()], h5["batches/batch"][()]
        pairs = set(zip(level.tolist(), batch.tolist(), strict=True))
        assert len(pairs) == len(level)  # no batch twice
        for l in range(int(h5.attrs["L"]) + 1):  # batch indices 0..k-1 on every level
            assert sorted(batch[level == l].tolist()) == list(range(int((level == l).sum())))
            n = h5["batches/n_samples"][()][level == l].sum()
            assert n == h5["levels/n_samples"][l]
            assert h5["levels/compute_time_s"][l] == pytest.approx(
                h5["batches/compute_s"][()][level == l].sum()
            )
        assert set(h5["batches/worker"][()].tolist()) <= {1, 2}
        assert np.all(h5["batches/end_s"][()] >= h5["batches/start_s"][()])
        assert h5.attrs["mpi_version"].startswith("MPICH") or h5.attrs["mpi_version"]
        assert h5.attrs["worker_devices"] == "cpu,cpu"


def test_worker_exception_ends_the_job_with_its_traceback(tmp_path):
    out = tmp_path / "f.h5"
    done = mpirun(3, "--eps", "0.02", "--set", "mlmc.level0=sample", "--output", str(out),
                  env={"MLMC_HPC_FAULT_INJECTION": "raise:2"}, timeout=60)  # fmt: skip
    assert done.returncode != 0
    assert "worker 2 of 3 on " in done.stderr
    assert "RuntimeError: injected fault for testing" in done.stderr
    assert not out.exists()


def test_killed_worker_ends_the_job_without_hanging(tmp_path):
    out = tmp_path / "k.h5"
    done = mpirun(3, "--eps", "0.02", "--set", "mlmc.level0=sample", "--output", str(out),
                  env={"MLMC_HPC_FAULT_INJECTION": "kill:1"}, timeout=60)  # fmt: skip
    assert done.returncode != 0
    assert not out.exists()


def test_bad_config_under_mpi_is_one_line_and_exit_2(tmp_path):
    out = tmp_path / "x.h5"
    done = mpirun(3, "--eps", "-1", "--output", str(out), timeout=60)
    assert done.returncode == 2
    assert done.stderr == "config error: mlmc.eps must be > 0, got -1\n"
    assert not out.exists()


# ----------------------------------------------------------------------------- stop and resume

LONG = ("--config", str(ROOT / "tests/data/aapl.yaml"), "--eps", "0.004", "--quiet")


def rank_pids(marker: str) -> dict[int, int]:
    """PMI rank -> pid of the python processes whose command line contains ``marker``."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if marker.encode() in cmdline and b"mlmc_hpc" in cmdline:
            for item in environ:
                if item.startswith(b"PMI_RANK="):
                    found[int(item[9:])] = int(entry.name)
    return found


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("long") / "r.h5"
    done = mpirun(3, *LONG, "--output", str(out), timeout=180)
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("target", ["rank 0", "all ranks"])
def test_sigterm_then_resume_is_bit_identical(tmp_path, long_reference, target):
    out = tmp_path / "r.h5"
    process = subprocess.Popen(
        [MPIEXEC, "-n", "3", sys.executable, "-m", "mlmc_hpc", *LONG, "--output", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_checkpoint(out, process)
    if target == "rank 0":
        os.kill(rank_pids(str(out))[0], signal.SIGTERM)
    else:
        process.send_signal(signal.SIGTERM)  # mpiexec forwards it to every rank
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 75, stderr
    assert "interrupted (received SIGTERM)" in stderr
    with h5py.File(out) as h5:
        assert h5.attrs["interrupted"] and not h5.attrs["finished"]
    resumed = mpirun(3, *LONG, "--output", str(out), "--resume", timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    with h5py.File(long_reference) as a, h5py.File(out) as b:
        assert a.attrs["price"] == b.attrs["price"]
        assert np.array_equal(a["levels/sums"][()], b["levels/sums"][()])
        assert b.attrs["resumed"] == 1 and "checkpoint" not in b


@pytest.mark.gpu
@pytest.mark.skipif(
    not __import__("mlmc_hpc.config.resolve").config.resolve.gpu_count(),
    reason="needs CuPy and a CUDA GPU",
)
def test_cupy_bit_identical_serial_and_mpi(tmp_path):
    args = ("--config", str(ROOT / "configs/spy.yaml"), "--backend", "cupy", "--quiet",
            "--output", "r.h5")  # fmt: skip
    results = []
    for n in (1, 2):
        (tmp_path / f"n{n}").mkdir()
        done = mpirun(n, *args, cwd=tmp_path / f"n{n}", timeout=300)
        assert done.returncode == 0, done.stderr
        results.append(contents(tmp_path / f"n{n}" / "r.h5"))
    (attrs1, data1), (attrs2, data2) = results
    assert attrs1["price"] == attrs2["price"] and attrs1["backend"] == "cupy"
    for key, value in data1.items():
        assert np.array_equal(value, data2[key], equal_nan=value.dtype.kind == "f"), key


STALL = ("--set", "run.stall_floor_s=2", "--set", "run.stall_factor=2")


def test_a_worker_that_stops_answering_ends_the_job_naming_it(tmp_path):
    """Worker 2 is stopped (SIGSTOP) on its first batch: within floor + factor x expected
    the master ends the job with one line naming the rank, host and batch (exit 1)."""
    out = tmp_path / "s.h5"
    started = time.monotonic()
    done = mpirun(3, "--eps", "0.02", "--set", "mlmc.level0=sample", *STALL, "--quiet",
                  "--output", str(out), env={"MLMC_HPC_FAULT_INJECTION": "stop:2"},
                  timeout=60)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert time.monotonic() - started < 30
    line = next(x for x in done.stderr.splitlines() if x.startswith("error: "))
    assert line.startswith("error: worker 2 of 3 on ") and " stopped answering: batch " in line
    assert line.endswith("the job ends, its last checkpoint is kept")


def stopped(pid: int | None) -> bool:
    """The process is in state T (stopped by a signal)."""
    try:
        return (
            pid is not None
            and Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "T"
        )
    except OSError:
        return False


def test_a_stop_request_while_a_worker_is_stuck_saves_and_resumes(tmp_path, long_reference):
    """SIGTERM to the master while worker 2 is stopped: the stop waits for the batches in
    flight only until the stuck one is overdue, saves the checkpoint (exit 75), and the
    resumed run (no fault) equals an uninterrupted one."""
    out = tmp_path / "r.h5"
    stall = ("--set", "run.stall_floor_s=5", "--set", "run.stall_factor=2")
    process = subprocess.Popen(
        [MPIEXEC, "-n", "3", sys.executable, "-m", "mlmc_hpc", *LONG, *stall, "--output",
         str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "MLMC_HPC_FAULT_INJECTION": "stop:2"},
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not stopped(rank_pids(str(out)).get(2)) and time.monotonic() < deadline:
        time.sleep(0.1)  # until worker 2 has its first batch and is stopped on it
    os.kill(rank_pids(str(out))[0], signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 75, stderr
    assert "interrupted (received SIGTERM; worker 2 of 3 on " in stderr
    resumed = mpirun(3, *LONG, "--output", str(out), "--resume", timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    with h5py.File(long_reference) as a, h5py.File(out) as b:
        assert a.attrs["price"] == b.attrs["price"]
        assert np.array_equal(a["levels/sums"][()], b["levels/sums"][()])


def test_a_worker_out_of_memory_is_one_line_naming_the_batch(tmp_path):
    out = tmp_path / "m.h5"
    done = mpirun(3, "--eps", "0.02", "--set", "mlmc.level0=sample", "--quiet", "--output",
                  str(out), env={"MLMC_HPC_FAULT_INJECTION": "memory:1"}, timeout=60)  # fmt: skip
    assert done.returncode != 0 and not out.exists()
    line = next(x for x in done.stderr.splitlines() if x.startswith("worker 1 of 3 on "))
    assert ": out of memory computing batch " in line and "lower run.batch_timesteps" in line
    assert "Traceback" not in done.stderr
