"""Signals around the run loop (issue 16, part 2): a stop signal during start-up stops the
run before its first batch (exit 75, a checkpoint, no death by signal); other commands do
not start; a second Ctrl-C stops at once with one line (exit 130), the last checkpoint
intact and resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from mlmc_hpc.cli import main
from mlmc_hpc.io.run_result import RunResult
from mlmc_hpc.parallel.stopping import STOP_SIGNALS, StopRequest
from tests.helpers import ROOT, run_cli, wait_for_checkpoint


@pytest.fixture
def early_stop():
    """What the entry point does first: the stop handlers, before anything is loaded."""
    saved = {name: signal.getsignal(getattr(signal, name)) for name in STOP_SIGNALS}
    stop = StopRequest()
    stop.install()
    yield stop
    for name, handler in saved.items():
        signal.signal(getattr(signal, name), handler)


@pytest.mark.parametrize("name", ["SIGTERM", "SIGUSR1", "SIGINT"])
def test_a_signal_during_start_up_stops_before_the_first_batch(tmp_path, early_stop, name,
                                                              capsys):  # fmt: skip
    os.kill(os.getpid(), getattr(signal, name))  # arrives while the config is not yet read
    out = tmp_path / "r.h5"
    code = main(["--eps", "0.01", "--quiet", "--backend", "numpy", "--output", str(out)],
                stop=early_stop)  # fmt: skip
    assert code == 75
    err = capsys.readouterr().err
    assert f"interrupted (received {name}) after 0 iterations" in err and "--resume" in err
    saved = RunResult.load(out)
    assert not saved.finished and saved.interrupted and len(saved.iterations["L"]) == 0


def test_other_commands_do_not_start_after_a_stop_signal(tmp_path, early_stop, capsys):
    os.kill(os.getpid(), signal.SIGTERM)
    out = tmp_path / "t.h5"
    assert main(["test", "--levels", "2", "--samples", "100", "--output", str(out)],
                stop=early_stop) == 75  # fmt: skip
    assert capsys.readouterr().err == "received SIGTERM before the start; not started\n"
    assert not out.exists()


def test_a_second_ctrl_c_stops_at_once_with_one_line(tmp_path):
    out = tmp_path / "r.h5"
    process = subprocess.Popen(  # batches of about 2 s: both signals come inside one
        [sys.executable, "-m", "mlmc_hpc", "--config", "tests/data/aapl.yaml", "--eps",
         "0.002", "--backend", "numpy", "--set", "run.batch_timesteps=268435456", "--quiet",
         "--output", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_checkpoint(out, process)  # iteration 1 (small) done: the big batches start
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr == (
        "interrupted again (SIGINT): stopped at once; an output keeps the checkpoint of its "
        "last finished iteration (continue with --resume)\n"
    )
    saved = RunResult.load(out)
    assert not saved.finished and len(saved.iterations["L"]) >= 1
    resumed = run_cli("--config", "tests/data/aapl.yaml", "--eps", "0.002", "--backend", "numpy",
                      "--set", "run.batch_timesteps=268435456", "--quiet", "--output", str(out),
                      "--resume", timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert not out.with_name("r.h5.lock").exists()


def test_ctrl_c_in_the_test_command_is_one_line(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "mlmc_hpc", "test", "--samples", "2000000", "--levels", "6",
         "--backend", "numpy", "--quiet", "--output", str(tmp_path / "t.h5")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(2.0)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and stderr == "interrupted (SIGINT)\n"
    assert list(tmp_path.iterdir()) == []
