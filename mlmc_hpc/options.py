"""Option payoffs (applied in place to arrays of terminal prices) and closed forms."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def black_scholes(kind: str, S0: float, K: float, T: float, r: float, sigma: float) -> float:
    """European call/put under GBM (Black & Scholes 1973):
    C = S0 N(d1) - K e^{-rT} N(d2), P = K e^{-rT} N(-d2) - S0 N(-d1),
    d1 = (ln(S0/K) + (r + sigma^2/2) T) / (sigma sqrt T), d2 = d1 - sigma sqrt T.
    """
    vol = sigma * math.sqrt(T)
    d1 = (math.log(S0 / K) + (r + 0.5 * sigma**2) * T) / vol
    d2 = d1 - vol
    disc_k = K * math.exp(-r * T)
    if kind == "call":
        return S0 * normal_cdf(d1) - disc_k * normal_cdf(d2)
    if kind == "put":
        return disc_k * normal_cdf(-d2) - S0 * normal_cdf(-d1)
    raise ValueError(f"no closed form for option type {kind!r}")


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
    return EuropeanPayoff(option.type, option.K, math.exp(-option.r * option.T))


def reference_price(option) -> float:
    """Closed-form price where one exists, NaN otherwise."""
    try:
        return black_scholes(option.type, option.S0, option.K, option.T, option.r, option.sigma)
    except ValueError:
        return math.nan
