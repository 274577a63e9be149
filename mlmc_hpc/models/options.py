"""Option types, their payoffs' parameters and reference prices.

``call`` and ``put`` are European; ``asian``, ``lookback``, ``digital`` and ``barrier``
follow Giles, "Improved multilevel Monte Carlo convergence using the Milstein scheme"
(MCQMC 2006), section 4; their level samplers live in :mod:`mlmc_hpc.models.paths`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config.schema import EUROPEAN_TYPES, OptionSpec
from .closed_forms import (
    black_scholes,
    digital_call,
    down_and_out_call,
    geometric_asian_call,
    lookback_call,
)

__all__ = ["EuropeanPayoff", "black_scholes", "is_european", "make_payoff", "reference_price"]


def is_european(option: OptionSpec) -> bool:
    """True for call and put."""
    return option.type in EUROPEAN_TYPES


def payout(option: OptionSpec) -> float:
    """Cash paid by a digital in the money: ``option.payout``, or K when not set."""
    return option.K if option.payout is None else option.payout


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


def make_payoff(option: OptionSpec) -> EuropeanPayoff:
    """The European payoff of a call or put (ValueError for path-dependent types)."""
    if not is_european(option):
        raise ValueError(f"option type {option.type!r} is path-dependent, not European")
    return EuropeanPayoff(option.type, option.K, math.exp(-option.r * option.T))


def reference_price(option: OptionSpec) -> float:
    """Closed-form price where one exists (every type but the arithmetic Asian), else NaN."""
    o = option
    args = (o.S0, o.K, o.T, o.r, o.sigma)
    if o.type in EUROPEAN_TYPES:
        return black_scholes(o.type, *args)
    if o.type == "digital":
        return digital_call(*args, payout(o))
    if o.type == "lookback":
        return lookback_call(o.S0, o.T, o.r, o.sigma)
    if o.type == "barrier" and o.barrier is not None:
        return down_and_out_call(*args, o.barrier)
    if o.type == "asian" and o.average == "geometric":
        return geometric_asian_call(*args)
    return math.nan
