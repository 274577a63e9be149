"""Rules that tie keys together: type-specific option keys, and the level-0 mode.

Part of validation (:mod:`mlmc_hpc.config.checks`): each rule raises
:class:`~mlmc_hpc.errors.ConfigError` with one line naming the key and what is allowed.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import ConfigError

MONEY_RANGE = (1e-12, 1e15)  # S0, K, barrier, payout: products and squares stay finite
MAX_T = 100.0  # years
MAX_VOL = 5.0  # sigma sqrt(T): e^{5 Z} already spans 1e-30..1e30 over |Z| <= 14
MIN_VOL = 1e-6
MAX_RATE_T = 50.0  # |r| T: discount factors within e^{-50}..e^{50}


def check_limits(option: dict[str, Any]) -> None:
    """The documented limits (README, "What is refused"): amounts in 1e-12..1e15, T <= 100,
    sigma sqrt(T) in 1e-6..5, |r| T <= 50. Inside them no product of the pricer overflows
    (S0 K, (sigma S0)^2 T, e^{rT}) and every closed form is accurate; beyond them a number
    is refused, naming the key, instead of a price of inf or NaN."""
    low, high = MONEY_RANGE
    for key in ("S0", "K", "barrier", "payout"):
        value = option[key]
        if value is not None and not low <= value <= high:
            raise ConfigError(f"option.{key} must be in {low:g}..{high:g}, got {value:g}")
    T, sigma, r = option["T"], option["sigma"], option["r"]
    if T > MAX_T:
        raise ConfigError(f"option.T must be <= {MAX_T:g} (years), got {T:g}")
    vol = sigma * math.sqrt(T)
    if not MIN_VOL <= vol <= MAX_VOL:
        raise ConfigError(f"option.sigma: sigma sqrt(T) must be in {MIN_VOL:g}..{MAX_VOL:g}, "
                          f"got {vol:.3g} (sigma {sigma:g}, T {T:g})")  # fmt: skip
    if abs(r) * T > MAX_RATE_T:
        raise ConfigError(f"option.r: |r| T must be <= {MAX_RATE_T:g}, got {abs(r) * T:.3g} "
                          f"(r {r:g}, T {T:g})")  # fmt: skip


def check_option(option: dict[str, Any]) -> None:
    """Type-specific parameters: each is set only for its type, and the barrier is valid."""
    check_limits(option)
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
    if kind == "asian" and option["average"] == "geometric":
        lowest = 0.5 + (option["r"] - 0.5 * option["sigma"] ** 2) * option["T"]
        if not lowest > 0:
            raise ConfigError(
                f"option.sigma: a geometric Asian needs 1/2 + (r - sigma^2/2) T > 0 (level 0's "
                f"one Milstein step of length T must keep the price positive for its log), "
                f"got {lowest:.3g}; lower sigma or T"
            )
    if kind == "barrier":
        limit = min(option["S0"], option["K"])
        barrier = option["barrier"]
        if barrier is None or not barrier < limit:
            raise ConfigError(
                f"option.barrier must be a number with 0 < barrier < min(S0, K) = {limit:g} "
                f"for a down-and-out call, got {barrier!r}"
            )


def level0_mode(requested: str, method: str) -> str:
    """``mlmc.level0`` resolved: auto is exact for MLMC (every option type has an exact
    level 0) and sample for plain Monte Carlo, which has no levels; exact and control
    belong to MLMC only."""
    if method == "mc":
        if requested in ("exact", "control"):
            raise ConfigError(
                f"mlmc.level0: {requested} applies to mlmc.method mlmc only "
                f"(plain Monte Carlo has no level 0); use auto or sample"
            )
        return "sample"
    if method == "mlqmc" and requested == "control":
        raise ConfigError("mlmc.level0: control applies to mlmc.method mlmc only (multilevel "
                          "quasi-Monte Carlo takes level 0 exact or sampled on its points); "
                          "use auto, exact or sample")  # fmt: skip
    return "exact" if requested == "auto" else requested
