"""Helpers the test files share: paths, an in-process CLI runner, waits, and mpiexec."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JOBS = ROOT / "jobs"
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="mpiexec not found (install the mpi extra)")


def wait_for_file(
    path: Path, ended: Callable[[], str | None], timeout: float = 60, poll_s: float = 0.01
) -> None:
    """Until ``path`` exists; fails if ``ended()`` says (in words) that its writer is gone,
    or at the timeout."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        gone = ended()
        assert gone is None, f"{gone} before writing {path}"
        assert time.monotonic() < deadline, f"no {path} after {timeout:g} s"
        time.sleep(poll_s)


def wait_for_checkpoint(path: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    """Until the run's first checkpoint exists (it is under way); fails if it ends first."""

    def ended() -> str | None:
        return None if process.poll() is None else f"the run ended {process.communicate()}"

    wait_for_file(path, ended, timeout)


def run_cli(*args: str, timeout: float = 120, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``python -m mlmc_hpc ARGS`` in a fresh process, in ``cwd`` (the repository root)."""
    return subprocess.run(
        [sys.executable, "-m", "mlmc_hpc", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def mpirun(n, *args, env=None, timeout=120, cwd=ROOT):
    """``mpiexec -n N python -m mlmc_hpc ARGS`` in a fresh process (``env`` adds variables)."""
    return subprocess.run(
        [MPIEXEC, "-n", str(n), sys.executable, "-m", "mlmc_hpc", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def tiny_config(tmp_path: Path) -> Path:
    """A small config file (eps 0.05, large batches) for job-script runs."""
    path = tmp_path / "tiny.yaml"
    path.write_text("name: tiny\nmlmc: {eps: 0.05}\nrun: {batch_timesteps: 100000}\n")
    return path
