"""What the command modules share: config flags, progress and warning printers, the
summary, and the stop watch for the process that runs the loop."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

from ..config.loading import load_config, parse_assignment
from ..config.risk_schema import RiskConfig
from ..config.schema import Config
from ..core.driver import IterationRecord
from ..errors import ConfigError
from ..io.run_result import RunResult
from ..parallel.executor import BatchExecutor
from ..parallel.stopping import StopRequest, job_end_time
from ..render.live import LiveProgress
from ..render.progress import WIDTH, progress_line
from ..render.summary import price_lines, summary_dict
from ..render.tables import level_table


def add_config_argument(parser: argparse.ArgumentParser, presets: str) -> None:
    """--config FILE, and the same as a bare positional argument (``run configs/x.yaml``)."""
    parser.add_argument("config_file", nargs="?", metavar="CONFIG",
                        help="config file or preset, as --config")  # fmt: skip
    parser.add_argument("--config", help=f"YAML config file or preset ({presets}); the "
                        f"packaged defaults fill missing keys")  # fmt: skip


def config_source(args: argparse.Namespace) -> str | None:
    """The config named by --config or the bare argument (ConfigError if both differ)."""
    bare, flag = getattr(args, "config_file", None), args.config
    if bare is not None and flag is not None and bare != flag:
        raise ConfigError(f"two configs given: {bare} and --config {flag}; give one")
    return flag if flag is not None else bare


def add_config_options(
    parser: argparse.ArgumentParser,
    presets: str = "aapl | giles | spy | tsla",
    backends: str = "auto,numpy,cupy",
    set_help: str = "override any config key, e.g. --set mlmc.theta=0.5 (repeatable)",
) -> None:
    """CONFIG / --config (naming ``presets``), --seed, --backend (one of ``backends``) and
    --set (repeatable) of every command that reads a config."""
    add_config_argument(parser, presets)
    parser.add_argument("--seed", help="master seed (overrides run.seed)")
    parser.add_argument("--backend", metavar=f"{{{backends}}}",
                        help="where batches run (overrides run.backend)")  # fmt: skip
    parser.add_argument(
        "--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help=set_help
    )


def add_job_options(parser: argparse.ArgumentParser, what: str) -> None:
    """--output, --overwrite, --resume, --json and --quiet of a job (run, risk, book) that
    writes ``what`` (``"run"``, ``"risk run"``, ``"book"``)."""
    parser.add_argument("--output", help="HDF5 result path (overrides run.output)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a finished result at the output path")  # fmt: skip
    parser.add_argument("--resume", action="store_true",
                        help=f"continue the unfinished {what} saved in the output file "
                             f"(same config and seed)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def flag_overrides(args: argparse.Namespace, flags: Iterable[tuple[str, Any]]) -> list[Any]:
    """``--set`` pairs, then each dedicated flag that was given (``("run.seed", args.seed)``):
    the command line's part of the precedence defaults < file < command line."""
    overrides = [parse_assignment(item) for item in args.set]
    overrides += [parse_assignment(f"{key}={value}") for key, value in flags if value is not None]
    return overrides


def config_from_args(
    args: argparse.Namespace, output: str | None = None, probe: bool = True
) -> Config:
    """The config: packaged defaults < --config < --set < the dedicated flags."""
    overrides = flag_overrides(args, (
        ("mlmc.eps", getattr(args, "eps", None)),
        ("mlmc.rel_eps", getattr(args, "rel_eps", None)),
        ("run.seed", args.seed),
        ("run.output", output),
        ("run.backend", args.backend),
    ))  # fmt: skip
    return load_config(config_source(args), overrides, probe)


def stop_request(config: Config | RiskConfig, early: StopRequest | None = None) -> StopRequest:
    """Signal handlers and the Slurm end-time watch for the process that runs the loop:
    ``early`` (installed by the entry point, so it has seen any signal of the start-up)
    with the job's end set, else a new one installed now."""
    stop = early or StopRequest()
    stop.end_time, stop.margin_s = job_end_time(), config.run.end_margin_s
    if early is None:
        stop.install()
    return stop


def live_progress(executor: BatchExecutor, quiet: bool, interval_s: float,
                  unit: str = "timesteps") -> LiveProgress | None:  # fmt: skip
    """Progress inside each request on stderr (:mod:`mlmc_hpc.render.live`), unless quiet."""
    if quiet:
        return None
    live = LiveProgress(sys.stderr, interval_s, unit)
    executor.watch_batches(live)
    return live


def reporters(
    config: Config, quiet: bool, status: Callable[[], str] | None = None,
    live: LiveProgress | None = None,
) -> tuple[Callable[[IterationRecord], None], Callable[[str], None]]:  # fmt: skip
    """(progress, warn): a progress line per iteration on stderr (unless quiet) with the
    executor's ``status()`` appended, and ``warning: ...`` lines; both clear the ``live``
    line first."""
    count = 0

    def progress(record: IterationRecord) -> None:
        nonlocal count
        count += 1
        if not quiet:
            suffix = status() if status else ""
            line = progress_line(count, record, config.mlmc, width=WIDTH - len(suffix))
            if live:
                live.clear()
            print(line + suffix, file=sys.stderr, flush=True)

    def warn(message: str) -> None:
        if live:
            live.clear()
        print(f"warning: {message}", file=sys.stderr, flush=True)

    return progress, warn


def emit_summary(result: RunResult, output: str, as_json: bool) -> None:
    """The level table and price lines, or (``--json``) the summary as one JSON object."""
    if as_json:
        print(json.dumps(summary_dict(result, output)))
    else:
        print(level_table(result))
        print(price_lines(result))
        print(f"result     {output}")
