"""How often a job rewrites its checkpoint: the one rule of run, risk and book.

A checkpoint is the whole unfinished result, written atomically; rewriting it after every
iteration cost more than the sampling itself on a GPU (about 17 ms per write against a
predicted 41-66 ms of sampling for all of SPY at eps 0.001, with 15 iterations). So the
first chance always writes (a job killed early still leaves one), and later chances write
only when at least ``max(every_s, factor * d)`` seconds have passed since the last write,
d being how long that write took: saving then costs at most 1/factor of the run. A stop
(signal, the Slurm job's end, the work budget) always writes: the caller saves the
interrupted result whatever the cadence says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

RUN_EVERY_S = 5.0  # a pricing run's checkpoint, at most this often
SAVE_SHARE_FACTOR = 20.0  # and at most 1/20 of the time spent writing it


class Cadence:
    """Decides when to write; :meth:`offer` writes when due and times the write."""

    def __init__(
        self,
        every_s: float,
        factor: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        first_due: bool = True,
    ) -> None:
        """``first_due=False``: the first chance waits ``every_s`` too, counted from now."""
        self.every_s, self.clock = every_s, clock
        self.factor = SAVE_SHARE_FACTOR if factor is None else factor
        self.last: float | None = None if first_due else clock()  # when the last write ended
        self.last_cost = 0.0  # how long it took

    def due(self) -> bool:
        """True for the first chance (unless ``first_due`` was False), then once
        ``max(every_s, factor d)`` has passed since the last write."""
        if self.last is None:
            return True
        return self.clock() - self.last >= max(self.every_s, self.factor * self.last_cost)

    def offer(self, write: Callable[[], Any]) -> bool:
        """Call ``write()`` if due; True when it wrote."""
        if not self.due():
            return False
        start = self.clock()
        write()
        self.last = self.clock()
        self.last_cost = self.last - start
        return True
