"""The demo command on a terminal (issue 20): wrong answers asked again, --preset answers
the questions, Ctrl-C is one line, the default worker count, the comparison's progress."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
import uuid

import pytest

from mlmc_hpc.commands.demo import Interrupted
from mlmc_hpc.commands.demo_compare import (
    Relay,
    available_cpus,
    default_workers,
    mpi_run,
    physical_cores,
    read_cpuinfo,
)
from mlmc_hpc.errors import RunFailedError
from tests.helpers import MPIEXEC, ROOT, needs_mpi

PRESET_PROMPT = b"preset (aapl, giles, spy, tsla) [aapl]: "


class Terminal:
    """``python -m mlmc_hpc demo ARGS`` with a pseudo-terminal as its controlling terminal
    (stdin, stdout and stderr): write answers, wait for prompts, read everything."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        environ = {**os.environ, **(env or {})}
        environ.pop("SLURM_JOB_ID", None)
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # child: the demo with the pty as its terminal
            try:
                os.chdir(ROOT)
                os.execve(sys.executable, [sys.executable, "-m", "mlmc_hpc", "demo", *args],
                          environ)  # fmt: skip
            finally:
                os._exit(127)
        self.output = b""
        self.seen = 0  # expect() looks after this offset
        self.status: int | None = None

    def _read(self, timeout: float) -> bool:
        """Read what is there (waiting up to ``timeout``); False at the end of output."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.output += chunk
        return bool(chunk)

    def expect(self, text: bytes, timeout: float = 30) -> None:
        """Until ``text`` appears after the last expected text."""
        deadline = time.monotonic() + timeout
        while (at := self.output.find(text, self.seen)) < 0:
            assert time.monotonic() < deadline, f"no {text!r} in {self.text()!r}"
            assert self._read(0.2), f"ended without {text!r}: {self.text()!r}"
        self.seen = at + len(text)

    def send(self, text: bytes) -> None:
        os.write(self.fd, text)

    def wait(self, timeout: float = 60) -> int:
        """The exit code (the child is killed at the timeout, failing the test)."""
        deadline = time.monotonic() + timeout
        while self._read(0.2):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                pytest.fail(f"the demo did not end in {timeout} s: {self.text()!r}")
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)

    def text(self) -> str:
        return self.output.decode(errors="replace")


def test_a_preset_typo_and_bad_numbers_are_asked_again():
    term = Terminal("--no-compare")
    term.expect(PRESET_PROMPT)
    term.send(b"tsal\n")
    term.expect(b"no preset 'tsal'; did you mean tsla? (one of aapl, giles, spy, tsla)")
    term.expect(PRESET_PROMPT)  # the same question again
    term.send(b"tsla\n")
    term.expect(b"S0 [430.0]: ")
    term.send(b"abc\n")
    term.expect(b"option.S0 must be a number, got 'abc'")
    term.expect(b"S0 [430.0]: ")
    term.send(b"\n")
    for question in (b"K [430.0]: ", b"T [0.5]: "):
        term.expect(question)
        term.send(b"\n")
    term.expect(b"sigma [0.3]: ")
    term.send(b"-0.2\n")
    term.expect(b"option.sigma must be > 0, got -0.2")
    term.expect(b"sigma [0.3]: ")
    term.send(b"0.4\n")
    term.expect(b"r [0.02]: ")
    term.send(b"\n")
    term.expect(b"eps [0.005]: ")
    term.send(b"0\n")
    term.expect(b"mlmc.eps must be > 0, got 0")
    term.expect(b"eps [0.005]: ")
    term.send(b"0.05\n")
    assert term.wait() == 0, term.text()
    text = term.text()
    assert "MLMC demo: call S0=430 K=430 T=0.5 r=0.02 sigma=0.4  eps=0.05" in text
    assert "converged  yes" in text and "Traceback" not in text
    assert text.count("S0 [430.0]: ") == 2 and text.count("eps [0.005]: ") == 2


def test_a_bad_flag_is_still_one_line_and_exit_2():
    """Non-interactive: no question asked again, the flag's error as one line."""
    done = subprocess.run([sys.executable, "-m", "mlmc_hpc", "demo", "--preset", "spy",
                           "--sigma", "-0.2", "--non-interactive"], cwd=ROOT, text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "config error: option.sigma must be > 0, got -0.2\n"
    assert done.stdout == ""


def test_preset_flag_answers_the_parameter_questions():
    term = Terminal("--preset", "spy", "--eps", "0.05", "--K", "700", "--no-compare")
    assert term.wait(timeout=30) == 0, term.text()
    text = term.text()
    assert "]: " not in text  # not one question
    assert "MLMC demo: call S0=680 K=700 T=2 r=0.02 sigma=0.1  eps=0.05" in text
    assert "converged  yes" in text


def test_ctrl_c_in_the_live_loop_is_one_line():
    term = Terminal("--preset", "giles", "--eps", "0.00005", "--no-compare")  # ~30 s to run
    term.expect(b"iter   1")
    term.expect(b"  batches ")  # inside iteration 2 (~10 s): its progress, live
    stopped = time.monotonic()
    term.send(b"\x03")  # the terminal turns it into SIGINT for the demo
    code = term.wait(timeout=30)
    text = term.text()
    assert code == 130, text
    assert time.monotonic() - stopped < 10
    assert "iter   2" not in text  # it really was stopped inside the loop
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    lines = [line for line in text.splitlines() if "interrupted" in line]
    assert lines == ["demo interrupted (SIGINT): stopped at once, nothing saved"]


@pytest.mark.parametrize(
    ("key", "line"),
    [(b"\x03", "demo interrupted (SIGINT): stopped at once, nothing saved"),
     (b"\x04", "demo cancelled: end of input at a question")],
)  # fmt: skip
def test_ctrl_c_or_ctrl_d_at_a_question_is_one_line(key, line):
    term = Terminal("--no-compare")
    term.expect(PRESET_PROMPT)
    term.send(b"giles\n")
    term.expect(b"S0 [100.0]: ")
    term.send(key)
    assert term.wait(timeout=30) == 130, term.text()
    text = term.text()
    assert "Traceback" not in text and "MLMC demo" not in text
    assert [x for x in text.splitlines() if x.startswith("demo ")] == [line]


def processes_with(marker: str) -> list[int]:
    """Processes of this user whose environment holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if marker.encode() in handle.read():
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


@needs_mpi
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to find the children")
def test_ctrl_c_in_the_comparison_ends_the_mpiexec_children():
    marker = f"MLMC_DEMO_TEST={uuid.uuid4().hex}"
    name, value = marker.split("=")
    term = Terminal("--preset", "giles", "--eps", "0.0002", "--workers", "2", env={name: value})
    term.expect(b"1 worker : mpiexec -n 2 ...")
    term.expect(b"iter   2")  # the child's progress, relayed
    assert set(processes_with(marker)) - {term.pid}, "no mpiexec child running"
    term.send(b"\x03")
    code = term.wait(timeout=30)
    text = term.text()
    assert code == 130, text
    assert "Traceback" not in text and "speedup" not in text
    assert [line for line in text.splitlines() if "interrupted" in line] == [
        "demo interrupted (SIGINT): stopped at once, nothing saved"
    ]
    deadline = time.monotonic() + 10
    while (left := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes left running: {left}"


class StopAtFirstLine(Relay):
    def show(self, line: str) -> None:
        raise Interrupted("SIGINT")


@needs_mpi
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to find the children")
def test_an_interrupted_mpi_run_ends_silent_children(monkeypatch, capsys):
    """Children that write nothing more (no broken pipe to end them) are ended too, at once."""
    marker = uuid.uuid4().hex
    monkeypatch.setenv("MLMC_DEMO_TEST", marker)  # for the children (not in our /proc environ)
    script = "import sys, time; print('started', file=sys.stderr, flush=True); time.sleep(60)"
    started = time.monotonic()
    with pytest.raises(Interrupted):
        mpi_run(
            [MPIEXEC, "-n", "2", sys.executable, "-c", script], StopAtFirstLine(sys.stdout, False)
        )
    assert time.monotonic() - started < 20
    assert not processes_with(marker)


def test_a_failing_mpi_run_is_one_line_naming_its_last_words(tmp_path, capsys):
    fake = tmp_path / "mpiexec"
    fake.write_text("#!/bin/sh\necho '  batches 1/2' >&2\necho 'error: boom' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(RunFailedError) as failed:
        mpi_run([str(fake), "-n", "2"], Relay(sys.stdout, False))
    assert str(failed.value) == "mpiexec -n 2 exited with 1: error: boom"
    assert capsys.readouterr().out == "    batches 1/2\n  error: boom\n"  # relayed, indented


@needs_mpi
def test_the_workers_line_and_the_comparison_on_a_terminal():
    term = Terminal("--preset", "giles", "--eps", "0.05")
    assert term.wait() == 0, term.text()
    text = term.text()
    workers, _ = default_workers(available_cpus(), read_cpuinfo(), {})
    assert 1 <= workers <= 8
    if workers == 1:
        assert "one worker only: nothing to compare" in text
        return
    line = re.search(r"workers: (\d+) \((.*)\)\r?\n", text)
    assert line, text
    assert int(line[1]) == workers
    assert "this process may use" in line[2] and line[2].endswith("--workers N to change")
    assert f"{workers} workers:" in text and "prices identical" in text


@needs_mpi
def test_the_comparison_relays_the_childrens_progress():
    """In a log (no terminal) the children's progress lines come indented, as they come."""
    done = subprocess.run([sys.executable, "-m", "mlmc_hpc", "demo", "--preset", "giles",
                           "--eps", "0.05", "--workers", "2", "--non-interactive"], cwd=ROOT,
                          text=True, capture_output=True, stdin=subprocess.DEVNULL,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "workers: 2 (--workers" in out
    one = out[out.index("  1 worker : mpiexec -n 2 ...") : out.index("  1 worker :  ")]
    many = out[out.index("  2 workers: mpiexec -n 3 ...") : out.index("  2 workers:  ")]
    assert "iter   1  L=" in one and "busy 1/1" in one
    assert "iter   1  L=" in many and "busy" in many
    assert all(len(line) <= 100 for line in out.splitlines() if "iter" in line)


CPUINFO_2X8X2 = "\n\n".join(  # 2 sockets, 8 cores each, 2 hyperthreads per core
    f"processor\t: {cpu}\nphysical id\t: {cpu // 16}\ncore id\t\t: {cpu % 8}\n" for cpu in range(32)
)


def test_default_workers_counts_physical_cores_and_caps_a_login_node():
    everything = set(range(32))
    assert physical_cores(everything, CPUINFO_2X8X2) == 16
    assert physical_cores({0, 8, 1, 9}, CPUINFO_2X8X2) == 2  # two hyperthreads of two cores
    assert physical_cores(everything, "processor\t: 0\nBogoMIPS\t: 50\n") is None
    workers, why = default_workers(everything, CPUINFO_2X8X2, {})
    assert workers == 8 and why == ("16 physical cores among the 32 CPUs this process may "
                                    "use; at most 8 on a login node (no SLURM_JOB_ID)")  # fmt: skip
    assert default_workers(everything, CPUINFO_2X8X2, {"SLURM_JOB_ID": "7"})[0] == 16
    assert default_workers({0, 8, 1, 9}, CPUINFO_2X8X2, {}) == (
        2, "2 physical cores among the 4 CPUs this process may use")  # fmt: skip
    assert default_workers({0, 1, 2}, "", {}) == (
        3, "3 CPUs this process may use, physical cores unknown")  # fmt: skip
