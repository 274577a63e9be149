"""The ``book`` command: price a whole book of contracts in one job.

Every contract is validated first (one line naming the row, exit 2, nothing run); then all
contracts' adaptive runs share the workers (:mod:`mlmc_hpc.pricing.book`), here or under
``mpiexec``; the result is one HDF5 file with a ``book`` table and each contract's run
(:mod:`mlmc_hpc.io.book_result`). Exit codes as ``run``: 0, 1, 2, 75 (continue with
``--resume``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..config.book import BookConfig, load_book_config
from ..config.loading import load_config_text
from ..errors import ConfigError, ExitCode, ResumeError
from ..io.book_result import BookResult
from ..io.checkpoint import config_differences, resume_from
from ..io.hdf5 import check_writable
from ..io.lock import acquire, lock_path, release
from ..parallel.executor import BatchExecutor
from ..parallel.roles import launch
from ..pricing.book_run import run_book
from ..pricing.rel_eps import resolve_book_rel_eps
from .base import (
    add_config_options,
    add_job_options,
    config_source,
    flag_overrides,
    live_progress,
    stop_request,
)

BOOK_EXAMPLES = """examples:
  python -m mlmc_hpc book configs/book.yaml
  mpiexec -n 9 python -m mlmc_hpc book nightly.yaml --output results/nightly.h5 --json
  python -m mlmc_hpc book nightly.yaml --output results/nightly.h5 --resume
"""
SHOWN = 20  # contracts listed in the text summary


def add_parser(commands: Any) -> None:
    """The ``book`` sub-command and its flags."""
    book = commands.add_parser(
        "book", help="price a book of contracts in one job",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=BOOK_EXAMPLES,
    )  # fmt: skip
    add_config_options(
        book,
        "a book YAML with contracts: a list or a CSV file",
        set_help="override a shared key, e.g. --set mlmc.eps=0.005 (repeatable)",
    )
    add_job_options(book, "book")


def book_config_from_args(args: argparse.Namespace) -> BookConfig:
    """Defaults < the book's shared sections < --set < the flags; then every contract."""
    source = config_source(args)
    if source is None:
        raise ConfigError("book needs a config with contracts: python -m mlmc_hpc book FILE")
    overrides = flag_overrides(args, (("run.seed", args.seed), ("run.output", args.output),
                                      ("run.backend", args.backend)))  # fmt: skip
    return resolve_book_rel_eps(load_book_config(source, overrides))


def prepare(args: argparse.Namespace) -> tuple[BookConfig, BookResult | None]:
    """The validated book and, with --resume, the saved one; ConfigError before any work."""
    book = book_config_from_args(args)
    output = book.run.output
    lock = acquire(output)
    try:
        check_writable(output, overwrite=args.overwrite, resume=args.resume)
        if not args.resume:
            return book, None
        try:
            saved = BookResult.load(output)
        except (OSError, KeyError, TypeError) as exc:
            raise ResumeError(f"--resume: {output} is not a readable book ({exc})") from None
        if saved.finished:
            raise ResumeError(f"--resume: {output} holds a finished book; nothing to resume")
        names = [c.name for c in book.contracts]
        stored = [str(n) for n in saved.book.get("name", [])]
        if any(name not in names for name in stored) or saved.contracts != len(names):
            raise ResumeError(f"--resume: the contracts do not match {output}; rerun with the "
                              f"original book or write elsewhere with --output")  # fmt: skip
        check_saved_contracts(book, saved, output)
        return book, saved
    except ConfigError:
        release(lock)
        raise


def check_saved_contracts(book: BookConfig, saved: BookResult, output: str) -> None:
    """ResumeError unless every saved contract (finished or not) has its row's config, and
    every unfinished one a checkpoint that resumes (checked before any work)."""
    for contract in book.contracts:
        prior = saved.results.get(contract.name)
        if prior is None:
            continue
        where = f"{output} contract {contract.name}"
        if not prior.finished:
            resume_from(prior, contract, where)  # its checks: damage, checksum, config
            continue
        try:
            differences = config_differences(load_config_text(prior.config), contract)
        except ValueError:
            differences = ["its stored config cannot be read"]
        if differences:
            raise ResumeError(f"--resume: {where} does not match the book: {differences[0]}; "
                              f"rerun with the original book or write elsewhere")  # fmt: skip


def main(args: argparse.Namespace) -> int:
    """Price the book, save it, print the summary; exit 0, 1, 2 or 75."""

    def job(book: BookConfig, resume: BookResult | None, executor: BatchExecutor) -> int:
        try:
            executor.watch(stop_request(book.base, args.stop).reason)
            live = live_progress(executor, args.quiet, book.run.progress_s)
            total = len(book.contracts)

            def report(index: int, done: int, tasks: int, seconds: float) -> None:
                if live:
                    live.clear()
                if not args.quiet:
                    line = (f"round {index:3d}  contracts done {done}/{total}  batches "
                            f"{tasks}  {seconds:.2f} s{executor.status()}")  # fmt: skip
                    print(line, file=sys.stderr, flush=True)

            def warn(message: str) -> None:
                if live:
                    live.clear()
                print(f"warning: {message}", file=sys.stderr, flush=True)

            result = run_book(book, executor, report, warn, resume, book.run.output)
            return save_and_report(result, book.run.output, args.json)
        finally:
            release(lock_path(book.run.output))

    return launch(lambda: prepare(args), job)


def save_and_report(result: BookResult, output: str, as_json: bool) -> int:
    """Write the book, then the summary; 75 when stopped early."""
    result.save(output)
    if result.interrupted:
        print(f"interrupted ({result.stop_reason}); checkpoint saved to {output}; continue "
              f"with the same command plus --resume", file=sys.stderr, flush=True)  # fmt: skip
        return ExitCode.INTERRUPTED
    table = result.book
    if as_json:
        rows = [{name: _plain(table[name][i]) for name in table} for i in range(result.contracts)]
        print(json.dumps({"name": result.name, "contracts": result.contracts,
                          "converged_count": result.converged_count,
                          "wall_time_s": result.wall_time_s, "n_workers": result.n_workers,
                          "output": output, "book": rows}))  # fmt: skip
        return ExitCode.OK
    print(f"{'contract':<16} {'type':<9} {'price':>12} {'std_error':>10} conv  L")
    for i in range(min(SHOWN, result.contracts)):
        print(f"{str(table['name'][i]):<16} {str(table['type'][i]):<9} {table['price'][i]:12.6f} "
              f"{table['std_error'][i]:10.2e} {'yes ' if table['converged'][i] else 'NO  '} "
              f"{int(table['L'][i]):2d}")  # fmt: skip
    if result.contracts > SHOWN:
        print(f"... and {result.contracts - SHOWN} more (report --csv, or BookResult.load)")
    print(
        f"book       {result.contracts} contracts, {result.converged_count} converged, "
        f"{result.wall_time_s:.2f} s on {result.n_workers} worker(s)\nresult     {output}"
    )
    return ExitCode.OK


def _plain(value: Any) -> Any:
    item = value.item() if hasattr(value, "item") else value
    return item if not isinstance(item, float) or item == item else None
