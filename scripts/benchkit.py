"""What the benchmark scripts share: the machine's facts and a report that prints and keeps.

Imported by the ``scripts/bench_*.py`` files and ``scripts/risk_reference.py`` (run from the
repository root as ``python scripts/NAME.py``: this folder is then on ``sys.path``).
"""

from __future__ import annotations

import importlib.metadata
import math
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what platform knows."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name: str) -> str:
    """An installed distribution's version, or "not installed"."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


class Report:
    """Prints each line at once and keeps them all for the output file."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        self.lines.append(line)
        print(line, flush=True)

    def save(self, path: str | Path) -> None:
        """Every line so far to ``path`` (its folder made), and a note on stderr."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(self.lines) + "\n")
        print(f"# written to {path}", file=sys.stderr)


def mpiexec() -> str:
    """The venv's mpiexec (the mpich wheel's), else the first on PATH."""
    return shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or "mpiexec"


def verdict(ok: bool) -> str:
    """PASS or MISS."""
    return "PASS" if ok else "MISS"


def normal_floor(total: int = 1 << 24, chunk: int = 1 << 16, repeats: int = 3) -> float:
    """Standard normals per second from SFC64 into a cache-sized buffer, best of ``repeats``
    passes of ``total`` normals (the floor of a sampled run: one normal per timestep)."""
    rng = np.random.Generator(np.random.SFC64(0))
    buffer = np.empty(chunk)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(total // chunk):
            rng.standard_normal(out=buffer)
        best = min(best, time.perf_counter() - start)
    return (total // chunk) * chunk / best
