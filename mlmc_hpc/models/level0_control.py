"""Level 0 with a control variate: Y_0 = P_0 - c (Q - E[Q]) on the same random numbers.

P_0 is the payoff of one Milstein step of length T (:mod:`mlmc_hpc.models.level0`); Q is the
payoff of the exact GBM on the same Z (and xi or E), whose mean is a closed form of
:mod:`mlmc_hpc.models.closed_forms`. With S_T = S0 exp((r - sigma^2/2) T + sigma sqrt(T) Z),
D = e^{-rT}, x0 = ln S0, x1 = ln S_T:

- call/put: Q = D max(+-(S_T - K), 0), E[Q] = Black-Scholes.
- digital: P_0 is deterministic, so c = 0 and Y_0 = P_0; Q = D payout 1{S_T > K} (unused),
  E[Q] = the digital closed form.
- asian (arithmetic and geometric): Q = D max(G - K, 0) with the exact continuous geometric
  average ln G = (1/T) int_0^T ln S dt = x0 + (r - sigma^2/2) T/2 + sigma (sqrt(T) Z/2
  + sqrt(T/12) xi) (the same xi as the bridge term of P_0), E[Q] = geometric_asian_call.
- lookback: Q = D (S_T - e^m), m = (x0 + x1 - sqrt((x1 - x0)^2 + 2 sigma^2 T E))/2 the exact
  minimum of the log-price bridge given the same E = -ln U, E[Q] = lookback_call.
- barrier: Q = D max(S_T - K, 0) (1 - exp(-2 ln(S0/B) max(0, ln(S_T/B)) / (sigma^2 T))),
  E[Q] = down_and_out_call.

c = Cov(P_0, Q) / Var(Q) minimises Var(Y_0); it is computed once from E[P_0], E[Q], E[P_0 Q]
and E[Q^2] by a fixed Gauss-Legendre rule (1-D over |Z| <= 10 split at the kinks of P_0 and
Q; 2-D tensor rules over (Z, xi) split at both kinks in xi for each Z, or over (Z, t), E = t^2,
for the lookback), summed with math.fsum and rounded to float32 precision, so every process
gets the same c bit for bit. c only changes the variance of Y_0, never its mean E[P_0].
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
from .level0 import SQRT2PI, check_level0, digital_level0, gauss_panels, milstein_roots, milstein_x1
from .options import payout

CONTROL_Z_LIMIT = 10.0  # |Z| range of the covariance rule (phi(10) ~ 8e-23)
CONTROL_XI_LIMIT = 10.0
CONTROL_T_EDGES = (0.0, 0.05, 0.2, 0.5, 1.0, 2.0, 3.5, 5.0, 6.5)  # E = t^2 <= 42
PANEL_WIDTH = 0.5
POINTS = 12


def _geometric(option: OptionSpec) -> bool:
    return option.type == "asian" and option.average == "geometric"


def level0_payoff(option: OptionSpec, z: np.ndarray, extra: np.ndarray | None) -> np.ndarray:
    """P_0 elementwise (:mod:`mlmc_hpc.models.level0`); ``extra`` is xi (asian) or E (lookback)."""
    o = option
    D = math.exp(-o.r * o.T)
    x1 = milstein_x1(o, z)
    if o.type in EUROPEAN_TYPES:
        return D * np.maximum((1.0 if o.type == "call" else -1.0) * (x1 - o.K), 0.0)
    if o.type == "digital":
        return np.full(np.shape(x1), digital_level0(o))
    if o.type == "asian" and extra is not None:
        if _geometric(o):
            log_average = (
                0.5 * (math.log(o.S0) + np.log(x1)) + o.sigma * math.sqrt(o.T / 12) * extra
            )
            return D * np.maximum(np.exp(log_average) - o.K, 0.0)
        average = 0.5 * (o.S0 + x1) + o.sigma * o.S0 * math.sqrt(o.T / 12) * extra
        return D * np.maximum(average - o.K, 0.0)
    if o.type == "lookback" and extra is not None:
        spread = np.sqrt((x1 - o.S0) ** 2 + 2.0 * o.T * (o.sigma * o.S0) ** 2 * extra)
        return D * (x1 - 0.5 * (o.S0 + x1 - spread))
    if o.type == "barrier" and o.barrier is not None:
        B = o.barrier
        exponent = -2.0 * np.maximum(0.0, (o.S0 - B) * (x1 - B)) / (o.T * (o.sigma * o.S0) ** 2)
        return D * -np.expm1(exponent) * np.maximum(x1 - o.K, 0.0)
    raise ValueError(f"level 0 of option type {o.type!r} needs its extra random number")


def control_payoff(option: OptionSpec, z: np.ndarray, extra: np.ndarray | None) -> np.ndarray:
    """Q elementwise (module docstring): the exact-GBM payoff on the same random numbers."""
    o = option
    D, drift = math.exp(-o.r * o.T), (o.r - 0.5 * o.sigma**2) * o.T
    log_st = math.log(o.S0) + drift + o.sigma * math.sqrt(o.T) * z
    st = np.exp(log_st)
    if o.type in EUROPEAN_TYPES:
        return D * np.maximum((1.0 if o.type == "call" else -1.0) * (st - o.K), 0.0)
    if o.type == "digital":
        return D * payout(o) * (st > o.K)
    if o.type == "asian" and extra is not None:
        bridge = math.sqrt(o.T) * z / 2 + math.sqrt(o.T / 12) * extra
        return D * np.maximum(np.exp(math.log(o.S0) + drift / 2 + o.sigma * bridge) - o.K, 0.0)
    if o.type == "lookback" and extra is not None:
        x0 = math.log(o.S0)
        spread = np.sqrt((log_st - x0) ** 2 + 2.0 * o.sigma**2 * o.T * extra)
        return D * (st - np.exp(0.5 * (x0 + log_st - spread)))
    if o.type == "barrier" and o.barrier is not None:
        reach = math.log(o.S0 / o.barrier) * np.maximum(0.0, log_st - math.log(o.barrier))
        return D * np.maximum(st - o.K, 0.0) * -np.expm1(-2.0 * reach / (o.sigma**2 * o.T))
    raise ValueError(f"the control of option type {o.type!r} needs its extra random number")


def control_mean(option: OptionSpec) -> tuple[float, str]:
    """(E[Q], the name of its closed form)."""
    o = option
    args = (o.S0, o.K, o.T, o.r, o.sigma)
    if o.type in EUROPEAN_TYPES:
        return black_scholes(o.type, *args), "Black-Scholes"
    if o.type == "digital":
        return digital_call(*args, payout(o)), "cash-or-nothing closed form"
    if o.type == "asian":
        return geometric_asian_call(*args), "Kemna-Vorst geometric Asian"
    if o.type == "lookback":
        return lookback_call(o.S0, o.T, o.r, o.sigma), "Goldman-Sosin-Gatto lookback"
    if o.type == "barrier" and o.barrier is not None:
        return down_and_out_call(*args, o.barrier), "down-and-out closed form"
    raise ValueError(f"no control variate for option type {o.type!r}")


def _row_rule(bounds: np.ndarray, panels: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights, row by row: each segment between consecutive columns
    of ``bounds`` (rows x edges, sorted) cut into ``panels`` equal panels of POINTS points."""
    x, w = np.polynomial.legendre.leggauss(POINTS)
    step = (bounds[:, 1:] - bounds[:, :-1]) / panels
    starts = bounds[:, :-1, None] + step[..., None] * np.arange(panels)
    half = 0.5 * step[..., None, None]
    nodes = (starts[..., None] + half) + half * x
    weights = np.broadcast_to(half * w, nodes.shape)
    return nodes.reshape(len(bounds), -1), weights.reshape(len(bounds), -1)


def _xi_kinks(option: OptionSpec, z: np.ndarray) -> np.ndarray:
    """Columns: the xi where the Milstein average and the geometric control reach K."""
    o = option
    x1 = milstein_x1(o, z)
    if _geometric(o):
        p_kink = (math.log(o.K) - 0.5 * (math.log(o.S0) + np.log(x1))) / (
            o.sigma * math.sqrt(o.T / 12)
        )
    else:
        p_kink = (o.K - 0.5 * (o.S0 + x1)) / (o.sigma * o.S0 * math.sqrt(o.T / 12))
    centre = math.log(o.S0) + 0.5 * (o.r - 0.5 * o.sigma**2) * o.T
    q_kink = (math.log(o.K) - centre - 0.5 * o.sigma * math.sqrt(o.T) * z) / (
        o.sigma * math.sqrt(o.T / 12)
    )
    return np.stack([p_kink, q_kink], axis=1)


def control_moments(option: OptionSpec, scale: int = 1) -> tuple[float, float, float, float]:
    """(E[P_0], E[Q], E[P_0 Q], E[Q^2]) by the fixed rule of the module docstring; ``scale``
    multiplies the number of panels (a finer rule, to check the accuracy)."""
    o = option
    width = PANEL_WIDTH / scale
    z_kinks: tuple[float, ...] = ()
    if o.type != "asian":
        log_kinks = [o.S0] if o.type == "lookback" else [o.K]
        log_kinks += [o.barrier] if o.type == "barrier" and o.barrier is not None else []
        drift = (o.r - 0.5 * o.sigma**2) * o.T
        z_kinks = tuple(
            (math.log(v / o.S0) - drift) / (o.sigma * math.sqrt(o.T)) for v in log_kinks
        )
        for level in log_kinks:
            z_kinks += milstein_roots(o, level)
    edges = sorted(
        {-CONTROL_Z_LIMIT, CONTROL_Z_LIMIT, *(k for k in z_kinks if abs(k) < CONTROL_Z_LIMIT)}
    )
    z, zw = gauss_panels(edges, width, POINTS)
    zw = zw * np.exp(-0.5 * z * z) / SQRT2PI
    extra: np.ndarray | None = None
    if o.type == "asian":
        limits = np.full((len(z), 1), CONTROL_XI_LIMIT)
        bounds = np.hstack(
            [
                -limits,
                np.clip(np.sort(_xi_kinks(o, z), axis=1), -CONTROL_XI_LIMIT, CONTROL_XI_LIMIT),
                limits,
            ]
        )
        extra, inner = _row_rule(bounds, 2 * scale)
        weights = zw[:, None] * inner * np.exp(-0.5 * extra * extra) / SQRT2PI
    elif o.type == "lookback":
        bounds = np.broadcast_to(np.array(CONTROL_T_EDGES), (len(z), len(CONTROL_T_EDGES)))
        t, inner = _row_rule(bounds, scale)
        extra = t * t
        weights = zw[:, None] * inner * 2.0 * t * np.exp(-extra)
    else:
        weights = zw[:, None]
    z2 = z[:, None] if extra is None else np.broadcast_to(z[:, None], extra.shape)
    p, q = level0_payoff(o, z2, extra), control_payoff(o, z2, extra)
    p, q = np.broadcast_to(p, weights.shape), np.broadcast_to(q, weights.shape)
    sums = (math.fsum((weights * f).ravel()) for f in (p, q, p * q, q * q))
    first, second, third, fourth = sums
    return first, second, third, fourth


@dataclass(frozen=True)
class Level0Control:
    """Level 0 sampled as Y_0 = P_0 - c (Q - E[Q]) (module docstring)."""

    coefficient: float
    control_mean: float
    method: str
    option: OptionSpec

    def pair(self, rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray]:
        """(P_0, Q) of m samples; draws exactly as :meth:`sample` does."""
        o = self.option
        z = rng.standard_normal(m)
        extra: np.ndarray | None = None
        if o.type == "asian":
            extra = rng.standard_normal(m)
        elif o.type == "lookback":
            extra = -np.log1p(-rng.random(m))
        return level0_payoff(o, z, extra), control_payoff(o, z, extra)

    def sample(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """m samples of Y_0 = P_0 - c (Q - E[Q]) drawn from rng (float64 array of length m).

        Draw order (a contract: results are reproducible from the stream): Z =
        rng.standard_normal(m) first, for every type (the digital too, though its P_0 does not
        use it); then for the asian xi = rng.standard_normal(m); for the lookback
        U = rng.random(m) and E = -log1p(-U). Nothing else is drawn.
        """
        p0, q = self.pair(rng, m)
        if self.coefficient == 0.0:
            return p0
        return p0 - self.coefficient * (q - self.control_mean)


def control_level0(option: OptionSpec) -> Level0Control:
    """The control variate of level 0 for ``option`` (module docstring); ValueError where level 0
    is undefined (see :func:`~mlmc_hpc.models.level0.check_level0`)."""
    o = option
    check_level0(o)
    mean, formula = control_mean(o)
    if o.type == "digital":
        method = (
            f"none: P_0 = {digital_level0(o):.10g} is deterministic at level 0, so Y_0 = P_0 "
            f"(c = 0); E[Q] = {mean:.10g} ({formula})"
        )
        return Level0Control(0.0, mean, method, o)
    e_p, e_q, e_pq, e_qq = control_moments(o)
    var_q, cov = e_qq - e_q * e_q, e_pq - e_p * e_q
    c = float(np.float32(cov / var_q)) if var_q > 0 and math.isfinite(cov / var_q) else 0.0
    what = {
        "call": "the exact-GBM call on the same Z",
        "put": "the exact-GBM put on the same Z",
        "asian": "the exact continuously averaged geometric Asian call on the same (Z, xi)",
        "lookback": "the exact-GBM lookback with the bridge minimum on the same (Z, E)",
        "barrier": "the exact-GBM down-and-out call with bridge survival on the same Z",
    }[o.type]
    method = (
        f"Q = {what}; E[Q] = {mean:.10g} ({formula}); c = Cov(P_0, Q)/Var(Q) = {c:.6g} "
        f"(Gauss-Legendre quadrature)"
    )
    return Level0Control(c, mean, method, o)
