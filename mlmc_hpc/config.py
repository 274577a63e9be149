"""YAML configuration: packaged defaults < config file < command line, validated once.

Every user mistake raises :class:`ConfigError` with a one-line message that names
the key, the allowed range and what was given; the CLI prints it and exits 2.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .driver import MLMCSettings
from .options import AVERAGES, OPTION_TYPES

METHODS = ("mlmc", "mc")
BACKENDS = ("auto", "numpy", "cupy")
MAX_LOG2_FINEST_COST = 40  # M**Lmax <= 2**40 fine timesteps per sample


class ConfigError(ValueError):
    """A user input problem; the message is one line, ready to print."""


@dataclass(frozen=True)
class OptionSpec:
    type: str
    S0: float
    K: float
    T: float
    r: float
    sigma: float
    barrier: float | None = None  # down-and-out level (type barrier only)
    payout: float | None = None  # digital cash amount; None = K (type digital only)
    average: str = "arithmetic"  # arithmetic | geometric (type asian only)


@dataclass(frozen=True)
class RunSpec:
    seed: int
    backend: str
    batch_timesteps: int | None  # None = "auto" (resolved per backend)
    output: str
    end_margin_s: float = 60.0  # stop this long before SLURM_JOB_END_TIME


@dataclass(frozen=True)
class Config:
    name: str
    option: OptionSpec
    mlmc: MLMCSettings
    run: RunSpec

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["run"]["batch_timesteps"] is None:
            data["run"]["batch_timesteps"] = "auto"
        if data["mlmc"]["mc_steps"] is None:
            data["mlmc"]["mc_steps"] = "auto"
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# ----------------------------------------------------------------------------- loading


def packaged_defaults() -> dict[str, Any]:
    text = resources.files("mlmc_hpc").joinpath("defaults.yaml").read_text()
    return yaml.safe_load(text)


def read_yaml_file(path: str | Path) -> dict[str, Any]:
    """Parse a config file; missing files and syntax errors become one-line ConfigErrors."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.__class__.__name__}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = (exc.problem or str(exc)).strip()
        raise ConfigError(f"YAML syntax error in {path}{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error in {path}: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path} must hold a mapping with sections name, option, mlmc, run; "
            f"got a {type(data).__name__}"
        )
    return data


def parse_assignment(text: str) -> tuple[str, Any]:
    """``section.key=value`` from ``--set``; the value is parsed as YAML (``0.1``, ``null``)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects section.key=value (e.g. mlmc.eps=0.001), got {text!r}")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip(), parsed


def merge(base: dict[str, Any], update: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Recursive merge of ``update`` into a copy of ``base``; unknown keys are refused."""
    merged = dict(base)
    for key, value in update.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            raise ConfigError(_unknown_key_message(dotted, [f"{prefix}{k}" for k in base]))
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                keys = ", ".join(base[key])
                raise ConfigError(
                    f"{dotted} must be a mapping with keys {keys}; got {_show(value)}"
                )
            merged[key] = merge(base[key], value, prefix=f"{dotted}.")
        else:
            merged[key] = value
    return merged


def apply_overrides(data: dict[str, Any], overrides: list[tuple[str, Any]]) -> dict[str, Any]:
    for dotted, value in overrides:
        nested: Any = value
        for part in reversed(dotted.split(".")):
            nested = {part: nested}
        data = merge(data, nested)
    return data


def load_config(path: str | Path | None = None, overrides: list[tuple[str, Any]] = ()) -> Config:
    """Defaults, then the file, then ``overrides`` (``("mlmc.eps", 0.001)``), validated."""
    data = packaged_defaults()
    if path is not None:
        data = merge(data, read_yaml_file(path))
    data = apply_overrides(data, list(overrides))
    return validate(data)


def load_config_text(text: str) -> Config:
    """A config stored as YAML text (the ``config`` attribute of a result), validated."""
    return validate(merge(packaged_defaults(), yaml.safe_load(text) or {}))


# ----------------------------------------------------------------------------- validation


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _unknown_key_message(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]}?" if close else f"; allowed: {', '.join(valid)}"
    return f"unknown key {key}{hint}"


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise ConfigError(f"{key} must be a number, got {_show(value)}")
    if isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"{key} must be a number, got {_show(value)}") from None
    if not isinstance(value, (int, float)):
        raise ConfigError(f"{key} must be a number, got {_show(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"{key} must be a finite number, got {value}")
    return value


def _integer(key: str, value: Any) -> int:
    number = _number(key, value)
    if number != int(number):
        raise ConfigError(f"{key} must be an integer, got {_show(value)}")
    return int(number)


def positive(key: str, value: Any) -> float:
    number = _number(key, value)
    if number <= 0:
        raise ConfigError(f"{key} must be > 0, got {_show(value)}")
    return number


def finite(key: str, value: Any) -> float:
    return _number(key, value)


def non_negative(key: str, value: Any) -> float:
    number = _number(key, value)
    if number < 0:
        raise ConfigError(f"{key} must be >= 0, got {_show(value)}")
    return number


def int_at_least(low: int) -> Callable[[str, Any], int]:
    def check(key: str, value: Any) -> int:
        number = _integer(key, value)
        if number < low:
            raise ConfigError(f"{key} must be an integer >= {low}, got {_show(value)}")
        return number

    return check


def open_unit_interval(key: str, value: Any) -> float:
    number = _number(key, value)
    if not 0.0 < number < 1.0:
        raise ConfigError(f"{key} must be in (0, 1), got {_show(value)}")
    return number


def optional_rate(key: str, value: Any) -> float | None:
    return None if value is None else positive(key, value)


def one_of(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(key: str, value: Any) -> str:
        if value not in choices:
            allowed = " | ".join(choices)
            close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(f"{key} must be one of {allowed}, got {_show(value)}{hint}")
        return value

    return check


def text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key} must be a non-empty string, got {_show(value)}")
    return value


def optional_positive(key: str, value: Any) -> float | None:
    return None if value is None else positive(key, value)


def steps_or_auto(key: str, value: Any) -> int | None:
    if value == "auto":
        return None
    try:
        number = int_at_least(1)(key, value)
    except ConfigError:
        number = 0
    if not 1 <= number <= 2**MAX_LOG2_FINEST_COST:
        raise ConfigError(
            f"{key} must be auto or an integer in 1..2**{MAX_LOG2_FINEST_COST}, got {_show(value)}"
        )
    return number


def batch_size(key: str, value: Any) -> int | None:
    if value == "auto":
        return None
    try:
        return int_at_least(1)(key, value)
    except ConfigError:
        raise ConfigError(f"{key} must be auto or an integer >= 1, got {_show(value)}") from None


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
        "N0": int_at_least(1),
        "theta": open_unit_interval,
        "M": int_at_least(2),
        "alpha": optional_rate,
        "beta": optional_rate,
        "gamma": optional_rate,
        "method": one_of(METHODS),
        "mc_steps": steps_or_auto,
    },
    "run": {
        "seed": int_at_least(0),
        "backend": one_of(BACKENDS),
        "batch_timesteps": batch_size,
        "output": text,
        "end_margin_s": non_negative,
    },
}


def check_option(option: dict[str, Any]) -> None:
    """Type-specific parameters: each is set only for its type, and the barrier is valid."""
    kind = option["type"]
    owners = {"barrier": "barrier", "payout": "digital"}
    for key, owner in owners.items():
        if option[key] is not None and kind != owner:
            raise ConfigError(
                f"option.{key} applies to option.type {owner} only; remove it or set it to null "
                f"for type {kind}"
            )
    if option["average"] != "arithmetic" and kind != "asian":
        raise ConfigError(
            f"option.average applies to option.type asian only; remove it for type {kind}"
        )
    if kind == "barrier":
        limit = min(option["S0"], option["K"])
        barrier = option["barrier"]
        if barrier is None or not barrier < limit:
            raise ConfigError(
                f"option.barrier must be a number with 0 < barrier < min(S0, K) = {limit:g} "
                f"for a down-and-out call, got {_show(barrier)}"
            )


def validate(data: dict[str, Any]) -> Config:
    """Check every key of a fully merged config and build the typed :class:`Config`."""
    values = {
        section: {key: check(f"{section}.{key}", data[section][key]) for key, check in keys.items()}
        for section, keys in SCHEMA.items()
    }
    mlmc = values["mlmc"]
    if mlmc["M"] > 16:
        raise ConfigError(f"mlmc.M must be an integer in 2..16, got {mlmc['M']}")
    if mlmc["Lmax"] < mlmc["Lmin"]:
        raise ConfigError(f"mlmc.Lmax must be >= mlmc.Lmin ({mlmc['Lmin']}), got {mlmc['Lmax']}")
    if mlmc["Lmax"] * math.log2(mlmc["M"]) > MAX_LOG2_FINEST_COST:
        largest = int(MAX_LOG2_FINEST_COST / math.log2(mlmc["M"]) + 1e-9)
        raise ConfigError(
            f"mlmc.Lmax must be <= {largest} for M = {mlmc['M']} "
            f"(M**Lmax <= 2**{MAX_LOG2_FINEST_COST} timesteps per sample), got {mlmc['Lmax']}"
        )
    check_option(values["option"])
    if (
        mlmc["method"] == "mc"
        and mlmc["mc_steps"] is None
        and values["option"]["type"]
        not in (
            "call",
            "put",
        )
    ):
        raise ConfigError(
            f"mlmc.mc_steps must be an integer >= 1 (timesteps of the plain Monte Carlo grid) "
            f"for option.type {values['option']['type']} with mlmc.method mc; auto means exact "
            f"sampling, which exists for call and put only"
        )
    return Config(
        name=text("name", data["name"]),
        option=OptionSpec(**values["option"]),
        mlmc=MLMCSettings(**mlmc),
        run=RunSpec(**values["run"]),
    )
