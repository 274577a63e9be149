"""Validation: every key of a merged config is checked and converted to its type.

Every user mistake raises :class:`~mlmc_hpc.errors.ConfigError` with a one-line message
that names the key, the allowed range and what was given; the CLI prints it and exits 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError
from .rules import check_option, level0_mode
from .schema import (
    AVERAGES,
    BACKENDS,
    CONVERGENCE_CHECKS,
    EUROPEAN_TYPES,
    LEVEL0_MODES,
    METHODS,
    OPTION_TYPES,
)
from .values import (
    auto_or_integer,
    finite,
    int_at_least,
    non_negative,
    one_of,
    open_unit_interval,
    optional_fraction,
    optional_positive,
    optional_rate,
    positive,
    show,
    text,
)

MAX_LOG2_FINEST_COST = 40  # M**Lmax <= 2**40 fine timesteps per sample
MAX_SEED = 2**64 - 1  # seeds are unsigned 64-bit (HDF5 stores them as uint64, exactly)
MAX_COUNT = 2**40  # N0 and batch_timesteps: sample and timestep counts stay far from int64
Check = Callable[[str, Any], Any]


def steps_or_auto(key: str, value: Any) -> int | None:
    """``mlmc.mc_steps``: an integer in 1..2**MAX_LOG2_FINEST_COST, or None for ``auto``."""
    if value == "auto":
        return None
    try:
        number = int_at_least(1)(key, value)
    except ConfigError:
        number = 0
    if not 1 <= number <= 2**MAX_LOG2_FINEST_COST:
        raise ConfigError(
            f"{key} must be auto or an integer in 1..2**{MAX_LOG2_FINEST_COST}, got {show(value)}"
        )
    return number


batch_size = auto_or_integer(1, MAX_COUNT)  # run.batch_timesteps


def power_of_two(key: str, value: Any) -> int:
    """A power of two in 1..2**20 (``mlmc.points0``)."""
    try:
        number = int_at_least(1, 2**20)(key, value)
    except ConfigError:
        number = 0
    if number < 1 or number & (number - 1):
        raise ConfigError(f"{key} must be a power of two in 1..{2**20}, got {show(value)}")
    return number


def budget(key: str, value: Any) -> int | None:
    """``run.max_timesteps``: an integer in 1..2**62, or null (unlimited)."""
    if value is None:
        return None
    try:
        return int_at_least(1, 2**62)(key, value)
    except ConfigError:
        raise ConfigError(f"{key} must be null or an integer in 1..{2**62}, "
                          f"got {show(value)}") from None  # fmt: skip


SCHEMA: dict[str, dict[str, Callable[[str, Any], Any]]] = {
    "option": {
        "type": one_of(OPTION_TYPES),
        "S0": positive,
        "K": positive,
        "T": positive,
        "r": finite,
        "sigma": positive,
        "barrier": optional_positive,
        "payout": optional_positive,
        "average": one_of(AVERAGES),
    },
    "mlmc": {
        "eps": positive,
        "Lmin": int_at_least(2),
        "Lmax": int_at_least(2),
        "N0": int_at_least(1, MAX_COUNT),
        "theta": open_unit_interval,
        "M": int_at_least(2),
        "alpha": optional_rate,
        "beta": optional_rate,
        "gamma": optional_rate,
        "convergence": one_of(CONVERGENCE_CHECKS),
        "level0": one_of(LEVEL0_MODES),
        "method": one_of(METHODS),
        "mc_steps": steps_or_auto,
        "randomisations": int_at_least(8, 4096),
        "points0": power_of_two,
        "rel_eps": optional_fraction,
    },
    "run": {
        "seed": int_at_least(0, MAX_SEED),
        "backend": one_of(BACKENDS),
        "batch_timesteps": batch_size,
        "output": text,
        "end_margin_s": non_negative,
        "max_timesteps": budget,
        "stall_factor": positive,
        "stall_floor_s": positive,
        "progress_s": positive,
        "node_masters_above": int_at_least(0, 1 << 24),
    },
}


def largest_Lmax(M: int) -> int:
    """The finest level allowed for refinement factor M: M**Lmax <= 2**MAX_LOG2_FINEST_COST."""
    return int(MAX_LOG2_FINEST_COST / math.log2(M) + 1e-9)


def text_keys() -> set[str]:
    """Dotted keys whose value is a string (``name``, ``run.output``): the command line
    passes them as typed, never through YAML (``--output 'run #2.h5'``, ``--set name=yes``)."""
    keys = {f"{section}.{key}" for section, checks in SCHEMA.items()
            for key, check in checks.items() if check is text}  # fmt: skip
    return keys | {"name"}


def validate(data: dict[str, Any]) -> dict[str, Any]:
    """Check every key of a fully merged config; returns ``{section: {key: value}}`` with
    ``name`` as a string. ``run.backend`` and ``run.batch_timesteps`` may still be ``auto``
    (None for the batch size): :mod:`mlmc_hpc.config.resolve` settles them."""
    values: dict[str, Any] = {
        section: {key: check(f"{section}.{key}", data[section][key]) for key, check in keys.items()}
        for section, keys in SCHEMA.items()
    }
    mlmc = values["mlmc"]
    if mlmc["M"] > 16:
        raise ConfigError(f"mlmc.M must be an integer in 2..16, got {mlmc['M']}")
    if mlmc["Lmax"] < mlmc["Lmin"]:
        raise ConfigError(f"mlmc.Lmax must be >= mlmc.Lmin ({mlmc['Lmin']}), got {mlmc['Lmax']}")
    if mlmc["Lmax"] > largest_Lmax(mlmc["M"]):
        largest = largest_Lmax(mlmc["M"])
        raise ConfigError(
            f"mlmc.Lmax must be <= {largest} for M = {mlmc['M']} "
            f"(M**Lmax <= 2**{MAX_LOG2_FINEST_COST} timesteps per sample), got {mlmc['Lmax']}"
        )
    check_option(values["option"])
    is_european = values["option"]["type"] in EUROPEAN_TYPES
    if mlmc["method"] == "mc" and mlmc["mc_steps"] is None and not is_european:
        raise ConfigError(
            f"mlmc.mc_steps must be an integer >= 1 (timesteps of the plain Monte Carlo grid) "
            f"for option.type {values['option']['type']} with mlmc.method mc; auto means exact "
            f"sampling, which exists for call and put only"
        )
    mlmc["level0"] = level0_mode(mlmc["level0"], mlmc["method"])
    values["name"] = text("name", data["name"])
    return values
