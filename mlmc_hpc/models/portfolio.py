"""Portfolio scenarios: the loss of a book of stocks and European options at the horizon.

Loss = value today - value at the horizon h = horizon_days / trading_days years, with
the stocks at their simulated prices and each option revalued by Black-Scholes with its
remaining maturity T - h (its payoff when T = h). Two scenario models (``risk.model``):

- ``exact``: the stocks are held (buy and hold) and follow correlated GBM,
  S_h = S_0 exp((mu - sigma^2/2) h + sigma sqrt(h) X), X = C Z, C C^T = the correlation.
  One normal per asset and scenario.
- ``daily``: the notebook's model. Day d's arithmetic returns are
  r_d = mu / D + diag(sigma / sqrt(D)) C Z_d (D trading days a year) and the stock
  positions are rebalanced to their weights w each day: V_h = V prod_d (1 + w . r_d);
  an asset's price compounds its own returns, S_h = S_0 prod_d (1 + r_{d,i}). Without
  options only w . r_d matters, and it is exactly N(w . mu / D, |s|^2) with
  s = C^T diag(sigma) w / sqrt(D): one normal per day instead of one per asset-day.

Random numbers (a public contract): batch b draws SFC64(SeedSequence([RISK_STREAM, b,
seed])), in chunks of :data:`CHUNK` scenarios, each chunk's normals scenario-major for
``exact`` (n x assets) and day-major for ``daily`` (days x n, or days x n x assets with
options). A batch's losses depend on (seed, b, its size) alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr  # type: ignore[import-untyped,unused-ignore]

from ..config.risk_schema import RiskConfig

RISK_STREAM = 0x5249534B  # "RISK": the first word of every risk batch's seed sequence
CHUNK = 1 << 14  # scenarios per chunk: a few hundred kB of normals stay in cache


def risk_generator(seed: int, batch: int) -> np.random.Generator:
    """Batch ``batch``'s stream: SFC64(SeedSequence([RISK_STREAM, batch, seed]))."""
    return np.random.Generator(np.random.SFC64(np.random.SeedSequence([RISK_STREAM, batch, seed])))


def black_scholes(S: np.ndarray | float, K: float, tau: float, r: float, sigma: float,
                  call: bool) -> np.ndarray:  # fmt: skip
    """Black-Scholes value of a European call or put (Black and Scholes 1973) with
    maturity ``tau`` years left; the payoff max(+-(S - K), 0) when tau = 0."""
    S = np.maximum(np.asarray(S, dtype=np.float64), 0.0)
    if tau <= 0.0:
        return np.maximum(S - K, 0.0) if call else np.maximum(K - S, 0.0)
    root = sigma * math.sqrt(tau)
    discount = K * math.exp(-r * tau)
    with np.errstate(divide="ignore"):
        d1 = (np.log(S / K) + (r + 0.5 * sigma * sigma) * tau) / root
    d2 = d1 - root
    if call:
        return S * ndtr(d1) - discount * ndtr(d2)
    return discount * ndtr(-d2) - S * ndtr(-d1)


@dataclass(frozen=True)
class Book:
    """The numbers the scenarios need, from a :class:`RiskConfig` (see :func:`book`)."""

    model: str
    days: int  # horizon in trading days
    year_days: int  # trading days per year
    value: float  # stock positions today
    weights: np.ndarray  # (a,)
    mu: np.ndarray  # (a,) annual drift
    sigma: np.ndarray  # (a,) annual volatility
    S0: np.ndarray  # (a,) prices today (1 where not given: no option needs them)
    factor: np.ndarray  # (a, a) C with C C^T = correlation (Cholesky, or eigen for singular)
    option_asset: np.ndarray  # (k,) asset index of each option
    option_terms: tuple[tuple[bool, float, float, float, float, float], ...]  # call,K,T,r,vol,q
    value0: float  # stock positions plus options, today

    @property
    def horizon(self) -> float:
        """h in years."""
        return self.days / self.year_days


def correlation_factor(correlation: np.ndarray) -> np.ndarray:
    """C with C C^T = ``correlation``: Cholesky when positive definite, else the symmetric
    square root from the eigendecomposition (negative rounding eigenvalues set to 0)."""
    try:
        return np.linalg.cholesky(correlation)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(correlation)
        return np.asarray(vectors * np.sqrt(np.maximum(values, 0.0)))


def book(config: RiskConfig) -> Book:
    """The book of ``config`` with its value today (stocks plus options at Black-Scholes)."""
    portfolio, risk = config.portfolio, config.risk
    assets = portfolio.assets
    names = [asset.name for asset in assets]
    S0 = np.array([1.0 if a.S0 is None else a.S0 for a in assets])
    terms = tuple((o.type == "call", o.K, o.T, o.r, o.sigma, o.quantity) for o in portfolio.options)
    index = np.array([names.index(o.asset) for o in portfolio.options], dtype=np.int64)
    options_today = math.fsum(
        q * float(black_scholes(S0[i], K, T, r, vol, call))
        for i, (call, K, T, r, vol, q) in zip(index, terms, strict=True)
    )
    return Book(
        model=risk.model,
        days=risk.horizon_days,
        year_days=risk.trading_days,
        value=portfolio.value,
        weights=np.array([a.weight for a in assets]),
        mu=np.array([a.mu for a in assets]),
        sigma=np.array([a.sigma for a in assets]),
        S0=S0,
        factor=correlation_factor(np.array(portfolio.correlation)),
        option_asset=index,
        option_terms=terms,
        value0=portfolio.value + options_today,
    )


def losses(book: Book, generator: np.random.Generator, n: int) -> np.ndarray:
    """Losses of ``n`` scenarios drawn from ``generator`` (module docstring), chunk by chunk."""
    out = np.empty(n)
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        values = _values(book, generator, stop - start)
        np.subtract(book.value0, values, out=out[start:stop])
    return out


def _values(book: Book, generator: np.random.Generator, m: int) -> np.ndarray:
    """Values at the horizon of ``m`` scenarios."""
    if book.model == "exact":
        stocks, growth = _exact(book, generator, m)
    elif book.option_terms:
        stocks, growth = _daily(book, generator, m)
    else:
        return _daily_portfolio(book, generator, m)
    for i, (call, K, T, r, vol, q) in zip(book.option_asset, book.option_terms, strict=True):
        stocks += q * black_scholes(book.S0[i] * growth[:, i], K, T - book.horizon, r, vol, call)
    return stocks


def _exact(book: Book, generator: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Buy and hold under correlated GBM: (stock value, S_h / S_0 per asset)."""
    h = book.horizon
    z = generator.standard_normal((m, len(book.mu)))
    loading = book.factor.T * (book.sigma * math.sqrt(h))  # X_i sigma_i sqrt(h) = (Z C^T)_i ...
    growth = z @ loading
    growth += (book.mu - 0.5 * book.sigma**2) * h
    np.exp(growth, out=growth)
    return growth @ (book.weights * book.value), growth


def _daily(book: Book, generator: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's daily model asset by asset: (stock value, S_h / S_0 per asset)."""
    a = len(book.mu)
    loading = book.factor.T * (book.sigma / math.sqrt(book.year_days))
    drift = book.mu / book.year_days
    stocks = np.full(m, book.value)
    growth = np.ones((m, a))
    for _ in range(book.days):  # day by day: memory bounded whatever the horizon
        returns = generator.standard_normal((m, a)) @ loading
        returns += drift
        stocks *= 1.0 + returns @ book.weights
        returns += 1.0
        growth *= returns
    return stocks, growth


def _daily_portfolio(book: Book, generator: np.random.Generator, m: int) -> np.ndarray:
    """The daily model without options: one normal per day (module docstring)."""
    mean, scale = daily_portfolio_return(book)
    value = np.full(m, book.value)
    z = np.empty(m)
    for _ in range(book.days):  # day by day: memory bounded whatever the horizon
        generator.standard_normal(out=z)
        z *= scale
        z += 1.0 + mean
        value *= z
    return value


def daily_portfolio_return(book: Book) -> tuple[float, float]:
    """Mean and standard deviation of one day's portfolio return w . r_d (daily model)."""
    mean = float(book.weights @ book.mu) / book.year_days
    loading = book.factor.T @ (book.sigma * book.weights) / math.sqrt(book.year_days)
    return mean, float(np.sqrt(loading @ loading))
