"""Progress inside an iteration: a live line on a terminal, a line every few seconds in a log.

Most of a run's samples are taken in one or two iterations, so the per-iteration lines alone
leave a terminal (or a Slurm output file) silent for most of the run. Executors report
every finished batch (:meth:`~mlmc_hpc.parallel.executor.BatchExecutor.watch_batches`);
:class:`LiveProgress` turns those reports into

- on a terminal: one line rewritten in place (at most every 0.2 s), cleared before the
  next iteration's line is printed;
- in a file or pipe (not a TTY): one line every ``interval_s`` seconds (``run.progress_s``,
  10 by default), none for requests shorter than that.

The line fits 100 columns: batches and work done of planned, the rate and an ETA.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

REFRESH_S = 0.2  # a terminal line is rewritten at most this often
WIDTH = 100


def _quantity(value: float) -> str:
    return f"{value:.3g}" if value < 1e4 else f"{value:.2e}"


def progress_text(batches: int, total_batches: int, done: float, total: float, unit: str,
                  elapsed_s: float) -> str:  # fmt: skip
    """``batches 12/40  timesteps 1.20e+09/4.00e+09 (30%)  3.10e+08/s  ETA 9 s``."""
    share = 100.0 * done / total if total else 100.0
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    eta = (total - done) / rate if rate > 0 else float("inf")
    eta_text = f"{eta:.0f} s" if eta < 1e7 else "?"
    return (f"  batches {batches}/{total_batches}  {unit} {_quantity(done)}/{_quantity(total)} "
            f"({share:.0f}%)  {_quantity(rate)}/s  ETA {eta_text}")[:WIDTH]  # fmt: skip


class LiveProgress:
    """Receives batch reports (see the module docstring) and writes them to ``stream``."""

    def __init__(self, stream: TextIO | None = None, interval_s: float = 10.0,
                 unit: str = "timesteps", tty: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval_s = interval_s
        self.unit = unit
        self.clock = clock
        self._last = clock()
        self._shown = False

    def __call__(self, batches: int, total_batches: int, done: float, total: float,
                 elapsed_s: float) -> None:  # fmt: skip
        """One batch finished: ``batches`` of ``total_batches`` and ``done`` of ``total``
        units of work, ``elapsed_s`` into the request."""
        now = self.clock()
        wait = REFRESH_S if self.tty else self.interval_s
        if now - self._last < wait or batches >= total_batches:
            return
        self._last = now
        text = progress_text(batches, total_batches, done, total, self.unit, elapsed_s)
        if self.tty:
            self.stream.write("\r" + text.ljust(WIDTH - 1))
            self._shown = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Remove the live line (before an iteration's own line is printed)."""
        if self._shown:
            self.stream.write("\r" + " " * (WIDTH - 1) + "\r")
            self.stream.flush()
            self._shown = False
        self._last = self.clock()
