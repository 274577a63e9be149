"""The ``demo`` command: the study's poster demo in a plain terminal.

Choose a preset or enter S0, K, T, sigma, r and eps; watch the adaptive loop live (samples
per level, variance and bias against their targets, elapsed time); then the same problem
under mpiexec on one worker and on all workers, with both times and the speedup.

On a terminal a wrong answer (a preset name with a typo, ``abc`` for S0, a negative sigma,
eps 0) asks that question again, saying what is allowed; ``--preset`` answers every
parameter question (a flag still overrides one). Flags answer every question, so scripts
and tests run it without a terminal; there a bad value is one line on stderr and exit 2.
Ctrl-C (or SIGTERM, SIGHUP) at any moment ends the demo at once with one line and exit 130
(nothing is saved; any mpiexec children are ended first).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from ..config.loading import load_config, parse_assignment, preset_config, preset_names
from ..config.schema import Config
from ..core.driver import IterationRecord
from ..errors import ConfigError, ExitCode, RunFailedError, config_error_exit, failure_exit
from ..parallel.executor import serial_executor
from ..pricing.run import run_pricing
from ..render.live import LiveProgress
from ..render.progress import WIDTH, progress_line
from ..render.summary import price_lines
from .demo_compare import LineReader, compare, workers_line

PARAMETERS = ("S0", "K", "T", "sigma", "r", "eps")
KEYS = {"S0": "option.S0", "K": "option.K", "T": "option.T", "sigma": "option.sigma",
        "r": "option.r", "eps": "mlmc.eps", "type": "option.type"}  # fmt: skip
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def add_parser(commands: Any) -> None:
    """The ``demo`` sub-command and its flags."""
    demo = commands.add_parser("demo", help="live demo: one problem, progress, speedup")
    demo.add_argument("--preset", metavar="{aapl,giles,spy,tsla}",
                      help="a packaged preset (answers the parameter questions)")  # fmt: skip
    for name in PARAMETERS:
        demo.add_argument(f"--{name}", help=f"{name} (overrides the preset)")
    demo.add_argument("--type", metavar="{call,put,asian,lookback,digital,barrier}",
                      help="option type (default call)")  # fmt: skip
    demo.add_argument("--workers", help="workers for the parallel run (default: the physical "
                      "cores, at most 8 outside a Slurm job)")  # fmt: skip
    demo.add_argument("--no-compare", action="store_true",
                      help="skip the one-worker against all-workers comparison")  # fmt: skip
    demo.add_argument("--non-interactive", action="store_true",
                      help="never prompt; missing values come from the preset")  # fmt: skip


class Interrupted(KeyboardInterrupt):
    """A stop signal during the demo; its argument is the signal's name."""


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` (signals ignored when the demo
    started stay ignored); after the first, all three are ignored so the clean-up (ending
    the mpiexec children) runs to its end. The previous handlers come back at the end."""
    names = [n for n in STOP_SIGNALS if hasattr(signal, n)
             and signal.getsignal(getattr(signal, n)) is not signal.SIG_IGN]  # fmt: skip
    previous = {name: signal.getsignal(getattr(signal, name)) for name in names}

    def stop(signum: int, frame: FrameType | None) -> None:
        for name in names:
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        raise Interrupted(signal.Signals(signum).name)

    for name in names:
        signal.signal(getattr(signal, name), stop)
    try:
        yield
    finally:
        for name, handler in previous.items():
            if handler is not None:
                signal.signal(getattr(signal, name), handler)


def preset_values(name: str) -> dict[str, Any]:
    """S0, K, T, sigma, r, eps of a packaged preset (the same files as --config NAME)."""
    config = preset_config(name)
    o = config.option
    return dict(S0=o.S0, K=o.K, T=o.T, sigma=o.sigma, r=o.r, eps=config.mlmc.eps)


def parse(name: str, text: str) -> Any:
    """An answer or flag value as ``--set`` reads it (YAML: ``0.2`` a number, ``abc`` text)."""
    return parse_assignment(f"{KEYS[name]}={text}")[1]


def demo_config(values: dict[str, Any], output: str) -> Config:
    """The demo's problem as a config (defaults for everything not asked)."""
    overrides = [(KEYS[k], values[k]) for k in ("type", *PARAMETERS)]
    return load_config(overrides=[*overrides, ("run.output", output), ("name", "demo")])


class Questions:
    """Questions on the terminal, answered on stdin (never input(): see LineReader)."""

    def __init__(self) -> None:
        self.reader = LineReader(sys.stdin.fileno())

    def __call__(self, question: str, default: str) -> str:
        """One question; the default when the answer is empty (EOFError at end of input)."""
        print(f"{question} [{default}]: ", end="", flush=True)
        answer = self.reader.readline()
        if answer is None:
            raise EOFError
        return answer.strip() or default


Ask = Callable[[str, str], str]


def ask_preset(ask: Ask, names: list[str]) -> str:
    """The preset, asked until the answer is one of ``names``."""
    while True:
        answer = ask(f"preset ({', '.join(names)})", "aapl")
        if answer in names:
            return answer
        close = difflib.get_close_matches(answer, names, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]}?" if close else ""
        print(f"  no preset {answer!r}{hint} (one of {', '.join(names)})", flush=True)


def ask_number(ask: Ask, name: str, values: dict[str, Any]) -> Any:
    """``name`` asked until the config built with the answer is valid (the config's own
    rules and message, e.g. ``option.sigma must be > 0, got -0.2``)."""
    while True:
        answer = parse(name, ask(name, str(values[name])))
        try:
            demo_config({**values, name: answer}, "demo.h5")
        except ConfigError as error:
            print(f"  {error}", flush=True)
            continue
        return answer


def choose(args: argparse.Namespace, ask: Ask | None) -> dict[str, Any]:
    """Preset and parameters from flags, then (with ``ask``, on a terminal) from questions.
    A bad flag raises ConfigError (exit 2); a bad answer asks again."""
    names = preset_names()
    preset = args.preset or (ask_preset(ask, names) if ask else "aapl")
    if preset not in names:
        raise ConfigError(f"--preset must be one of {', '.join(names)}, got {preset!r}")
    values = dict(preset_values(preset), type="call")
    flags = {name: getattr(args, name) for name in ("type", *PARAMETERS)}
    values.update({name: parse(name, text) for name, text in flags.items() if text is not None})
    demo_config(values, "demo.h5")  # the flags, checked before any question
    if ask and not args.preset:
        for name in PARAMETERS:
            if flags[name] is None:
                values[name] = ask_number(ask, name, values)
    return values


def requested_workers(text: str | None) -> int | None:
    """``--workers`` as an integer >= 1 (None when not given); ConfigError otherwise."""
    if text is None:
        return None
    try:
        workers = int(text)
    except ValueError:
        workers = 0
    if workers < 1:
        raise ConfigError(f"--workers must be an integer >= 1, got {text!r}")
    return workers


def live_run(config: Config) -> float:
    """The adaptive loop in this process, one line per iteration (and progress inside an
    iteration: rewritten in place on a terminal); returns the wall time."""
    started = time.perf_counter()
    count = 0
    executor = serial_executor(config)
    live = LiveProgress(sys.stdout, config.run.progress_s)
    executor.watch_batches(live)

    def progress(record: IterationRecord) -> None:
        nonlocal count
        count += 1
        elapsed = time.perf_counter() - started
        live.clear()
        print("  " + progress_line(count, record, config.mlmc, elapsed, WIDTH - 2), flush=True)

    result = run_pricing(config, executor, progress)
    live.clear()
    print(price_lines(result), flush=True)
    return result.wall_time_s


def run_demo(args: argparse.Namespace) -> int:
    """Ask (or take from flags), run live, then compare 1 and N workers."""
    interactive = not args.non_interactive and sys.stdin.isatty()
    try:
        values = choose(args, Questions() if interactive else None)
        workers = requested_workers(args.workers)
    except ConfigError as error:
        return config_error_exit(error)
    with tempfile.TemporaryDirectory(prefix="mlmc-demo-") as directory:
        config = demo_config(values, str(Path(directory) / "demo.h5"))
        o = config.option
        print(f"MLMC demo: {o.type} S0={o.S0:g} K={o.K:g} T={o.T:g} r={o.r:g} "
              f"sigma={o.sigma:g}  eps={config.mlmc.eps:g}", flush=True)  # fmt: skip
        if not args.no_compare:
            workers, line = workers_line(workers)
            print(line, flush=True)
        print(flush=True)
        live_run(config)
        if not args.no_compare:
            print(flush=True)
            try:
                compare(config, workers or 1, Path(directory))
            except RunFailedError as error:
                if sys.stdout.isatty():
                    print(flush=True)  # off the live line
                return failure_exit(error)
    return ExitCode.OK


def main(args: argparse.Namespace) -> int:
    """The demo; a stop signal or the end of input at a question ends it with one line."""
    with stop_signals():
        try:
            return run_demo(args)
        except KeyboardInterrupt as stop:  # Interrupted, or a SIGINT before the handlers
            name = stop.args[0] if stop.args else "SIGINT"
            message = f"demo interrupted ({name}): stopped at once, nothing saved"
        except EOFError:
            message = "demo cancelled: end of input at a question"
        with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
            if sys.stdout.isatty():
                print(flush=True)  # off the prompt or the live line
            print(message, file=sys.stderr, flush=True)
        return ExitCode.STOPPED_AT_ONCE
