"""The public Python API: ``mlmc_hpc.price(...)`` for notebooks and scripts.

It validates exactly as the command line does (the same :func:`load_config`, the same
one-line :class:`~mlmc_hpc.errors.ConfigError`), runs in this process unless an executor
is passed in, writes no file unless ``run.output`` is given, and returns the same
:class:`~mlmc_hpc.io.run_result.RunResult` that ``RunResult.load(path)`` returns.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any

from ..config.checks import SCHEMA
from ..config.loading import ConfigSource, load_config
from ..config.schema import Config
from ..core.driver import IterationRecord
from ..errors import ConfigError
from ..io.run_result import RunResult
from ..parallel.executor import BatchExecutor
from .calls import names_output, run_and_save, warn
from .rel_eps import resolve_rel_eps
from .run import run_pricing


def keyword_overrides(keywords: dict[str, Any]) -> list[tuple[str, Any]]:
    """``eps=0.01`` -> ``("mlmc.eps", 0.01)``: every key name is unique across sections,
    so a keyword names one; ``name`` is the top-level label. Unknown names are refused."""
    owner = {key: section for section, keys in SCHEMA.items() for key in keys}
    pairs = []
    for key, value in keywords.items():
        if key == "name":
            pairs.append(("name", value))
        elif key in owner:
            pairs.append((f"{owner[key]}.{key}", value))
        else:
            close = difflib.get_close_matches(key, [*owner, "name"], n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(f"unknown keyword {key} (a key of option, mlmc or run){hint}")
    return pairs


def price(
    config: ConfigSource | Config = None,
    *,
    executor: BatchExecutor | None = None,
    output: str | None = None,
    progress: Callable[[IterationRecord], None] | None = None,
    overrides: Iterable[tuple[str, Any]] = (),
    overwrite: bool = False,
    **keywords: Any,
) -> RunResult:
    """Price one option by adaptive MLMC (or plain MC) and return its :class:`RunResult`.

    ``config``: a dict in the YAML schema (partial sections are filled from the packaged
    defaults), a YAML path, a preset name (``"spy"``), a loaded :class:`Config`, or None
    for the defaults. Keywords override single keys by name (``eps=0.001``, ``sigma=0.3``,
    ``seed=7``); ``overrides`` takes dotted pairs (``("mlmc.eps", 0.001)``). The result is
    written (atomically, never over an unfinished run, over a finished result only with
    ``overwrite=True``, never over anything else) only when the call names the path:
    ``output=``, ``run.output`` in a dict source, or an override; the ``run.output`` of a
    YAML file or preset is the command line's default and is not used here. ``executor``
    defaults to this process; one passed in must be new and built for this config (else
    ValueError). ``progress(record)`` is called after every iteration; the driver's warnings
    and the run's notes (an Lmin raised to the problem's scales, converged withdrawn and
    why) are ``RuntimeWarning``s, also kept in ``result.warnings``. Raises ConfigError (a
    ValueError) on bad input, with the CLI's one-line message.
    """
    pairs = [*overrides, *keyword_overrides(keywords)]
    if output is not None:
        pairs.append(("run.output", output))
    writes = output is not None or names_output(config, pairs)
    if isinstance(config, Config):
        config = config.to_dict()
    resolved = resolve_rel_eps(load_config(config, pairs))
    return run_and_save(resolved, writes, overwrite, executor,
                        lambda runner: run_pricing(resolved, runner, progress, warn))  # fmt: skip
