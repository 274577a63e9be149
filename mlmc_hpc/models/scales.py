"""The problem's scales: the coarsest level whose grid resolves them, and the weak order.

Giles' bias test extrapolates from the finest levels, so those levels must already be
in the asymptotic regime m_{l+1} ~ m_l / M. That needs a step h = T / M^l that is small
against every scale of the problem (the reason and the constants are below); levels
coarser than that are still sampled (they telescope exactly) but the test may not stop
there, so the driver's Lmin is raised to the first level that resolves them all.

For Milstein on GBM, one step multiplies S by 1 + r h + sigma dW + sigma^2 (dW^2 - h) / 2,
so E[S_n] = S0 (1 + r h)^n and the relative weak error of the mean and of the second
moment after n = T / h steps are 1 - exp(-r^2 T h / 2 + ...) and
1 - exp(-T h (r^2 + 2 r sigma^2) + ...): the first-order term dominates only when
T h (r^2 + 2 |r| sigma^2) is small (with r = 5, T = 10 that needs 2^14 steps, and every
coarser level is almost worthless). The rules, each a fraction of a scale:

* one step against the drift and variance time scales: |r| h <= 1/4, sigma^2 h <= 1/4;
* the accumulated discrete drift: T h (r^2 + 2 |r| sigma^2) <= 1/4;
* a down-and-out barrier B: log(S0 / B) >= 3 sigma sqrt(h), so one step from spot
  crosses it with probability 2 Phi(-3) < 0.3% (a barrier 5% below spot at sigma = 0.2
  needs 2^8 steps; below that the corrections change sign, Giles' test stops at L = 3
  and the price is 7 eps wrong).

Every coupling here (Giles, MCQMC 2006) has weak order 1 in h, so the weak rate in the
driver's log2 units is at most log2 M (:func:`max_weak_rate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config.schema import OptionSpec

STEP_FRACTION = 0.25  # |r| h and sigma^2 h at most this
DRIFT_FRACTION = 0.25  # T h (r^2 + 2 |r| sigma^2) at most this
BARRIER_SIGMAS = 3.0  # log(S0 / B) >= this many sigma sqrt(h)
WEAK_ORDER = 1.0  # Milstein with Giles' couplings: |E[P_l - P]| = O(h)


@dataclass(frozen=True)
class CoarsestLevel:
    """The Lmin the scales ask for, and why (empty when the configured Lmin suffices)."""

    level: int
    reasons: tuple[str, ...]

    def message(self, configured: int) -> str:
        """One line for stderr: 'raising Lmin from 2 to 8: <reasons>'."""
        return f"raising mlmc.Lmin from {configured} to {self.level}: " + "; ".join(self.reasons)


def largest_step(option: OptionSpec) -> list[tuple[float, str]]:
    """(h_max, rule) for every rule of the module docstring that bounds the step."""
    o = option
    drift = o.T * (o.r**2 + 2.0 * abs(o.r) * o.sigma**2)
    rules = [
        (_bound(STEP_FRACTION, abs(o.r)), f"|r| h <= {STEP_FRACTION:g}"),
        (_bound(DRIFT_FRACTION, drift), f"T h (r^2 + 2|r| sigma^2) <= {DRIFT_FRACTION:g}"),
        (_bound(STEP_FRACTION, o.sigma**2), f"sigma^2 h <= {STEP_FRACTION:g}"),
    ]
    if o.type == "barrier" and o.barrier is not None and o.barrier < o.S0:
        distance = math.log(o.S0 / o.barrier)
        rule = f"log(S0/B) = {distance:.3g} >= {BARRIER_SIGMAS:g} sigma sqrt(h)"
        rules.append(((distance / (BARRIER_SIGMAS * o.sigma)) ** 2, rule))
    return rules


def _bound(fraction: float, rate: float) -> float:
    """The largest h with rate h <= fraction (inf when the rate is 0)."""
    return fraction / rate if rate > 0.0 else math.inf


def coarsest_level(option: OptionSpec, M: int, Lmin: int) -> CoarsestLevel:
    """The smallest level >= ``Lmin`` whose step T / M^l meets every rule, with the rules
    that forced it above ``Lmin`` (each naming the step it needs)."""
    level, reasons = Lmin, []
    for h_max, rule in largest_step(option):
        needed = Lmin
        while option.T / M**needed > h_max:
            needed += 1
        if needed > Lmin:
            reasons.append(f"{rule} needs h = T/{M}^{needed}")
        level = max(level, needed)
    return CoarsestLevel(level, tuple(reasons))


def unresolved(option: OptionSpec, steps: int) -> list[str]:
    """The rules a grid of ``steps`` equal steps breaks (plain Monte Carlo's grid)."""
    h = option.T / steps
    return [rule for h_max, rule in largest_step(option) if h > h_max]


def max_weak_rate(M: int) -> float:
    """The weak rate in the driver's units (|E Y_l| ~ 2^-alpha l): WEAK_ORDER log2 M."""
    return WEAK_ORDER * math.log2(M)
