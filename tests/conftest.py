"""Shared helpers: small configs and an in-process CLI runner."""

from __future__ import annotations

import subprocess
import sys
import time
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


def wait_for_checkpoint(path: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    """Until the run's first checkpoint exists (it is under way); fails if it ends first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m mlmc_hpc ARGS`` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "mlmc_hpc", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
