"""The public Python API of the risk command: ``mlmc_hpc.risk(...)``.

It validates exactly as ``python -m mlmc_hpc risk`` does (the same loading, the same
one-line :class:`~mlmc_hpc.errors.ConfigError`), runs in this process unless an executor
is passed in, writes no file unless ``output`` (or ``run.output`` in a dict source or an
override) is given, and returns the same :class:`~mlmc_hpc.io.risk_result.RiskResult` that
``RiskResult.load(path)`` returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..config.risk_loading import RiskSource, load_risk_config
from ..config.risk_schema import RiskConfig
from ..io.risk_result import RiskResult
from ..parallel.executor import BatchExecutor
from .calls import names_output, run_and_save, warn
from .risk import Progress, run_risk

SECTION_OF = {
    **dict.fromkeys(("value", "assets", "correlation", "options"), "portfolio"),
    **dict.fromkeys(("horizon_days", "trading_days", "confidence", "model", "scenarios",
                     "rel_tol", "max_scenarios"), "risk"),
    **dict.fromkeys(("seed", "backend", "batch_scenarios"), "run"),
}  # fmt: skip


def risk(
    config: RiskSource | RiskConfig = None,
    *,
    executor: BatchExecutor | None = None,
    output: str | None = None,
    progress: Progress | None = None,
    overrides: Iterable[tuple[str, Any]] = (),
    overwrite: bool = False,
    **keywords: Any,
) -> RiskResult:
    """VaR and CVaR of a portfolio with 95% confidence intervals (a :class:`RiskResult`).

    ``config``: a dict in the YAML schema (sections may be partial), a YAML path, a risk
    preset name (``"notebook_var"``), a loaded :class:`RiskConfig`, or None for the
    defaults. Keywords override single keys by name (``scenarios=10**6``, ``model="exact"``,
    ``confidence=[0.99]``, ``seed=7``); ``overrides`` takes dotted pairs. The result is
    written (atomically; over a finished result only with ``overwrite=True``) only when the
    call names the path. ``executor`` defaults to this process; ``progress(index, state,
    estimates)`` is called after every iteration. Raises ConfigError (a ValueError) on bad
    input, with the command line's one-line message.
    """
    from ..errors import ConfigError

    pairs = list(overrides)
    for key, value in keywords.items():
        if key == "name":
            pairs.append(("name", value))
        elif key in SECTION_OF:
            pairs.append((f"{SECTION_OF[key]}.{key}", value))
        else:
            raise ConfigError(f"unknown keyword {key} (a key of portfolio, risk or run)")
    if output is not None:
        pairs.append(("run.output", output))
    writes = names_output(config, pairs)
    if isinstance(config, RiskConfig):
        config = config.to_dict()
    resolved = load_risk_config(config, pairs)
    return run_and_save(resolved, writes, overwrite, executor,
                        lambda runner: run_risk(resolved, runner, progress, warn))  # fmt: skip
