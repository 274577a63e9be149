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

SUBCOMMANDS = ("run", "test", "report", "demo")
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 75  # stopped early (signal or job end); checkpoint saved, use --resume


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlmc-hpc",
        description="Adaptive multilevel Monte Carlo option pricing (Giles' MLMC, Milstein GBM).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", help="price an option (the default command)")
    add_config_options(run)
    run.add_argument("--eps", help="target RMS error (overrides mlmc.eps)")
    run.add_argument("--output", help="HDF5 result path (overrides run.output)")
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue the unfinished run saved in the output file (same config and seed)",
    )
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument("--quiet", action="store_true", help="no per-iteration progress lines")

    test = commands.add_parser(
        "test", help="Giles' convergence and complexity tests (mlmc_test), saved to HDF5"
    )
    add_config_options(test)
    test.add_argument("--samples", default="20000", help="N samples per level (default 20000)")
    test.add_argument("--levels", default="8", help="convergence test on levels 0..L (default 8)")
    test.add_argument("--eps-list", default="0.005,0.01,0.02,0.05,0.1",
                      help="complexity test accuracies, comma separated")  # fmt: skip
    test.add_argument("--repeat", default="1",
                      help="K runs per eps: RMS error against the closed form")  # fmt: skip
    test.add_argument("--output", help="HDF5 path (default results/NAME-test.h5)")
    test.add_argument("--quiet", action="store_true", help="no progress lines on stderr")

    report = commands.add_parser("report", help="tables (and --plot figures) from HDF5 results")
    report.add_argument("files", nargs="+", metavar="RESULT.h5", help="run or test results")
    report.add_argument("--plot", metavar="DIR", help="write PNG figures to DIR (matplotlib)")

    demo = commands.add_parser("demo", help="live demo: one problem, progress, speedup")
    demo.add_argument("--preset", help="aapl | tsla | spy | giles (or enter parameters)")
    for name in ("S0", "K", "T", "sigma", "r", "eps"):
        demo.add_argument(f"--{name}", help=f"{name} (overrides the preset)")
    demo.add_argument("--type", help="option type (default call)")
    demo.add_argument("--workers", help="workers for the parallel run (default: CPU count)")
    demo.add_argument("--no-compare", action="store_true",
                      help="skip the one-worker against all-workers comparison")  # fmt: skip
    demo.add_argument("--non-interactive", action="store_true",
                      help="never prompt; missing values come from the preset")  # fmt: skip
    return parser


def add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config file (defaults are used for missing keys)")
    parser.add_argument("--seed", help="master seed (overrides run.seed)")
    parser.add_argument("--backend", help="auto | numpy | cupy (overrides run.backend)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override any config key, e.g. --set mlmc.theta=0.5 (repeatable)",
    )


def normalise_argv(argv: list[str]) -> list[str]:
    """Insert the default ``run`` command unless a subcommand or top-level help is given."""
    if argv and (argv[0] in SUBCOMMANDS or argv[0] in ("-h", "--help")):
        return argv
    return ["run", *argv]


def config_from_args(args: argparse.Namespace):
    overrides = [parse_assignment(item) for item in args.set]
    for key, value in (
        ("mlmc.eps", getattr(args, "eps", None)),
        ("run.seed", args.seed),
        ("run.output", args.output if args.command == "run" else None),
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
    if args.command == "test":
        from .diagnose import test_command

        return test_command(args)
    if args.command == "report":
        from .report import report_command

        return report_command(args)
    if args.command == "demo":
        from .demo import demo_command

        return demo_command(args)
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
