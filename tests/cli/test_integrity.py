"""One run per output (a lock file), and checkpoints verified before a resume: a damaged or
edited checkpoint is refused with one line and exit 2, never resumed to another price
(issue 16, part 2)."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys

import h5py
import numpy as np
import pytest

from mlmc_hpc.io.integrity import checksum
from mlmc_hpc.io.run_result import RunResult
from mlmc_hpc.parallel.executor import serial_executor
from mlmc_hpc.pricing.run import run_pricing
from tests.cli.test_checkpoint import small_config, stop_after
from tests.helpers import ROOT, run_cli, wait_for_checkpoint

RESUME = ("--config", "configs/tsla.yaml", "--eps", "0.02", "--backend", "numpy",
          "--set", "run.batch_timesteps=100000", "--set", "mlmc.level0=sample", "--quiet")  # fmt: skip
QUICK = ("--eps", "0.2", "--quiet", "--backend", "numpy")


@pytest.fixture
def checkpoint(tmp_path):
    out = tmp_path / "r.h5"
    config = small_config(out)
    executor = serial_executor(config)
    stop_after(executor, 5)
    run_pricing(config, executor, checkpoint_path=str(out)).save(out)
    return out


def resign(path):
    """Recompute the checksum after an edit, as a tool that knows the format would."""
    result = RunResult.load(path)
    groups = {"iterations": result.iterations, "batches": result.batches,
              "checkpoint": result.checkpoint}  # fmt: skip
    signature = checksum(result.config, result.wall_time_s, result.resumed, groups)
    with h5py.File(path, "r+") as h5:
        del h5["checkpoint/checksum"]
        h5["checkpoint/checksum"] = signature


def flip_bit(path):
    with h5py.File(path, "r+") as h5:
        sums = h5["checkpoint/level_sums_hi"][()]
        sums.view(np.uint64)[1, 1] ^= np.uint64(1) << np.uint64(40)
        h5["checkpoint/level_sums_hi"][...] = sums


def negative_request(path):
    with h5py.File(path, "r+") as h5:
        h5["checkpoint/extra"][-1] = -5
    resign(path)


def nan_pending(path):
    with h5py.File(path, "r+") as h5:
        pending = h5["checkpoint/pending_sums"][()]
        pending = np.vstack([pending, np.full((1, 8), np.nan)])
        tasks = np.vstack([h5["checkpoint/pending_tasks"][()], [[0, 99, 10]]])
        seconds = np.append(h5["checkpoint/pending_seconds"][()], 0.1)
        for key, value in (("pending_sums", pending), ("pending_tasks", tasks),
                           ("pending_seconds", seconds)):  # fmt: skip
            del h5[f"checkpoint/{key}"]
            h5[f"checkpoint/{key}"] = value
    resign(path)


def missing_rates(path):
    with h5py.File(path, "r+") as h5:
        del h5["checkpoint/rates"]
    resign(path)


def edited_known_mean(path):
    with h5py.File(path, "r+") as h5:
        h5["checkpoint/level_exact"][0] = 1.0


def lost_checksum(path):
    with h5py.File(path, "r+") as h5:
        del h5["checkpoint/checksum"]


def edited_iterations(path):
    with h5py.File(path, "r+") as h5:
        h5["iterations/L"][0] += 1


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (flip_bit, "checksum mismatch"),
        (edited_iterations, "checksum mismatch"),
        (edited_known_mean, "checksum mismatch"),
        (lost_checksum, "its checksum is missing"),
        (negative_request, "extra holds negative counts"),
        (nan_pending, "pending_sums holds NaN or inf"),
        (missing_rates, "rates is missing"),
    ],
)
def test_a_damaged_checkpoint_is_refused_and_left_alone(checkpoint, damage, problem):
    damage(checkpoint)
    before = checkpoint.read_bytes()
    done = run_cli(*RESUME, "--output", str(checkpoint), "--resume")
    assert done.returncode == 2
    assert done.stderr == (
        f"config error: --resume: {checkpoint} holds a damaged checkpoint ({problem}); it "
        f"cannot be resumed: start a new run with another --output\n"
    )
    assert checkpoint.read_bytes() == before


def test_an_intact_checkpoint_resumes(checkpoint):
    done = run_cli(*RESUME, "--output", str(checkpoint), "--resume")
    assert done.returncode == 0, done.stderr
    assert not checkpoint.with_name("r.h5.lock").exists()


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize(
    ("holder", "held"),
    [
        (lambda: f"{socket.gethostname()} {os.getpid()}", True),  # a live run on this host
        (lambda: "node-17.cluster 4242", True),  # a live run on another host
        (lambda: f"{socket.gethostname()} {dead_pid()}", False),  # left by a killed run
        (lambda: "garbage", False),  # not a lock this program wrote, and nobody holds it
    ],
)
def test_a_held_lock_refuses_a_second_run_a_left_one_is_taken(tmp_path, holder, held):
    out = tmp_path / "r.h5"
    lock = tmp_path / "r.h5.lock"
    text = holder()
    lock.write_text(text + "\n")
    with open(lock) as stream:
        if held:  # what the run holding it does: an exclusive flock for its whole life
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
        done = run_cli(*QUICK, "--output", str(out))
    if held:
        host, pid = text.split()
        assert done.returncode == 2 and not out.exists()
        assert done.stderr == (
            f"config error: run.output {out} is being written by another run (PID {pid} on "
            f"{host}; lock {lock}); wait for it or write elsewhere with --output\n"
        )
        assert lock.read_text() == text + "\n"
    else:
        assert done.returncode == 0, done.stderr
        assert out.exists() and not lock.exists()


def test_an_output_that_cannot_be_locked_is_one_line(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    done = run_cli(*QUICK, "--output", str(tmp_path / "file" / "r.h5"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"config error: run.output {tmp_path / 'file' / 'r.h5'}")


def test_two_runs_on_one_output_the_second_is_refused(tmp_path):
    out = tmp_path / "r.h5"
    first = subprocess.Popen(
        [sys.executable, "-m", "mlmc_hpc", "--config", "tests/data/aapl.yaml", "--eps", "0.004",
         "--quiet", "--output", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_checkpoint(out, first)
        second = run_cli(*QUICK, "--output", str(out), "--overwrite")
        assert second.returncode == 2
        assert f"is being written by another run (PID {first.pid} on" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 75
    assert not (tmp_path / "r.h5.lock").exists()


def test_one_process_holds_an_output_once_and_a_directory_is_no_output(tmp_path):
    from mlmc_hpc.config import ConfigError
    from mlmc_hpc.io.lock import acquire, release

    path = acquire(tmp_path / "r.h5")
    try:
        with pytest.raises(ConfigError, match="is already being written by this process"):
            acquire(tmp_path / "r.h5")
    finally:
        release(path)
    assert not path.exists()
    for output in (".", str(tmp_path)):
        done = run_cli(*QUICK, "--output", output)
        assert done.returncode == 2
        assert done.stderr == (f"config error: run.output must be a file path such as "
                               f"results/run.h5, got directory {output}\n")  # fmt: skip


def test_without_flock_the_run_warns_and_leaves_no_lock_file(tmp_path, monkeypatch, capsys):
    import errno

    from mlmc_hpc.cli import main

    def unsupported(descriptor, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", unsupported)
    out = tmp_path / "r.h5"
    assert main([*QUICK, "--output", str(out)]) == 0
    assert f"warning: {tmp_path} has no flock: {out} is not protected" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.h5"]


def test_an_mlqmc_checkpoint_without_its_randomisations_is_refused(tmp_path):
    """Restored as an MLMC state it would read QMC batch ids as points of one randomisation:
    a silently wrong price. So the randomisations' sums must be there, R of them."""
    from mlmc_hpc.config import load_config
    from tests.cli.test_checkpoint import SMALL

    out = tmp_path / "q.h5"
    config = load_config(ROOT / "configs/tsla.yaml", [*SMALL, ("mlmc.method", "mlqmc"),
                         ("mlmc.level0", "exact"), ("mlmc.eps", 0.05), ("run.output", str(out))])  # fmt: skip
    executor = serial_executor(config)
    stop_after(executor, 3)
    run_pricing(config, executor, checkpoint_path=str(out)).save(out)
    with h5py.File(out, "r+") as h5:
        del h5["checkpoint/qmc_sums_hi"]
    resign(out)
    done = run_cli("--config", "configs/tsla.yaml", "--eps", "0.05", "--backend", "numpy",
                   "--set", "run.batch_timesteps=100000", "--set", "mlmc.method=mlqmc",
                   "--set", "mlmc.level0=exact", "--quiet", "--output", str(out), "--resume")  # fmt: skip
    assert done.returncode == 2
    assert "holds a damaged checkpoint (the randomisations' sums are missing)" in done.stderr
