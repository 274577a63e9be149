"""Command line: ``python -m mlmc_hpc [run] --config FILE ...`` (``run`` is the default).

Exit codes: 0 success (also when the bias test failed at Lmax: the result says
``converged = false`` and a warning is printed), 2 bad input (one line on stderr,
nothing written), 1 a failure during the run, 75 stopped early by SIGTERM, SIGUSR1,
SIGINT or the Slurm job's end (checkpoint saved; rerun with ``--resume``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .config import ConfigError, load_config, parse_assignment

SUBCOMMANDS = ("run",)
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 75  # stopped early (signal or job end); checkpoint saved, use --resume


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlmc-hpc",
        description="Adaptive multilevel Monte Carlo option pricing (Giles' MLMC, Milstein GBM).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", help="price an option (the default command)")
    run.add_argument("--config", help="YAML config file (defaults are used for missing keys)")
    run.add_argument("--eps", help="target RMS error (overrides mlmc.eps)")
    run.add_argument("--seed", help="master seed (overrides run.seed)")
    run.add_argument("--output", help="HDF5 result path (overrides run.output)")
    run.add_argument("--backend", help="auto | numpy | cupy (overrides run.backend)")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override any config key, e.g. --set mlmc.theta=0.5 (repeatable)",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue the unfinished run saved in the output file (same config and seed)",
    )
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument("--quiet", action="store_true", help="no per-iteration progress lines")
    return parser


def normalise_argv(argv: list[str]) -> list[str]:
    """Insert the default ``run`` command unless a subcommand or top-level help is given."""
    if argv and (argv[0] in SUBCOMMANDS or argv[0] in ("-h", "--help")):
        return argv
    return ["run", *argv]


def config_from_args(args: argparse.Namespace):
    overrides = [parse_assignment(item) for item in args.set]
    for key, value in (
        ("mlmc.eps", args.eps),
        ("run.seed", args.seed),
        ("run.output", args.output),
        ("run.backend", args.backend),
    ):
        if value is not None:
            overrides.append(parse_assignment(f"{key}={value}"))
    return load_config(args.config, overrides)


def check_output_path(output: str) -> None:
    """Refuse, before any work, an output the run could not write."""
    path = Path(output)
    if path.is_dir():
        raise ConfigError(
            f"run.output must be a file path such as results/run.h5, got directory {output}"
        )
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"run.output {output} cannot be written: {parent} is not a writable directory"
        )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(normalise_argv(list(sys.argv[1:] if argv is None else argv)))
    if args.command == "run":
        from .launch import run_command

        return run_command(args)
    return EXIT_USAGE


def print_config_error(error: ConfigError) -> int:
    print(f"config error: {error}", file=sys.stderr)
    return EXIT_USAGE


def emit_summary(result, output: str, as_json: bool) -> None:
    from .summary import level_table, price_lines, summary_dict

    if as_json:
        print(json.dumps(summary_dict(result, output)))
    else:
        print(level_table(result))
        print(price_lines(result))
        print(f"result     {output}")
