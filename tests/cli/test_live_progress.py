"""Progress inside an iteration: a rewritten line on a terminal, periodic lines in a log."""

import io
import os
import pty
import re
import select
import subprocess
import sys

from mlmc_hpc.render.live import WIDTH, LiveProgress, progress_text
from tests.helpers import ROOT, run_cli


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_log_gets_one_line_per_interval_and_none_for_the_last_batch():
    clock, stream = FakeClock(), io.StringIO()
    live = LiveProgress(stream, interval_s=10.0, unit="timesteps", tty=False, clock=clock)
    for batch in range(1, 41):
        clock.now = batch * 1.0  # a batch a second
        live(batch, 40, batch * 1e8, 4e9, clock.now)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # at 10, 20 and 30 s; the 40th batch ends the request
    assert lines[0] == "  batches 10/40  timesteps 1.00e+09/4.00e+09 (25%)  1.00e+08/s  ETA 30 s"


def test_a_terminal_line_is_rewritten_and_cleared():
    clock, stream = FakeClock(), io.StringIO()
    live = LiveProgress(stream, interval_s=10.0, tty=True, clock=clock)
    for batch in range(1, 6):
        clock.now = batch * 0.5
        live(batch, 10, batch, 10, clock.now)
    live.clear()
    text = stream.getvalue()
    assert text.count("\r") == 5 + 2 and "\n" not in text
    assert text.endswith("\r" + " " * (WIDTH - 1) + "\r")


def test_the_line_fits_100_columns_whatever_the_numbers():
    text = progress_text(123456, 654321, 1.23456e15, 9.87654e15, "scenarios", 1e-9)
    assert len(text) <= WIDTH


def test_a_slurm_log_shows_progress_inside_the_long_iteration(tmp_path):
    done = run_cli("--config", "spy", "--eps", "0.001", "--output", str(tmp_path / "s.h5"),
                   "--set", "run.progress_s=0.01", "--set", "run.batch_timesteps=200000")  # fmt: skip
    assert done.returncode == 0, done.stderr
    inside = [line for line in done.stderr.splitlines() if line.startswith("  batches ")]
    assert inside, done.stderr
    assert re.fullmatch(r"  batches \d+/\d+  timesteps \S+/\S+ \(\d+%\)  \S+/s  ETA \d+ s",
                        inside[0])  # fmt: skip
    assert all(len(line) <= 100 for line in done.stderr.splitlines())
    quiet = run_cli("--config", "spy", "--eps", "0.003", "--output", str(tmp_path / "q.h5"),
                    "--set", "run.progress_s=0.05", "--quiet")  # fmt: skip
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_a_terminal_sees_a_live_bar_that_is_cleared_before_each_iteration(tmp_path):
    main_fd, child_fd = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlmc_hpc", "risk", "--config", "notebook_var", "--scenarios",
         "30000000", "--set", "run.batch_scenarios=16384", "--output", str(tmp_path / "r.h5")],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=child_fd,
    )  # fmt: skip
    os.close(child_fd)
    chunks = []
    while True:
        ready, _, _ = select.select([main_fd], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(main_fd, 65536)
        except OSError:  # the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    assert process.wait(timeout=60) == 0
    os.close(main_fd)
    text = b"".join(chunks).decode()
    assert "\r  batches " in text and " scenarios " in text
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith("iter"):
            assert "batches" not in line
        for piece in line.split("\r"):
            assert len(piece) <= 100
