"""Option types, their payoffs' parameters and reference prices.

``call`` and ``put`` are European; ``asian``, ``lookback``, ``digital`` and ``barrier``
follow Giles, "Improved multilevel Monte Carlo convergence using the Milstein scheme"
(MCQMC 2006), section 4; their level samplers live in :mod:`mlmc_hpc.sampler_paths`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .closed_forms import (
    black_scholes,
    digital_call,
    down_and_out_call,
    geometric_asian_call,
    lookback_call,
)

EUROPEAN_TYPES = ("call", "put")
PATH_TYPES = ("asian", "lookback", "digital", "barrier")
OPTION_TYPES = EUROPEAN_TYPES + PATH_TYPES
AVERAGES = ("arithmetic", "geometric")

__all__ = ["OPTION_TYPES", "EuropeanPayoff", "black_scholes", "make_payoff", "reference_price"]


def is_european(option) -> bool:
    return option.type in EUROPEAN_TYPES


def payout(option) -> float:
    """Cash paid by a digital in the money: ``option.payout``, or K when not set."""
    return option.K if getattr(option, "payout", None) is None else option.payout


@dataclass(frozen=True)
class EuropeanPayoff:
    """Discounted e^{-rT} max(S_T - K, 0) (call) or e^{-rT} max(K - S_T, 0) (put)."""

    kind: str
    K: float
    discount: float

    @property
    def linear_part(self) -> tuple[float, float]:
        """(a, b) with payoff = max(a S_T + b, 0): call (D, -D K), put (-D, D K), D = e^{-rT}."""
        sign = 1.0 if self.kind == "call" else -1.0
        return sign * self.discount, -sign * self.discount * self.K

    def apply_(self, prices: np.ndarray) -> np.ndarray:
        """Overwrite terminal prices with discounted payoffs; returns the same array."""
        scale, shift = self.linear_part
        prices *= scale
        prices += shift
        np.maximum(prices, 0.0, out=prices)
        return prices


def make_payoff(option) -> EuropeanPayoff:
    if not is_european(option):
        raise ValueError(f"option type {option.type!r} is path-dependent, not European")
    return EuropeanPayoff(option.type, option.K, math.exp(-option.r * option.T))


def reference_price(option) -> float:
    """Closed-form price where one exists (every type but the arithmetic Asian), else NaN."""
    o = option
    args = (o.S0, o.K, o.T, o.r, o.sigma)
    if o.type in EUROPEAN_TYPES:
        return black_scholes(o.type, *args)
    if o.type == "digital":
        return digital_call(*args, payout(o))
    if o.type == "barrier":
        return down_and_out_call(*args, o.barrier)
    if o.type == "lookback":
        return lookback_call(o.S0, o.T, o.r, o.sigma)
    if o.type == "asian" and getattr(o, "average", "arithmetic") == "geometric":
        return geometric_asian_call(*args)
    return math.nan
