"""One run per output file: a lock file beside it, created exclusively.

``<output>.lock`` holds ``host pid``. It is created complete and exclusively (a hard link
of a written temp file, which fails if the lock exists), so of two runs started on the
same output only one gets it; the other is refused at start (exit 2) with a
line naming the host and PID of the run that holds it. A lock left by a process that no
longer exists on this host (killed with SIGKILL, a crashed node restarted) is stale: it is
taken over. A lock from another host cannot be checked from here: the message says to
delete it only if that run is dead. The lock is removed when the process exits.
"""

from __future__ import annotations

import atexit
import os
import socket
from pathlib import Path

from ..errors import ConfigError

SUFFIX = ".lock"


def lock_path(output: str | Path) -> Path:
    """The lock file of ``output``: ``<output>.lock`` beside it."""
    output = Path(output)
    return output.with_name(output.name + SUFFIX)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _holder(path: Path) -> tuple[str, int] | None:
    """(host, pid) written in a lock file, or None when it is unreadable or malformed."""
    try:
        host, pid = path.read_text().split()
        return host, int(pid)
    except (OSError, ValueError):
        return None


def acquire(output: str | Path) -> Path:
    """Take the lock of ``output`` for this process (module docstring); ConfigError when
    another live run holds it. Released at exit; returns the lock's path."""
    path, here, me = lock_path(output), socket.gethostname(), os.getpid()
    path.parent.mkdir(parents=True, exist_ok=True)
    written = path.with_name(f".{path.name}.{here}.{me}")
    written.write_text(f"{here} {me}\n")
    try:
        return _take(path, written, output, (here, me))
    finally:
        written.unlink(missing_ok=True)


def _take(path: Path, written: Path, output: str | Path, me: tuple[str, int]) -> Path:
    """Link the complete ``written`` file to ``path`` (atomic: it exists with its content
    or not at all), taking over a stale lock; see :func:`acquire`."""
    here = me[0]
    for _ in range(3):
        try:
            os.link(written, path)
        except FileExistsError:
            holder = _holder(path)
            if holder == me:
                return path
            if holder is not None and (holder[0] != here or _alive(holder[1])):
                host, pid = holder
                raise ConfigError(
                    f"run.output {output} is being written by another run (PID {pid} on "
                    f"{host}; lock {path}); wait for it or write elsewhere with --output "
                    f"(delete the lock only if that run is dead)"
                ) from None
            path.unlink(missing_ok=True)  # stale: its process is gone, or not a lock
            continue
        atexit.register(release, path)
        return path
    raise ConfigError(f"run.output {output}: could not take the lock {path}; is another run "
                      f"starting on the same output?")  # fmt: skip


def release(path: Path) -> None:
    """Remove the lock if this process holds it."""
    if _holder(path) == (socket.gethostname(), os.getpid()):
        path.unlink(missing_ok=True)
