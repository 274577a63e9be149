"""Closed-form prices under GBM dS = r S dt + sigma S dW (no dividends), used as references.

Formulas: Black & Scholes (1973); cash-or-nothing digital and the continuously monitored
down-and-out call (Merton 1973; Reiner & Rubinstein 1991); the floating-strike lookback
call with continuous monitoring (Goldman, Sosin & Gatto 1979); the continuously averaged
geometric Asian call (Kemna & Vorst 1990). Notation follows Hull, "Options, Futures and
Other Derivatives", chapter 26.
"""

from __future__ import annotations

import math

SMALL_RATE = 1e-7  # below this |r| the lookback formula uses its r -> 0 limit


def normal_cdf(x: float) -> float:
    """Standard normal CDF N(x) = erfc(-x / sqrt 2) / 2."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def normal_pdf(x: float) -> float:
    """Standard normal density phi(x) = exp(-x^2 / 2) / sqrt(2 pi)."""
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _d1_d2(S0: float, K: float, T: float, r: float, sigma: float) -> tuple[float, float]:
    vol = sigma * math.sqrt(T)
    d1 = (math.log(S0 / K) + (r + 0.5 * sigma**2) * T) / vol
    return d1, d1 - vol


def black_scholes(kind: str, S0: float, K: float, T: float, r: float, sigma: float) -> float:
    """C = S0 N(d1) - K e^{-rT} N(d2), P = K e^{-rT} N(-d2) - S0 N(-d1),
    d1 = (ln(S0/K) + (r + sigma^2/2) T) / (sigma sqrt T), d2 = d1 - sigma sqrt T.
    """
    d1, d2 = _d1_d2(S0, K, T, r, sigma)
    disc_k = K * math.exp(-r * T)
    if kind == "call":
        return S0 * normal_cdf(d1) - disc_k * normal_cdf(d2)
    if kind == "put":
        return disc_k * normal_cdf(-d2) - S0 * normal_cdf(-d1)
    raise ValueError(f"black_scholes prices call or put, not {kind!r}")


def digital_call(S0: float, K: float, T: float, r: float, sigma: float, payout: float) -> float:
    """Cash-or-nothing call paying ``payout`` if S_T > K: payout e^{-rT} N(d2)."""
    return payout * math.exp(-r * T) * normal_cdf(_d1_d2(S0, K, T, r, sigma)[1])


def down_and_out_call(S0: float, K: float, T: float, r: float, sigma: float, B: float) -> float:
    """Continuously monitored down-and-out call, B <= K and B < S0 (Hull eq. 26.9-26.10):
    c_do = c - c_di,
    c_di = S0 (B/S0)^{2 lam} N(y) - K e^{-rT} (B/S0)^{2 lam - 2} N(y - sigma sqrt T),
    lam = (r + sigma^2/2) / sigma^2,  y = ln(B^2 / (S0 K)) / (sigma sqrt T) + lam sigma sqrt T.
    """
    if not (B < S0 and B <= K):
        raise ValueError("the down-and-out formula needs B < S0 and B <= K")
    vol = sigma * math.sqrt(T)
    lam = (r + 0.5 * sigma**2) / sigma**2
    y = math.log(B * B / (S0 * K)) / vol + lam * vol
    log_ratio = math.log(B / S0)
    # in logs: (B/S0)^{2 lam} overflows for r < 0 and small sigma while N(y) underflows
    knocked_in = S0 * _exp_times_cdf(2 * lam * log_ratio, y) - K * math.exp(
        -r * T
    ) * _exp_times_cdf((2 * lam - 2) * log_ratio, y - vol)
    return black_scholes("call", S0, K, T, r, sigma) - knocked_in


def _exp_times_cdf(exponent: float, x: float) -> float:
    """e^exponent N(x), as exp(exponent + log N(x)): finite whenever the product is."""
    from scipy.special import log_ndtr  # type: ignore[import-untyped,unused-ignore]

    return math.exp(min(exponent + float(log_ndtr(x)), 700.0))


def lookback_call(S0: float, T: float, r: float, sigma: float) -> float:
    """Floating-strike lookback call e^{-rT} E[S_T - min_{[0,T]} S], started at S_min = S0:
    c = S0 [N(a1) - e^{-rT} N(a2)] + S0 sigma^2/(2r) [e^{-rT} N(-a3) - N(-a1)],
    a1 = (r + sigma^2/2) sqrt T / sigma, a2 = a1 - sigma sqrt T, a3 = a1 - 2 r sqrt T / sigma.
    As r -> 0 the second term tends to S0 [sigma sqrt T phi(d) - sigma^2 T / 2 N(-d)],
    d = sigma sqrt T / 2.
    """
    root_t = math.sqrt(T)
    a1 = (r + 0.5 * sigma**2) * root_t / sigma
    a2 = a1 - sigma * root_t
    a3 = a1 - 2.0 * r * root_t / sigma
    plain = normal_cdf(a1) - math.exp(-r * T) * normal_cdf(a2)
    if abs(r) < SMALL_RATE:
        d = 0.5 * sigma * root_t
        extra = sigma * root_t * normal_pdf(d) - 0.5 * sigma**2 * T * normal_cdf(-d)
    else:
        extra = sigma**2 / (2 * r) * (math.exp(-r * T) * normal_cdf(-a3) - normal_cdf(-a1))
    return S0 * (plain + extra)


def geometric_asian_call(S0: float, K: float, T: float, r: float, sigma: float) -> float:
    """Call on G = exp((1/T) int_0^T ln S dt): ln G ~ N(mu, s^2), mu = ln S0 + (r - sigma^2/2) T/2,
    s^2 = sigma^2 T / 3;  price = e^{-rT} [e^{mu + s^2/2} N(d2 + s) - K N(d2)], d2 = (mu - ln K)/s.
    """
    mu = math.log(S0) + 0.5 * (r - 0.5 * sigma**2) * T
    s = sigma * math.sqrt(T / 3.0)
    d2 = (mu - math.log(K)) / s
    return math.exp(-r * T) * (math.exp(mu + 0.5 * s * s) * normal_cdf(d2 + s) - K * normal_cdf(d2))
