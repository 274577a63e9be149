"""Waiting on MPI without burning a core: poll, sleeping a little longer each time.

MPICH's blocking receive spins a core at 100%; the master and idle workers instead test a
request (or probe for a message) and sleep between tests, the pause doubling from 10 us
to :data:`MAX_SLEEP_S`, so a result is picked up within a millisecond.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

MAX_SLEEP_S = 0.001


class Poller:
    """Waits on MPI requests without spinning: sleep doubles from 0 to MAX_SLEEP_S."""

    def __init__(self) -> None:
        self.idle_s = 0.0

    def wait(self, request: Any, status: Any, check: Callable[[], None] | None = None) -> None:
        """Poll ``request`` (an MPI request) until it completes; ``status`` receives its
        status; ``check()`` is called while waiting (it may raise: a stalled worker)."""
        pause = 0.0
        started = time.perf_counter()
        while not request.Test(status):
            if check:
                check()
            time.sleep(pause)
            pause = min(MAX_SLEEP_S, pause * 2 or 1e-5)
        self.idle_s += time.perf_counter() - started

    def probe(self, comm: Any, status: Any, check: Callable[[], None] | None = None) -> None:
        """Poll ``comm`` until a message from any source with any tag is waiting; its
        envelope (source, tag, count) is left in ``status``."""
        from mpi4py import MPI

        pause = 0.0
        started = time.perf_counter()
        while not comm.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status):
            if check:
                check()
            time.sleep(pause)
            pause = min(MAX_SLEEP_S, pause * 2 or 1e-5)
        self.idle_s += time.perf_counter() - started
