"""The demo's comparison: the same problem under ``mpiexec`` on one worker and on N.

Each run's progress (the child's per-iteration lines and, every second, its in-iteration
``batches k/n`` lines) is relayed as it comes: on a terminal as one line rewritten in
place, in a log as indented lines. The children run in their own session and are ended
by this process whatever stops it (Ctrl-C, an error): SIGTERM to ``mpiexec`` (which ends
its ranks), SIGKILL to anything of the family still there after a grace period.
Also here: the default worker count (physical cores, at most 8 on a login node).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, TextIO

from ..config.schema import Config
from ..errors import RunFailedError
from ..render.progress import WIDTH

LOGIN_NODE_MAX = 8  # workers by default outside a Slurm allocation (a shared login node)
GRACE_S = 5.0  # after SIGTERM, mpiexec gets this long to end its ranks
POLL_S = 0.2  # a stop signal is handled within this while the demo waits for input


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def physical_cores(cpus: Collection[int], cpuinfo: str) -> int | None:
    """Distinct (physical id, core id) pairs of the logical CPUs ``cpus`` in the text of
    /proc/cpuinfo; None when it does not say (no core ids: some ARM kernels, containers)."""
    cores = set()
    for block in cpuinfo.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        if "processor" not in fields:
            continue
        if "core id" not in fields or not fields["processor"].isdigit():
            return None
        if int(fields["processor"]) in cpus:
            cores.add((fields.get("physical id", "0"), fields["core id"]))
    return len(cores) or None


def available_cpus() -> set[int]:
    """The logical CPUs this process may run on (its affinity mask where there is one)."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


def read_cpuinfo() -> str:
    """/proc/cpuinfo, or "" where there is none."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def default_workers(cpus: Collection[int], cpuinfo: str,
                    environ: Mapping[str, str]) -> tuple[int, str]:  # fmt: skip
    """(workers, why): the physical cores among ``cpus`` (else the logical CPUs), at most
    :data:`LOGIN_NODE_MAX` outside a Slurm allocation (no ``SLURM_JOB_ID``)."""
    logical = max(1, len(cpus))
    physical = physical_cores(cpus, cpuinfo)
    count = physical or logical
    why = (f"{_plural(physical, 'physical core')} among the {logical} CPUs this process may use"
           if physical else f"{_plural(logical, 'CPU')} this process may use, physical cores "
           f"unknown")  # fmt: skip
    if "SLURM_JOB_ID" not in environ and count > LOGIN_NODE_MAX:
        return LOGIN_NODE_MAX, f"{why}; at most {LOGIN_NODE_MAX} on a login node (no SLURM_JOB_ID)"
    return count, why


def workers_line(requested: int | None) -> tuple[int, str]:
    """(workers, the one line that says how many and why)."""
    count, why = default_workers(available_cpus(), read_cpuinfo(), os.environ)
    if requested is None:
        return count, f"workers: {count} ({why}; --workers N to change)"
    more = f"; more than the {count} here, expect less speedup" if requested > count else ""
    return requested, f"workers: {requested} (--workers{more})"


def start_time(pid: int | str) -> str | None:
    """The start time of process ``pid`` (/proc), or None when it is gone (or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()[19]


def descendants(root: int) -> dict[int, str]:
    """Every process below ``root`` (pid -> start time, from /proc; {} where there is none)."""
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        started[int(entry.name)] = fields[19]
    found: dict[int, str] = {}
    queue = [root]
    while queue:
        for child in children.get(queue.pop(), []):
            if child not in found:
                found[child] = started[child]
                queue.append(child)
    return found


def terminate(process: subprocess.Popen[bytes]) -> None:
    """End ``process`` (mpiexec) and every process below it."""
    family = descendants(process.pid)
    process.terminate()
    try:
        process.wait(GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for pid, start in family.items():  # ranks that outlived mpiexec (not a reused pid)
        if start_time(pid) == start:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


class LineReader:
    """Lines from a file descriptor (a terminal, a child's pipe), waiting in select() steps
    of :data:`POLL_S`: a stop signal is handled within that wherever it lands. (A signal that
    comes just before a blocking read() is handled only after the next byte: ``input()``
    then waits for Enter after Ctrl-C.)"""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = b""

    def readline(self) -> str | None:
        """The next line without its newline; None at the end of input."""
        while b"\n" not in self.pending:
            if not select.select([self.fd], [], [], POLL_S)[0]:
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:
                rest, self.pending = self.pending, b""
                return rest.decode(errors="replace") if rest else None
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line.decode(errors="replace")


class Relay:
    """The child's progress lines on ``stream``: on a terminal one line rewritten in place,
    headed by ``label``; else each line indented (when that keeps it within 100 columns)."""

    def __init__(self, stream: TextIO, tty: bool) -> None:
        self.stream = stream
        self.tty = tty
        self.label = ""

    def begin(self, label: str, line: str) -> None:
        """A run starts: ``label: line``, and ``label`` heads its lines on a terminal."""
        self.label = ""
        self.show(f"{label}: {line}")
        self.label = label

    def show(self, line: str) -> None:
        """One line of the child's progress."""
        if self.tty:
            text = f"  {self.label}: {line.strip()}" if self.label else "  " + line.strip()
            self.stream.write("\r" + text[: WIDTH - 1].ljust(WIDTH - 1))
        else:
            self.stream.write(("  " + line if len(line) + 2 <= WIDTH else line) + "\n")
        self.stream.flush()

    def done(self, line: str) -> None:
        """The run's result line (replaces the live line on a terminal)."""
        self.stream.write(("\r" + line.ljust(WIDTH - 1) if self.tty else line) + "\n")
        self.stream.flush()


def mpi_command(mpiexec: str, ranks: int, config: Config, output: Path) -> list[str]:
    """``mpiexec -n ranks python -m mlmc_hpc run --json ...`` for the demo's problem, with
    a progress line every second inside an iteration."""
    command = [mpiexec, "-n", str(ranks), sys.executable, "-m", "mlmc_hpc", "run", "--json",
               "--output", str(output), "--eps", repr(config.mlmc.eps),
               "--set", "run.progress_s=1"]  # fmt: skip
    for key in ("type", "S0", "K", "T", "r", "sigma"):
        command += ["--set", f"option.{key}={getattr(config.option, key)}"]
    return command


def mpi_run(command: list[str], relay: Relay) -> dict[str, Any]:
    """Run ``command``, relaying its stderr lines; its JSON summary. RunFailedError (one
    line, the child's last) when it fails; the children never outlive this call."""
    tail: collections.deque[str] = collections.deque(maxlen=1)
    with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, start_new_session=True) as process:  # fmt: skip
        try:
            assert process.stderr is not None and process.stdout is not None
            errors = LineReader(process.stderr.fileno())
            while (line := errors.readline()) is not None:
                if line.strip():
                    tail.append(line.strip())
                    relay.show(line.rstrip())
            out = process.stdout.read().decode(errors="replace")
            code = process.wait()
        finally:
            if process.poll() is None:
                terminate(process)
    if code != 0 or not out.strip():
        last = tail[-1] if tail else "no output"
        launched = " ".join([Path(command[0]).name, *command[1:3]])
        raise RunFailedError(f"{launched} exited with {code}: {last}")
    summary: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return summary


def find_mpiexec() -> str | None:
    """mpiexec beside this Python (a virtual environment's), else on the PATH."""
    here = shutil.which("mpiexec", path=str(Path(sys.executable).parent))
    return here or shutil.which("mpiexec")


def compare(config: Config, workers: int, directory: Path) -> None:
    """The same problem under mpiexec on one worker and on ``workers``; times, speedup."""
    mpiexec = find_mpiexec()
    if mpiexec is None:
        print("no mpiexec found: pip install 'mlmc_hpc[mpi]' to compare 1 and N workers")
        return
    if workers == 1:
        print("one worker only: nothing to compare (--workers N for N > 1)")
        return
    print(f"same problem on 1 worker and on {workers} workers (mpiexec, one master rank):",
          flush=True)  # fmt: skip
    relay = Relay(sys.stdout, sys.stdout.isatty())
    times, prices = [], []
    for count, label in ((1, "1 worker "), (workers, f"{workers} workers")):
        command = mpi_command(mpiexec, count + 1, config, directory / f"workers-{count}.h5")
        relay.begin(label, f"mpiexec -n {count + 1} ...")
        summary = mpi_run(command, relay)
        times.append(summary["wall_time_s"])
        prices.append(summary["price"])
        relay.done(f"  {label}: {times[-1]:7.2f} s  price {prices[-1]:.6f}")
    same = "identical" if prices[0] == prices[1] else "DIFFERENT"
    print(f"  speedup {times[0] / times[1]:.2f}x  (prices {same})", flush=True)
