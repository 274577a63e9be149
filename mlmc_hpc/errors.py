"""Exit codes and the exceptions that map to them: the bottom of the package.

Every layer raises these; only the commands turn them into exit codes. Nothing here
imports the rest of the package (or NumPy), so any module may import it.
"""

from __future__ import annotations

import enum
import sys


class ExitCode(enum.IntEnum):
    """Process exit codes: a public contract (README, CHANGELOG)."""

    OK = 0  # done (also when the bias test failed at Lmax: converged = false)
    FAILURE = 1  # a failure during the run
    USAGE = 2  # bad input: one line on stderr, nothing written
    INTERRUPTED = 75  # stopped early by a signal or the job's end; checkpoint saved
    STOPPED_AT_ONCE = 130  # a second Ctrl-C: stopped at once, the last checkpoint kept


class ConfigError(ValueError):
    """A user input problem; the message is one line, ready to print (exit 2)."""


class ResumeError(ConfigError):
    """``--resume`` refused: missing, finished or differently configured file (exit 2)."""


class PlacementError(ConfigError):
    """More GPU workers on a host than it has GPUs (exit 2)."""


class BackendUnavailableError(ConfigError):
    """``run.backend: cupy`` asked for where CuPy, a GPU or a kernel is missing (exit 2)."""


class RunFailedError(RuntimeError):
    """A failure during the run whose message is one line, ready to print (exit 1)."""


class OutputWriteError(RunFailedError):
    """A result or checkpoint could not be written (full disk, quota, I/O error); the file
    that was there before is intact."""


class SamplingError(RunFailedError):
    """A sampler returned non-finite sums (NaN or inf): the payoff overflows on a level."""


class WorkerStalledError(RunFailedError):
    """A worker stopped answering (its batch is far past the time its cost allows)."""


class WorkerFailedError(RuntimeError):
    """A worker raised; the message is its traceback headed ``worker r of s on HOST:``."""


def config_error_exit(error: ConfigError, prefix: str = "config error") -> ExitCode:
    """Print ``prefix: message`` as one line on stderr and return :attr:`ExitCode.USAGE`."""
    print(f"{prefix}: {error}", file=sys.stderr, flush=True)
    return ExitCode.USAGE


def failure_exit(error: RunFailedError) -> ExitCode:
    """Print ``error: message`` as one line on stderr and return :attr:`ExitCode.FAILURE`."""
    print(f"error: {error}", file=sys.stderr, flush=True)
    return ExitCode.FAILURE


def stopped_at_once() -> None:
    """The one line of a second Ctrl-C (exit :attr:`ExitCode.STOPPED_AT_ONCE`)."""
    line = ("interrupted again (SIGINT): stopped at once; an output keeps the checkpoint of its "
            "last finished iteration (continue with --resume)")  # fmt: skip
    print(line, file=sys.stderr, flush=True)
