"""Checks of single values: each converts a YAML value to its type or raises a one-line
:class:`~mlmc_hpc.errors.ConfigError` naming the key, what is allowed and what was given.
Shared by every config (pricing, risk, book); :mod:`.checks` and :mod:`.risk_checks` apply them."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError


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


def auto_or_integer(low: int, high: int) -> Callable[[str, Any], int | None]:
    """A check that accepts ``auto`` (None) or an integer in low..high."""

    def check(key: str, value: Any) -> int | None:
        if value == "auto":
            return None
        try:
            return int_at_least(low, high)(key, value)
        except ConfigError:
            raise ConfigError(f"{key} must be auto or an integer in {low}..{high}, "
                              f"got {show(value)}") from None  # fmt: skip

    return check
