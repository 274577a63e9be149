"""Command line: ``python -m mlmc_hpc [run] --config FILE ...`` (``run`` is the default).

The argparse tree and dispatch only: each verb's flags and work live in
:mod:`mlmc_hpc.commands` (one module per verb). Exit codes (:class:`~mlmc_hpc.errors.
ExitCode`): 0 success (also when the bias test failed at Lmax: the result says
``converged = false`` and a warning is printed), 2 bad input (one line on stderr,
nothing written), 1 a failure during the run, 75 stopped early by SIGTERM, SIGUSR1,
SIGINT or the Slurm job's end (checkpoint saved; rerun with ``--resume``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType
from typing import TYPE_CHECKING

from ._version import __version__
from .errors import ExitCode

if TYPE_CHECKING:
    from .parallel.stopping import StopRequest

SUBCOMMANDS = ("run", "test", "report", "demo", "risk", "book")
EXAMPLES = """examples:
  python -m mlmc_hpc --config spy                        price the SPY preset (run is the default)
  python -m mlmc_hpc configs/tsla.yaml --eps 0.001       a config file, a tighter target
  python -m mlmc_hpc run spy --rel-eps 1e-4              eps = 1 bp of the price
  mpiexec -n 4 python -m mlmc_hpc --config spy           one master and three workers
  python -m mlmc_hpc risk --config notebook_var          portfolio VaR and CVaR
  python -m mlmc_hpc book configs/book.yaml              a book of contracts in one job
  python -m mlmc_hpc report results/spy.h5 --plot figs   tables and figures
  python -m mlmc_hpc <command> --help                    the flags of one command
"""


def command_module(name: str) -> ModuleType:
    """The module of one verb, imported on demand (``report`` never loads the sampler)."""
    return importlib.import_module(f".commands.{name}", __package__)


def build_parser() -> argparse.ArgumentParser:
    """The whole argparse tree: every verb adds its own sub-parser."""
    parser = argparse.ArgumentParser(
        prog="mlmc-hpc",
        description="Adaptive multilevel Monte Carlo option pricing (Giles' MLMC, Milstein GBM).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXAMPLES,
    )
    parser.add_argument("--version", action="version", version=f"mlmc_hpc {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        command_module(name).add_parser(commands)
    return parser


def normalise_argv(argv: list[str]) -> list[str]:
    """Insert the default ``run`` command unless a subcommand, help or --version is given."""
    if argv and (argv[0] in SUBCOMMANDS or argv[0] in ("-h", "--help", "--version")):
        return argv
    return ["run", *argv]


def main(argv: list[str] | None = None, stop: StopRequest | None = None) -> int:
    """Parse ``argv`` (default: sys.argv[1:]) and run the verb; returns the exit code.

    ``stop``: the stop-signal handler the entry point installed before anything else; the
    ``run`` and ``risk`` commands watch it, every other command gets the default handlers back (and
    does not start if a stop signal already came)."""
    args = build_parser().parse_args(normalise_argv(list(sys.argv[1:] if argv is None else argv)))
    if args.command not in SUBCOMMANDS:
        return ExitCode.USAGE
    args.stop = stop
    if stop is not None and args.command not in ("run", "risk", "book"):
        stop.uninstall()
        if stop.signal_name:
            print(f"received {stop.signal_name} before the start; not started",
                  file=sys.stderr, flush=True)  # fmt: skip
            return ExitCode.INTERRUPTED
    return int(command_module(args.command).main(args))
