"""What the public calls share: ``price``, ``risk`` and ``price_book`` run a resolved config
on an executor and write its result only when the call names the output path.

:func:`run_and_save` takes the output's lock and checks the path before any work, builds
the in-process executor or checks the one passed in (new, built for this config), runs,
and saves atomically; :func:`names_output` says whether a call named the path;
:func:`warn` turns a run's warnings into ``RuntimeWarning``s.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from ..io.hdf5 import check_writable
from ..io.lock import acquire, release
from ..models.registry import AnyConfig
from ..parallel.executor import BatchExecutor, serial_executor


class Saveable(Protocol):
    """A result that writes itself atomically."""

    def save(self, path: Any) -> Any:
        """Write the result to ``path``."""
        ...


Result = TypeVar("Result", bound=Saveable)


def names_output(source: Any, pairs: list[tuple[str, Any]]) -> bool:
    """True when the caller set run.output (in a dict source or an override)."""
    if any(key == "run.output" for key, _ in pairs):
        return True
    run = source.get("run") if isinstance(source, Mapping) else None
    return isinstance(run, Mapping) and "output" in run


def warn(message: str) -> None:
    """A run's warnings (e.g. no weak convergence at Lmax) as Python warnings."""
    warnings.warn(message, RuntimeWarning, stacklevel=4)


def run_and_save(config: AnyConfig, writes: bool, overwrite: bool,
                 executor: BatchExecutor | None,
                 run: Callable[[BatchExecutor], Result]) -> Result:  # fmt: skip
    """``run(executor)`` on ``executor`` (default: this process; one passed in must be new
    and built for ``config``, else ValueError); with ``writes`` the result is saved at
    ``config.run.output``, which is locked and checked (never over an unfinished run, over a
    finished result only with ``overwrite``) before any work."""
    output = config.run.output
    lock = acquire(output) if writes else None
    try:
        if writes:
            check_writable(output, overwrite=overwrite)
        if executor is None:
            executor = serial_executor(config)
        else:
            executor.check_can_run(config)
        result = run(executor)
        if writes:
            result.save(output)
        return result
    finally:
        if lock is not None:
            release(lock)
