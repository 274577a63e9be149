"""Validation of a merged risk config: every key checked, one line per mistake.

Each problem raises :class:`~mlmc_hpc.errors.ConfigError` naming the key (with the asset
or option index: ``portfolio.assets[2].sigma``), what is allowed and what was given. The
rules beyond single keys: weights sum to 1 (or every asset is held in shares, with S0),
asset names are unique, the correlation matrix is square, symmetric, has a unit diagonal
and is positive semi-definite (the error quotes the smallest eigenvalue), an option names a
known asset that has an S0 and does not expire before the horizon, and the daily model's
arithmetic returns stay far from -100% a day.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ConfigError
from .checks import MAX_SEED
from .risk_schema import POSITION_TYPES, RISK_MODELS
from .schema import BACKENDS
from .values import (
    auto_or_integer,
    finite,
    int_at_least,
    non_negative,
    one_of,
    positive,
    show,
    text,
    unknown_key_message,
)

WEIGHT_TOLERANCE = 1e-6  # |sum of weights - 1|
MAX_ASSETS = 1000
MAX_OPTIONS = 10_000
PSD_TOLERANCE = 1e-10  # smallest eigenvalue allowed below zero (rounding)
CONFIDENCE_RANGE = (0.5, 0.9999)
MIN_EXCEEDANCES = 20  # scenarios >= this / (1 - highest confidence)
MAX_SCENARIOS = 10**12
MAX_DAILY_VOL = 0.1  # daily model: sigma / sqrt(trading_days); -100% is a 10-sigma day
MAX_SIGMA = 5.0
MAX_DRIFT = 5.0
MONEY = (1e-12, 1e15)

ASSET_KEYS = ("name", "weight", "shares", "mu", "sigma", "S0")
OPTION_KEYS = ("asset", "type", "K", "T", "quantity", "sigma", "r")


def _mapping(key: str, value: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a mapping with keys {', '.join(allowed)}; "
                          f"got {show(value)}")  # fmt: skip
    for name in value:
        if name not in allowed:
            hint = unknown_key_message(str(name), list(allowed)).partition("; ")[2]
            raise ConfigError(f"unknown key {key}.{name}; {hint}")
    return value


def _list(key: str, value: Any, low: int, high: int) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{key} must be a list, got {show(value)}")
    if not low <= len(value) <= high:
        raise ConfigError(f"{key} must hold {low}..{high} entries, got {len(value)}")
    return value


def _required(key: str, entry: dict[str, Any], name: str, check: Callable[[str, Any], Any]) -> Any:
    if entry.get(name) is None:
        raise ConfigError(f"{key}.{name} is required")
    return check(f"{key}.{name}", entry[name])


def _bounded(key: str, value: Any, low: float, high: float) -> float:
    number = finite(key, value)
    if not low <= number <= high:
        raise ConfigError(f"{key} must be in {low:g}..{high:g}, got {show(value)}")
    return number


def check_asset(key: str, raw: Any) -> dict[str, Any]:
    """One ``portfolio.assets`` entry: name, weight or shares, mu, sigma, S0."""
    entry = _mapping(key, raw, ASSET_KEYS)
    asset = {"name": _required(key, entry, "name", text)}
    asset["mu"] = _required(key, entry, "mu", lambda k, v: _bounded(k, v, -MAX_DRIFT, MAX_DRIFT))
    asset["sigma"] = _required(key, entry, "sigma", positive)
    if asset["sigma"] > MAX_SIGMA:
        raise ConfigError(f"{key}.sigma must be in (0, {MAX_SIGMA:g}], got {asset['sigma']:g}")
    asset["S0"] = None if entry.get("S0") is None else _bounded(f"{key}.S0", entry["S0"], *MONEY)
    has_weight, has_shares = entry.get("weight") is not None, entry.get("shares") is not None
    if has_weight == has_shares:
        raise ConfigError(f"{key} must give exactly one of weight or shares")
    asset["weight"] = finite(f"{key}.weight", entry["weight"]) if has_weight else None
    asset["shares"] = finite(f"{key}.shares", entry["shares"]) if has_shares else None
    if has_shares and asset["S0"] is None:
        raise ConfigError(f"{key}.S0 is required with shares (the position is shares x S0)")
    return asset


def check_option_position(key: str, raw: Any, assets: dict[str, dict[str, Any]],
                          horizon: float) -> dict[str, Any]:  # fmt: skip
    """One ``portfolio.options`` entry (``horizon`` in years)."""
    entry = _mapping(key, raw, OPTION_KEYS)
    name = _required(key, entry, "asset", text)
    if name not in assets:
        hint = unknown_key_message(name, list(assets)).partition("; ")[2]
        raise ConfigError(f"{key}.asset {name!r} is not an asset of the portfolio; {hint}")
    asset = assets[name]
    if asset["S0"] is None:
        raise ConfigError(f"{key}: asset {name} needs an S0 (the option's strike is in its "
                          f"price units)")  # fmt: skip
    option: dict[str, Any] = {"asset": name}
    option["type"] = _required(key, entry, "type", one_of(POSITION_TYPES))
    option["K"] = _required(key, entry, "K", lambda k, v: _bounded(k, v, *MONEY))
    option["T"] = _required(key, entry, "T", lambda k, v: _bounded(k, v, 1e-9, 100.0))
    option["quantity"] = _required(key, entry, "quantity", finite)
    if option["quantity"] == 0:
        raise ConfigError(f"{key}.quantity must not be 0 (negative = written, short)")
    sigma = entry.get("sigma")
    option["sigma"] = asset["sigma"] if sigma is None else positive(f"{key}.sigma", sigma)
    if option["sigma"] > MAX_SIGMA:
        raise ConfigError(f"{key}.sigma must be in (0, {MAX_SIGMA:g}], got {option['sigma']:g}")
    option["r"] = _required(key, entry, "r", lambda k, v: _bounded(k, v, -1.0, 1.0))
    if option["T"] < horizon - 1e-12:
        raise ConfigError(f"{key}.T {option['T']:g} years expires before the risk horizon "
                          f"({horizon:.6g} years); options must live to the horizon")  # fmt: skip
    return option


def check_correlation(raw: Any, n: int) -> tuple[tuple[float, ...], ...]:
    """Square n x n, entries in [-1, 1], symmetric, unit diagonal, positive semi-definite."""
    key = "portfolio.correlation"
    if raw is None:
        if n == 1:
            return ((1.0,),)
        raise ConfigError(f"{key} is required for {n} assets: one row of {n} per asset")
    if not isinstance(raw, list) or len(raw) != n:
        raise ConfigError(f"{key} must be {n} x {n} (one row per asset), got {show(raw)}")
    rows = raw
    matrix = np.empty((n, n))
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != n:
            raise ConfigError(f"{key} must be {n} x {n} (one row per asset); row {i} is "
                              f"{show(row)}")  # fmt: skip
        for j, value in enumerate(row):
            matrix[i, j] = _bounded(f"{key}[{i}][{j}]", value, -1.0, 1.0)
    for i in range(n):
        if matrix[i, i] != 1.0:
            raise ConfigError(f"{key}[{i}][{i}] must be 1 (unit diagonal), got {matrix[i, i]:g}")
        for j in range(i):
            if abs(matrix[i, j] - matrix[j, i]) > 1e-12:
                raise ConfigError(f"{key} must be symmetric: [{i}][{j}] is {matrix[i, j]:g} "
                                  f"but [{j}][{i}] is {matrix[j, i]:g}")  # fmt: skip
    values, vectors = np.linalg.eigh(matrix)
    if values[0] < -PSD_TOLERANCE:
        direction = ", ".join(f"{x:.3f}" for x in vectors[:, 0])
        raise ConfigError(f"{key} is not positive semi-definite: its smallest eigenvalue is "
                          f"{values[0]:.6g} (eigenvector [{direction}]); no correlated "
                          f"returns have it")  # fmt: skip
    return tuple(tuple(float(x) for x in row) for row in matrix)


def settle_weights(assets: list[dict[str, Any]], value: Any) -> float:
    """Weights for every asset and the stock positions' value (module docstring)."""
    in_shares = [a["shares"] is not None for a in assets]
    if any(in_shares) and not all(in_shares):
        raise ConfigError("portfolio.assets: give every asset a weight or every asset shares, "
                          "not a mix")  # fmt: skip
    if all(in_shares):
        total = math.fsum(a["shares"] * a["S0"] for a in assets)
        if not total > 0:
            raise ConfigError(f"portfolio.assets: shares x S0 sum to {total:g}; the stock "
                              f"positions must be worth more than 0")  # fmt: skip
        if value is not None and abs(positive("portfolio.value", value) - total) > 1e-9 * total:
            raise ConfigError(f"portfolio.value {value} disagrees with the shares x S0 of the "
                              f"assets ({total:.12g}); leave it null")  # fmt: skip
        for asset in assets:
            asset["weight"] = asset["shares"] * asset["S0"] / total
        return total
    if value is None:
        raise ConfigError("portfolio.value is required when the assets have weights")
    total_weight = math.fsum(a["weight"] for a in assets)
    if abs(total_weight - 1.0) > WEIGHT_TOLERANCE:
        raise ConfigError(f"portfolio.assets: weights must sum to 1, they sum to "
                          f"{total_weight:.10g}")  # fmt: skip
    return _bounded("portfolio.value", value, *MONEY)


def check_portfolio(raw: dict[str, Any], horizon: float) -> dict[str, Any]:
    """The ``portfolio`` section (``horizon`` in years, for the options)."""
    entries = _list("portfolio.assets", raw["assets"], 1, MAX_ASSETS)
    assets = [check_asset(f"portfolio.assets[{i}]", entry) for i, entry in enumerate(entries)]
    by_name: dict[str, dict[str, Any]] = {}
    for i, asset in enumerate(assets):
        if asset["name"] in by_name:
            raise ConfigError(f"portfolio.assets[{i}].name {asset['name']!r} appears twice")
        by_name[asset["name"]] = asset
    value = settle_weights(assets, raw["value"])
    correlation = check_correlation(raw["correlation"], len(assets))
    entries = _list("portfolio.options", raw["options"] or [], 0, MAX_OPTIONS)
    options = [check_option_position(f"portfolio.options[{i}]", entry, by_name, horizon)
               for i, entry in enumerate(entries)]  # fmt: skip
    return {"value": value, "assets": assets, "correlation": correlation, "options": options}


def check_confidence(raw: Any) -> tuple[float, ...]:
    """``risk.confidence``: a list of distinct levels in 0.5..0.9999, returned ascending."""
    values = raw if isinstance(raw, list) else [raw]
    low, high = CONFIDENCE_RANGE
    levels = [_bounded(f"risk.confidence[{i}]", v, low, high) for i, v in enumerate(values)]
    if not levels or len(set(levels)) != len(levels):
        raise ConfigError(f"risk.confidence must list distinct levels in {low:g}..{high:g}, "
                          f"got {show(raw)}")  # fmt: skip
    return tuple(sorted(levels))


scenario_count = auto_or_integer(1, MAX_SCENARIOS)  # risk.scenarios


def check_risk(raw: dict[str, Any]) -> dict[str, Any]:
    """The ``risk`` section."""
    risk: dict[str, Any] = {
        "horizon_days": int_at_least(1, 10_000)("risk.horizon_days", raw["horizon_days"]),
        "trading_days": int_at_least(1, 366)("risk.trading_days", raw["trading_days"]),
        "confidence": check_confidence(raw["confidence"]),
        "model": one_of(RISK_MODELS)("risk.model", raw["model"]),
        "scenarios": scenario_count("risk.scenarios", raw["scenarios"]),
        "rel_tol": _bounded("risk.rel_tol", raw["rel_tol"], 1e-6, 0.5),
        "max_scenarios": int_at_least(1, MAX_SCENARIOS)("risk.max_scenarios", raw["max_scenarios"]),
    }
    needed = math.ceil(MIN_EXCEEDANCES / (1.0 - risk["confidence"][-1]) - 1e-9)
    for key in ("scenarios", "max_scenarios"):
        if risk[key] is not None and risk[key] < needed:
            raise ConfigError(f"risk.{key} must be at least {needed} for a "
                              f"{100 * risk['confidence'][-1]:g}% level ({MIN_EXCEEDANCES} "
                              f"expected losses beyond it), got {risk[key]}")  # fmt: skip
    return risk


def check_daily_model(assets: list[dict[str, Any]], trading_days: int) -> None:
    """Daily arithmetic returns mu/days + sigma Z/sqrt(days) must stay far above -100%."""
    limit = MAX_DAILY_VOL * math.sqrt(trading_days)
    for i, asset in enumerate(assets):
        if asset["sigma"] > limit:
            raise ConfigError(f"portfolio.assets[{i}].sigma {asset['sigma']:g} is too large for "
                              f"risk.model daily (at most {limit:.3g} with {trading_days} "
                              f"trading days: a day below -100% becomes possible); use model "
                              f"exact")  # fmt: skip


RUN_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "seed": int_at_least(0, MAX_SEED),
    "backend": one_of(BACKENDS),
    "output": text,
    "end_margin_s": non_negative,
    "stall_factor": positive,
    "stall_floor_s": positive,
    "progress_s": positive,
}


batch_scenarios = auto_or_integer(1024, 1 << 26)  # run.batch_scenarios


def validate_risk(data: dict[str, Any]) -> dict[str, Any]:
    """Check every key of a merged risk config (``run.batch_scenarios`` None = auto)."""
    risk = check_risk(data["risk"])
    portfolio = check_portfolio(data["portfolio"], risk["horizon_days"] / risk["trading_days"])
    if risk["model"] == "daily":
        check_daily_model(portfolio["assets"], risk["trading_days"])
    run = {key: check(f"run.{key}", data["run"][key]) for key, check in RUN_CHECKS.items()}
    run["batch_scenarios"] = batch_scenarios("run.batch_scenarios", data["run"]["batch_scenarios"])
    return {"name": text("name", data["name"]), "portfolio": portfolio, "risk": risk, "run": run}
