"""One run per output file: ``<output>.lock`` beside it, held with an exclusive ``flock``.

The lock file holds ``host pid`` of the run that writes the output. The lock is the
kernel's ``flock`` on it, held for the life of the process: a second run on the same
output is refused at start (a ConfigError, exit 2) with a line naming the host and PID in
the file; a run that dies (SIGKILL, a crashed node) releases it with its process, so a
lock file nobody holds is simply taken over, on this host or another one sharing the file
system (where that file system's flock spans nodes: NFSv4 releases a crashed node's lock
when its lease expires; Lustre needs the ``flock`` mount option). After taking it the
inode is compared with the path's, so a lock file removed by its previous holder in the
meantime is never held by mistake. Where the file system has no ``flock`` (ENOLCK, ENOSYS,
EOPNOTSUPP) the run goes on unlocked, with a warning. One process holds an output once:
a second ``price()`` on an output this process is writing is refused too.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import os
import socket
import sys
from pathlib import Path

from ..errors import ConfigError
from .hdf5 import refuse_directory

SUFFIX = ".lock"
UNSUPPORTED = (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP)
# lock path -> open descriptor. The process's locks, like its open files: a flock lives as
# long as its descriptor, which must outlive the call that took it.
_held: dict[Path, int] = {}


def lock_path(output: str | Path) -> Path:
    """The lock file of ``output``: ``<output>.lock`` beside it."""
    output = Path(output)
    return output.with_name(output.name + SUFFIX)


def acquire(output: str | Path) -> Path:
    """Take the lock of ``output`` (module docstring); ConfigError when another run holds it
    or it cannot be created. Returns the lock's path; :func:`release` gives it back."""
    refuse_directory(output)
    path = lock_path(output).absolute()
    if path in _held:
        raise ConfigError(f"run.output {output} is already being written by this process")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(10):
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _locked(descriptor, output, path):
                path.unlink(missing_ok=True)
                print(f"warning: {path.parent} has no flock: {output} is not protected "
                      f"against a second run", file=sys.stderr, flush=True)  # fmt: skip
                return path
            try:
                same = os.stat(path).st_ino == os.fstat(descriptor).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(descriptor, 0)
                os.write(descriptor, f"{socket.gethostname()} {os.getpid()}\n".encode())
                _held[path] = descriptor
                atexit.register(release, path)  # also on exits that skip the caller's
                return path
            os.close(descriptor)  # its holder removed it while we waited: try the new one
    except OSError as error:
        reason = f"{os.strerror(error.errno or 0)} (errno {error.errno})"
        raise ConfigError(f"run.output {output} cannot be locked ({path}): {reason}") from None
    raise ConfigError(f"run.output {output}: could not take the lock {path}")


def _locked(descriptor: int, output: str | Path, path: Path) -> bool:
    """flock the open lock file; False where the file system has none; ConfigError naming
    the holder when another process has it."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(descriptor, 200).decode(errors="replace").split()
        os.close(descriptor)
        host, pid = (holder + ["?", "?"])[:2] if len(holder) >= 2 else ("?", "?")
        raise ConfigError(
            f"run.output {output} is being written by another run (PID {pid} on {host}; "
            f"lock {path}); wait for it or write elsewhere with --output"
        ) from None
    except OSError as error:
        os.close(descriptor)
        if error.errno in UNSUPPORTED:
            return False
        raise
    return True


def release(path: Path) -> None:
    """Give the lock back (remove the file, then unlock); nothing if this process has none."""
    descriptor = _held.pop(Path(path).absolute(), None)
    if descriptor is not None:
        Path(path).unlink(missing_ok=True)
        os.close(descriptor)
