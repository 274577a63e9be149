"""Shared helpers: small configs and an in-process CLI runner."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def write_config(tmp_path):
    """Write a YAML config (dict or text) to tmp_path and return its path."""

    def write(content, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
        return path

    return write


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


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m mlmc_hpc ARGS`` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "mlmc_hpc", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
