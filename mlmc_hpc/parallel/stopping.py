"""When to stop early: signals (Slurm's warning, ``scancel``, Ctrl-C) and the job's end.

The master asks :meth:`StopRequest.reason` before starting each batch. SIGTERM,
SIGUSR1 and SIGINT set the reason; so does the clock once ``SLURM_JOB_END_TIME``
(seconds since the epoch, set by Slurm 23.02 and later) is less than
``run.end_margin_s`` away. Workers ignore these signals: they may receive them too
(``mpiexec`` and ``srun`` forward them to every rank) and must keep serving the
batches in flight until the master tells them to stop.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from types import FrameType

STOP_SIGNALS = ("SIGTERM", "SIGUSR1", "SIGINT")
END_TIME_VARIABLE = "SLURM_JOB_END_TIME"


def job_end_time(environ: dict[str, str] | None = None) -> float | None:
    """The Slurm job's end as a Unix time, or None outside Slurm (or if unparsable)."""
    value = (os.environ if environ is None else environ).get(END_TIME_VARIABLE, "")
    try:
        end = float(value)
    except ValueError:
        return None
    return end if end > 0 else None


def slurm_job(environ: dict[str, str] | None = None) -> str:
    """``"<job id> restart <n> on <nodes>"`` inside a Slurm job, else ``""``: stored with
    the result so a file names the job (and requeued leg) that wrote it."""
    env = os.environ if environ is None else environ
    job = env.get("SLURM_JOB_ID", "")
    if not job:
        return ""
    restart = env.get("SLURM_RESTART_COUNT", "0") or "0"
    return f"{job} restart {restart} on {env.get('SLURM_JOB_NODELIST', '?')}"


class StopRequest:
    """A stop reason set by a signal or by the approaching job end; empty while running."""

    def __init__(
        self,
        end_time: float | None = None,
        margin_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.end_time = end_time
        self.margin_s = margin_s
        self.clock = clock
        self.signal_name = ""

    def install(self) -> None:
        """Handle the stop signals in this (main) thread from now on."""
        for name in STOP_SIGNALS:
            signal.signal(getattr(signal, name), self._on_signal)

    def uninstall(self) -> None:
        """The default handlers again (commands that do not stop cleanly)."""
        for name in STOP_SIGNALS:
            default = signal.default_int_handler if name == "SIGINT" else signal.SIG_DFL
            signal.signal(getattr(signal, name), default)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.signal_name and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: give up on the clean stop
        self.signal_name = self.signal_name or signal.Signals(signum).name

    def reason(self) -> str | None:
        """Why to stop (the signal received, or the job's end near), or None to go on."""
        if self.signal_name:
            return f"received {self.signal_name}"
        if self.end_time is not None and self.clock() >= self.end_time - self.margin_s:
            return f"job ends in less than {self.margin_s:g} s ({END_TIME_VARIABLE})"
        return None


def ignore_stop_signals() -> None:
    """Workers: let the master decide when to stop."""
    for name in STOP_SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_IGN)
