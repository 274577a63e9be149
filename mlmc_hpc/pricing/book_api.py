"""The public Python API of the book command: ``mlmc_hpc.price_book(...)``.

It validates as ``python -m mlmc_hpc book`` does (every contract up front, one-line
:class:`~mlmc_hpc.errors.ConfigError`), runs in this process unless an executor is passed
in, writes a file only when ``output`` is given, and returns the
:class:`~mlmc_hpc.io.book_result.BookResult` that ``BookResult.load(path)`` returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..config.book import load_book_config
from ..io.book_result import BookResult
from ..parallel.executor import BatchExecutor
from .book_run import run_book
from .calls import run_and_save
from .rel_eps import resolve_book_rel_eps


def price_book(
    book: str | Path | Mapping[str, Any],
    *,
    executor: BatchExecutor | None = None,
    output: str | None = None,
    overrides: Iterable[tuple[str, Any]] = (),
    overwrite: bool = False,
) -> BookResult:
    """Price every contract of ``book`` (a YAML path, or a dict with ``contracts``: a list
    of option dicts or a CSV path) in one job; ``overrides`` take dotted pairs for the shared
    sections (``("mlmc.eps", 0.005)``). Each contract's result is bit-identical to a single
    ``price()`` of its stored config."""
    pairs = list(overrides) + ([("run.output", output)] if output else [])
    resolved = resolve_book_rel_eps(load_book_config(book, pairs))
    return run_and_save(resolved, bool(output), overwrite, executor,
                        lambda runner: run_book(resolved, runner))  # fmt: skip
