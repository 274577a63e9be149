#!/usr/bin/env python
"""Reference values of the risk command (issue 19): the notebook case and the test cases.

1. The notebook case (preset ``notebook_var``: five stocks, $1,000,000, model daily, 10
   trading days, VaR and CVaR at 95% and 99%), two ways:

   (a) a very large Monte Carlo run through ``mlmc_hpc.risk("notebook_var",
       scenarios=N, seed=S)`` (default N = 4e8: every 95% interval within about 0.02%);
   (b) a deterministic computation that shares nothing with the sampler but the two
       numbers m, s of ``daily_portfolio_return`` (recomputed here from the config as a
       check). Without options the daily model's stock value at the horizon is
       V prod_{d=1..10} (1 + m + s xi_d), xi_d iid N(0, 1), so the loss is
       L = V (1 - e^S) with S = Y_1 + ... + Y_10, Y = log(1 + m + s xi), whose density
       f_Y(y) = phi((e^y - 1 - m) / s) e^y / s is known. The density of Y_1 + ... + Y_9 is
       built on a grid of step h by nine-fold discrete convolution (the trapezoid rule of
       an analytic, Gaussian-like integrand: exponentially accurate in h), and the last
       fold is done against the closed forms
           P(Y <= t)         = Phi(z),                       z = (e^t - 1 - m) / s,
           E[e^Y; Y <= t]    = (1 + m) Phi(z) - s phi(z),
       so that P(S <= x) and E[e^S; S <= x] are sums over the grid. Then
           VaR_p  = V (1 - e^x),  x solving P(S <= x) = 1 - p,
           CVaR_p = E[L | L >= VaR_p] = V - V E[e^S; S <= x] / (1 - p).
       Checks printed: agreement over grid steps s/10, s/20, s/40 and truncations
       +-12 and +-16 standard deviations, and the exact moments E[e^S] = (1 + m)^10 and
       E[e^{2S}] = ((1 + m)^2 + s^2)^10.

2. What tests/statistical/test_risk.py uses besides (1b):

   * the closed forms of its single-asset cases (one-day daily model: a normal loss;
     exact model: a lognormal loss), printed for the record;
   * test (c), exact vs daily model at a one-day horizon with the notebook's weights: the
     test predicts the difference of the two models' VaR and CVaR by an expansion in
     the one-day volatility (first order O(sigma^2 h), second order O(h^{3/2})); here it
     is checked against a run of 1e8 scenarios per model (the residual should be a few
     standard errors at most). The expansion is coded in the test; this script has its
     own copy so that neither imports the other.
   * test (d) (a book with options against a brute-force revaluation) needs no stored
     reference: the brute force runs inside the test.

Usage: python scripts/risk_reference.py [--scenarios 4e8] [--seed 20261121] [--quick]
       [--out FILE]
  --quick: 4e7 scenarios for (1a) and 1e7 per model for (2) (a minute or less), no file
  unless --out is given; otherwise the text also goes to
  benchmarks/results/risk-reference-<date>.txt (--out '' writes none).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import sys
import time
from collections.abc import Callable

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy  # type: ignore[import-untyped,unused-ignore]  # noqa: E402
from benchkit import Report, cpu_model  # noqa: E402
from scipy.optimize import brentq  # type: ignore[import-untyped,unused-ignore]  # noqa: E402
from scipy.special import ndtr, ndtri  # type: ignore[import-untyped,unused-ignore]  # noqa: E402

import mlmc_hpc  # noqa: E402
from mlmc_hpc.config.risk_loading import load_risk_config  # noqa: E402
from mlmc_hpc.config.risk_schema import RiskConfig  # noqa: E402
from mlmc_hpc.io.risk_result import RiskResult  # noqa: E402
from mlmc_hpc.models.portfolio import book, daily_portfolio_return  # noqa: E402
from mlmc_hpc.models.risk_expansion import one_day_difference  # noqa: E402

LEVELS = (0.95, 0.99)
MEASURES = ("var", "cvar")
SQRT_2PI = math.sqrt(2.0 * math.pi)


# ----------------------------------------------------------------------------- (1b)


def phi(x: np.ndarray | float) -> np.ndarray:
    """Standard normal density."""
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-0.5 * x * x) / SQRT_2PI


def compound_reference(
    value: float,
    m: float,
    s: float,
    days: int,
    levels: tuple[float, ...] = LEVELS,
    step: float = 0.05,
    width: float = 14.0,
) -> dict[str, float]:
    """VaR_p and CVaR_p of L = V (1 - prod_d (1 + m + s xi_d)) by numerical convolution
    (module docstring, 1b); ``step`` is the grid step in units of s, ``width`` the
    truncation of xi in standard deviations. Also the moment checks (relative errors)."""
    h = step * s
    lowest, highest = math.log1p(m - width * s), math.log1p(m + width * s)
    index = np.arange(math.floor(lowest / h), math.ceil(highest / h) + 1)
    y = index * h
    density = phi((np.expm1(y) - m) / s) * np.exp(y) / s
    folded, offset = density.copy(), int(index[0])
    for _ in range(days - 2):  # the density of Y_1 + ... + Y_{days-1} on its grid
        folded = np.convolve(folded, density) * h
        offset += int(index[0])
    u = (offset + np.arange(len(folded))) * h

    def cdf(x: float) -> float:  # P(S <= x) = E[P(Y <= x - U)]
        return float(h * np.dot(folded, ndtr((np.expm1(x - u) - m) / s)))

    def partial(x: float) -> float:  # E[e^S; S <= x] = E[e^U E[e^Y; Y <= x - U]]
        z = (np.expm1(x - u) - m) / s
        return float(h * np.dot(folded * np.exp(u), (1.0 + m) * ndtr(z) - s * phi(z)))

    second = (1.0 + m) ** 2 + s * s  # E[e^{2Y}]
    out = {
        "mass": float(h * folded.sum()) - 1.0,
        "moment1": float(h * np.dot(folded, np.exp(u))) / (1.0 + m) ** (days - 1) - 1.0,
        "moment2": float(h * np.dot(folded, np.exp(2.0 * u))) / second ** (days - 1) - 1.0,
    }
    for p in levels:
        x = brentq(lambda t, p=p: cdf(t) - (1.0 - p), -1.0, 0.5, xtol=1e-16, rtol=1e-15)
        out[f"var_{p}"] = -value * math.expm1(x)
        out[f"cvar_{p}"] = value - value * partial(x) / (1.0 - p)
    return out


def independent_m_s(config: RiskConfig) -> tuple[float, float]:
    """m = w . mu / D and s = sqrt(w^T Sigma w / D) straight from the config (the check
    of daily_portfolio_return)."""
    assets = config.portfolio.assets
    days = config.risk.trading_days
    w = [a.weight for a in assets]
    sd = [a.sigma for a in assets]
    corr = config.portfolio.correlation
    n = len(assets)
    m = math.fsum(w[i] * assets[i].mu for i in range(n)) / days
    var = math.fsum(w[i] * w[j] * sd[i] * sd[j] * corr[i][j] for i in range(n) for j in range(n))
    return m, math.sqrt(var / days)


# ----------------------------------------------------------------------------- (2)


def normal_case(
    value: float, mu: float, sigma: float, days: float, p: float
) -> tuple[float, float]:
    """One-day daily model, one asset: L = -V (m + s xi) with m = mu / D, s = sigma /
    sqrt(D): VaR = V (s z_p - m), CVaR = V (s phi(z_p) / (1 - p) - m)."""
    m, s = mu / days, sigma / math.sqrt(days)
    z = float(ndtri(p))
    return value * (s * z - m), value * (s * float(phi(z)) / (1.0 - p) - m)


def lognormal_case(value: float, mu: float, sigma: float, h: float,
                   p: float) -> tuple[float, float]:  # fmt: skip
    """Exact model, one asset: L = V (1 - e^{a + b Z}), a = (mu - sigma^2/2) h, b = sigma
    sqrt(h): VaR = V (1 - e^{a - b z_p}), CVaR = V (1 - e^{a + b^2/2} Phi(-z_p - b) / (1 - p))."""
    a, b = (mu - 0.5 * sigma * sigma) * h, sigma * math.sqrt(h)
    z = float(ndtri(p))
    var = -value * math.expm1(a - b * z)
    cvar = value * (1.0 - math.exp(a + 0.5 * b * b) * float(ndtr(-z - b)) / (1.0 - p))
    return var, cvar


def half_width(result: RiskResult, measure: str, p: float) -> float:
    """Half the width of a reported 95% interval."""
    low, high = result.ci95(measure, p)
    return 0.5 * (high - low)


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenarios", type=float, default=4e8, help="(1a) scenarios")
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--check-scenarios", type=float, default=1e8,
                        help="(2) scenarios per model of the one-day expansion check")  # fmt: skip
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.scenarios, args.check_scenarios = 4e7, 1e7
    scenarios, check = int(args.scenarios), int(args.check_scenarios)
    today = dt.date.today().isoformat()
    out = args.out
    if out is None and not args.quick:
        out = f"benchmarks/results/risk-reference-{today}.txt"

    report = Report()
    versions = (f"python {platform.python_version()}  numpy {np.__version__}  scipy "
                f"{scipy.__version__}  mlmc_hpc {mlmc_hpc.__version__}")  # fmt: skip
    report(f"# risk_reference {today}  {versions}")
    report(f"# machine: {platform.machine()} {cpu_model()}, {os.cpu_count()} cores, "
           f"{platform.system()} {platform.release()}; one process (serial executor)")  # fmt: skip
    report()

    config = load_risk_config("notebook_var")
    portfolio = book(config)
    m, s = daily_portfolio_return(portfolio)
    m2, s2 = independent_m_s(config)
    V, days = portfolio.value, config.risk.horizon_days
    report("== 1. notebook_var: model daily, 10 days, V = 1,000,000, five stocks, no options")
    report(f"daily_portfolio_return: m = {m!r}, s = {s!r}")
    report(f"from the config by hand: m = {m2!r}, s = {s2!r} "
           f"(relative differences {m / m2 - 1:.1e}, {s / s2 - 1:.1e})")  # fmt: skip
    report()

    report("-- (1b) deterministic: nine-fold convolution of the density of log(1 + m + s xi)")
    report("   on a grid, the tenth fold against closed forms (module docstring)")
    tick = time.perf_counter()
    grids = [(0.1, 12.0), (0.05, 14.0), (0.025, 16.0)]
    runs = [compound_reference(V, m, s, days, step=step, width=width) for step, width in grids]
    seconds = time.perf_counter() - tick
    report(f"{'grid step/s':>12} {'width':>6} {'VaR95':>20} {'CVaR95':>20} {'VaR99':>20} "
           f"{'CVaR99':>20} {'mass-1':>9} {'E e^S':>9} {'E e^2S':>9}")  # fmt: skip
    for (step, width), r in zip(grids, runs, strict=True):
        shown = " ".join(f"{r[f'{k}_{p}']:20.10f}" for p in LEVELS for k in MEASURES)
        report(f"{step:12g} {width:6g} {shown} {r['mass']:9.1e} {r['moment1']:9.1e} "
               f"{r['moment2']:9.1e}")  # fmt: skip
    reference = runs[1]
    spread = max(abs(r[f"{k}_{p}"] / reference[f"{k}_{p}"] - 1.0)
                 for r in runs for p in LEVELS for k in MEASURES)  # fmt: skip
    report(f"largest relative difference between the grids: {spread:.1e} (target 1e-6); "
           f"{seconds:.2f} s for all three")  # fmt: skip
    report("(moment columns: relative errors of E[e^S] against (1+m)^10 and of E[e^2S]")
    report(" against ((1+m)^2+s^2)^10; mass-1: total probability of the nine-fold density)")
    report("reference (grid step s/20, width 14):")
    for p in LEVELS:
        for k in MEASURES:
            report(f"  {k}_{round(100 * p)} = {reference[f'{k}_{p}']!r}")
    report()

    report(f"-- (1a) Monte Carlo: mlmc_hpc.risk('notebook_var', scenarios={scenarios:.3g}, "
           f"seed={args.seed})")  # fmt: skip
    tick = time.perf_counter()
    result = mlmc_hpc.risk("notebook_var", scenarios=scenarios, seed=args.seed)
    seconds = time.perf_counter() - tick
    report(f"{result.scenarios:,} scenarios in {seconds:.1f} s ({result.scenarios / seconds:.3g}"
           f" scenarios/s; sampling {result.sampling_s:.1f} s)")  # fmt: skip
    report(f"{'':8} {'Monte Carlo':>16} {'95% CI':>35} {'half/value':>11} "
           f"{'deterministic':>18} {'rel. diff':>10} {'diff/se':>8} {'in CI':>6}")  # fmt: skip
    for p in LEVELS:
        for k in MEASURES:
            value, (low, high) = getattr(result, k)(p), result.ci95(k, p)
            truth = reference[f"{k}_{p}"]
            half = half_width(result, k, p)
            report(f"{k + str(round(100 * p)):8} {value:16.4f} [{low:16.4f}, {high:16.4f}] "
                   f"{half / value:11.2e} {truth:18.6f} {value / truth - 1:10.2e} "
                   f"{(value - truth) / (half / 1.959964):8.2f} "
                   f"{'yes' if low <= truth <= high else 'NO':>6}")  # fmt: skip
    report(
        "(diff/se: (MC - deterministic) / (CI half-width / 1.96); rel. diff: MC /"
        " deterministic - 1)"
    )
    report()

    report("== 2. references of tests/statistical/test_risk.py")
    report("-- closed forms of the single-asset cases (V = 1,000,000)")
    cases: tuple[tuple[str, Callable[..., tuple[float, float]], tuple[float, ...]], ...] = (
        ("daily, 1 day, mu 0.08 sigma 0.2 (normal loss)", normal_case, (1e6, 0.08, 0.2, 252.0)),
        ("exact, 10 days, mu 0.08 sigma 0.2 (lognormal loss)", lognormal_case,
         (1e6, 0.08, 0.2, 10 / 252)),
        ("exact, 10 days, mu 0.1 sigma 0.45 (lognormal loss)", lognormal_case,
         (1e6, 0.1, 0.45, 10 / 252)),
    )  # fmt: skip
    for label, function, args_ in cases:
        shown = "  ".join(f"VaR{round(100 * p)} {function(*args_, p)[0]:.6f} CVaR{round(100 * p)} "
                          f"{function(*args_, p)[1]:.6f}" for p in LEVELS)  # fmt: skip
        report(f"{label}: {shown}")
    report()
    report(f"-- test (c): notebook weights, horizon 1 day, exact - daily predicted by the "
           f"expansion, against {check:.3g} scenarios per model (seed {args.seed})")  # fmt: skip
    runs_c = {}
    for model in ("exact", "daily"):
        tick = time.perf_counter()
        runs_c[model] = mlmc_hpc.risk("notebook_var", scenarios=check, seed=args.seed,
                                      model=model, horizon_days=1)  # fmt: skip
        report(f"model {model}: {time.perf_counter() - tick:.1f} s")
    one_day = load_risk_config("notebook_var", [("risk.horizon_days", 1)])
    report(f"{'':8} {'exact':>14} {'daily':>14} {'difference':>11} {'1st order':>10} "
           f"{'2nd order':>10} {'residual':>9} {'se':>7} {'resid/se':>9}")  # fmt: skip
    for p in LEVELS:
        terms = one_day_difference(one_day, p)
        for k in MEASURES:
            exact, daily = (getattr(runs_c[x], k)(p) for x in ("exact", "daily"))
            se = math.hypot(*(half_width(runs_c[x], k, p) / 1.959964 for x in runs_c))
            first, second = terms[k]
            residual = exact - daily - first - second
            report(f"{k + str(round(100 * p)):8} {exact:14.4f} {daily:14.4f} {exact - daily:11.3f} "
                   f"{first:10.3f} {second:10.3f} {residual:9.3f} {se:7.3f} "
                   f"{residual / se:9.2f}")  # fmt: skip
    report("(se: the combined standard error of the difference, from the two 95% intervals)")

    if out:
        report.save(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
