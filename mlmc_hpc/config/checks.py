"""Validation: every key of a merged config is checked and converted to its type.

Every user mistake raises :class:`~mlmc_hpc.errors.ConfigError` with a one-line message
that names the key, the allowed range and what was given; the CLI prints it and exits 2.
"""

from __future__ import annotations

import difflib
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

MAX_LOG2_FINEST_COST = 40  # M**Lmax <= 2**40 fine timesteps per sample
MAX_SEED = 2**64 - 1  # seeds are unsigned 64-bit (HDF5 stores them as uint64, exactly)
MAX_COUNT = 2**40  # N0 and batch_timesteps: sample and timestep counts stay far from int64
Check = Callable[[str, Any], Any]


def show(value: Any) -> str:
    """``value`` as an error message quotes it: strings in quotes, everything else bare."""
    return repr(value) if isinstance(value, str) else str(value)


def unknown_key_message(key: str, valid: list[str]) -> str:
    """ "unknown key K" with the closest valid key as a hint, else the list of valid keys."""
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]}?" if close else f"; allowed: {', '.join(valid)}"
    return f"unknown key {key}{hint}"


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise ConfigError(f"{key} must be a number, got {show(value)}")
    if isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"{key} must be a number, got {show(value)}") from None
    if not isinstance(value, (int, float)):
        raise ConfigError(f"{key} must be a number, got {show(value)}")
    try:
        value = float(value)
    except OverflowError:
        raise ConfigError(f"{key} must be a finite number, got an integer of "
                          f"{len(str(abs(value)))} digits") from None  # fmt: skip
    if not math.isfinite(value):
        raise ConfigError(f"{key} must be a finite number, got {value}")
    return value


def _integer(key: str, value: Any) -> int:
    """Integers exactly, whatever their size (never through a float); integral floats and
    digit strings too."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    number = _number(key, value)
    if number != int(number):
        raise ConfigError(f"{key} must be an integer, got {show(value)}")
    return int(number)


def positive(key: str, value: Any) -> float:
    """``value`` as a finite float > 0."""
    number = _number(key, value)
    if number <= 0:
        raise ConfigError(f"{key} must be > 0, got {show(value)}")
    return number


def finite(key: str, value: Any) -> float:
    """``value`` as a finite float (of any sign)."""
    return _number(key, value)


def non_negative(key: str, value: Any) -> float:
    """``value`` as a finite float >= 0."""
    number = _number(key, value)
    if number < 0:
        raise ConfigError(f"{key} must be >= 0, got {show(value)}")
    return number


def int_at_least(low: int, high: int | None = None) -> Callable[[str, Any], int]:
    """A check that accepts integers in low..high (integral floats too) and returns an int."""

    def check(key: str, value: Any) -> int:
        number = _integer(key, value)
        if high is not None and not low <= number <= high:
            raise ConfigError(f"{key} must be an integer in {low}..{high}, got {show(value)}")
        if number < low:
            raise ConfigError(f"{key} must be an integer >= {low}, got {show(value)}")
        return number

    return check


def open_unit_interval(key: str, value: Any) -> float:
    """``value`` as a float in (0, 1) (the variance split theta)."""
    number = _number(key, value)
    if not 0.0 < number < 1.0:
        raise ConfigError(f"{key} must be in (0, 1), got {show(value)}")
    return number


def optional_rate(key: str, value: Any) -> float | None:
    """A fixed rate alpha, beta or gamma > 0, or None to regress it."""
    return None if value is None else positive(key, value)


def one_of(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    """A check that accepts one of ``choices`` (the error suggests the closest one)."""

    def check(key: str, value: Any) -> str:
        if value not in choices:
            allowed = " | ".join(choices)
            close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(f"{key} must be one of {allowed}, got {show(value)}{hint}")
        return value

    return check


def text(key: str, value: Any) -> str:
    """``value`` as a string that is not empty or blank."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key} must be a non-empty string, got {show(value)}")
    return value


def optional_fraction(key: str, value: Any) -> float | None:
    """A number in (0, 1), or None (``mlmc.rel_eps``)."""
    if value is None:
        return None
    number = _number(key, value)
    if not 0.0 < number < 1.0:
        raise ConfigError(f"{key} must be null or in (0, 1) (1e-4 = 1 bp of the price), "
                          f"got {show(value)}")  # fmt: skip
    return number


def optional_positive(key: str, value: Any) -> float | None:
    """A float > 0, or None (a parameter the option type may leave unset)."""
    return None if value is None else positive(key, value)


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


def batch_size(key: str, value: Any) -> int | None:
    """``run.batch_timesteps``: an integer >= 1, or None for ``auto``."""
    if value == "auto":
        return None
    try:
        return int_at_least(1, MAX_COUNT)(key, value)
    except ConfigError:
        raise ConfigError(
            f"{key} must be auto or an integer in 1..{MAX_COUNT}, got {show(value)}"
        ) from None


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
