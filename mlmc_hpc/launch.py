"""The ``run`` command: validate everything first, then price, save and report."""

from __future__ import annotations

import argparse
import sys

from .app import price, resolved, serial_executor
from .backend import resolve_backend
from .cli import EXIT_OK, check_output_path, config_from_args, emit_summary, print_config_error
from .config import Config, ConfigError
from .summary import progress_line


def prepare(args: argparse.Namespace) -> Config:
    """Merged, validated config with backend and batch size resolved; raises ConfigError."""
    config = config_from_args(args)
    config = resolved(config, resolve_backend(config.run.backend))
    check_output_path(config.run.output)
    return config


def reporters(config: Config, quiet: bool):
    def progress(record) -> None:
        progress.count += 1
        if not quiet:
            line = progress_line(progress.count, record, config.mlmc.eps, config.mlmc.theta)
            print(line, file=sys.stderr, flush=True)

    progress.count = 0

    def warn(message: str) -> None:
        print(f"warning: {message}", file=sys.stderr, flush=True)

    return progress, warn


def run_command(args: argparse.Namespace) -> int:
    try:
        config = prepare(args)
    except ConfigError as error:
        return print_config_error(error)
    progress, warn = reporters(config, args.quiet)
    result = price(config, serial_executor(config), progress=progress, warn=warn)
    result.save(config.run.output)
    emit_summary(result, config.run.output, args.json)
    return EXIT_OK
