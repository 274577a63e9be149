"""E[P_0]: the expectation of MLMC level 0 (one Milstein step of length T), every option type.

Level 0 takes one step X_1 = S0 q(Z), q(Z) = 1 + rT + sigma sqrt(T) Z + sigma^2 T (Z^2 - 1)/2,
Z ~ N(0, 1) (:func:`mlmc_hpc.models.paths.simulate` with k = 1, h = T, M = None, and
:meth:`MilsteinGBMSampler._level0_chunk <mlmc_hpc.models.european.MilsteinGBMSampler>`);
D = e^{-rT}, phi and N the standard normal density and CDF. P_0 and how E[P_0] is found:

- call/put: P_0 = D max(+-(X_1 - K), 0). Closed form: S0 q(Z) - K = A (Z - z1)(Z - z2),
  A = S0 sigma^2 T / 2, so E[P_0] is D A times Gaussian partial moments outside (call) or
  between (put) the real roots z1 < z2, written with the tail moments
  J_k(s) = int_s^inf (Z - s)^k phi(Z) dZ (:func:`tail_moments`) so that no large terms cancel;
  no real root: call D (S0 (1 + rT) - K), put 0.
- digital: P_0 = D payout N((S0 (1 + rT) - K) / (sigma S0 sqrt T)), deterministic.
- asian: the bridge term, independent of Z, is integrated in closed form given Z. Arithmetic:
  average = (S0 + X_1)/2 + s xi ~ N(m, s^2), s = sigma S0 sqrt(T/12),
  E[(average - K)^+ | Z] = s J_1((K - m)/s) = (m - K) N((m - K)/s) + s phi((m - K)/s).
  Geometric: log-average = (ln S0 + ln X_1)/2 + s xi ~ N(mu, s^2), s = sigma sqrt(T/12),
  E[(e^{log-average} - K)^+ | Z] = e^{mu + s^2/2} N(d + s) - K N(d), d = (mu - ln K)/s; it
  needs X_1 > 0 for every Z, i.e. w = 1/2 + (r - sigma^2/2) T > 0 (w = min q), else ValueError.
- lookback: P_0 = D (X_1 - low), low = (S0 + X_1 - sqrt(y^2 + c E))/2, y = X_1 - S0,
  c = 2 T (sigma S0)^2, E = -ln U ~ Exp(1); E[sqrt(y^2 + c E)] = |y| + sqrt(pi c)/2
  erfcx(|y| / sqrt c), so E[P_0 | Z] = D (y + |y| + sqrt(pi c)/2 erfcx(|y| / sqrt c)) / 2.
- barrier (down-and-out call): P_0 = D (1 - exp(-2 max(0, (S0 - B)(X_1 - B)) / (T (sigma S0)^2)))
  max(X_1 - K, 0).

Asian, lookback and barrier are then integrated against phi(Z) by :func:`integrate_z`:
composite Gauss-Legendre on |Z| <= 38.5 split at every kink (real roots of X_1 = K, B or S0),
panels halved until two resolutions agree to 1e-13 relative. SciPy is imported lazily.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..config.schema import EUROPEAN_TYPES, OptionSpec
from .closed_forms import normal_cdf
from .options import payout

Z_LIMIT = 38.5  # phi(38.5) ~ 1e-323: nothing beyond contributes in float64
GL_POINTS = 20  # Gauss-Legendre points per panel
FIRST_WIDTH = 0.5  # widest panel of integrate_z; halved until converged
MAX_HALVINGS = 8
QUAD_RTOL = 1e-13
NARROW = 1.0  # put root intervals narrower than this: Gauss-Legendre instead of tail moments
CF_SWITCH = 2.0  # tail_moments: continued fraction above this s
CF_TERMS = 160  # enough for 1 ulp at s >= 2 (checked against erfcx)
SQRT2PI = math.sqrt(2.0 * math.pi)

Integrand = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Level0Exact:
    """E[P_0] (discounted) to about 1e-12 relative accuracy, and one line saying how."""

    value: float
    method: str


def check_level0(option: OptionSpec) -> None:
    """ValueError (one line) where level 0 is undefined: a geometric Asian whose one step can
    reach X_1 <= 0 (w = 1/2 + (r - sigma^2/2) T <= 0), or a barrier option without a barrier."""
    o = option
    if o.type == "asian" and o.average == "geometric":
        w = 0.5 + (o.r - 0.5 * o.sigma**2) * o.T
        if not w > 0:
            raise ValueError(
                f"level 0 of a geometric Asian is undefined: one Milstein step of length T can "
                f"make the price <= 0 (its log average), since 1/2 + (r - sigma^2/2) T = {w:.3g} "
                f"<= 0 with r={o.r:g}, sigma={o.sigma:g}, T={o.T:g}"
            )
    if o.type == "barrier" and o.barrier is None:
        raise ValueError("a barrier option needs option.barrier")


def milstein_x1(option: OptionSpec, z: np.ndarray) -> np.ndarray:
    """X_1 = S0 (1 + rT + sigma sqrt(T) Z + sigma^2 T (Z^2 - 1)/2)."""
    o = option
    return o.S0 * (
        1.0 + o.r * o.T + o.sigma * math.sqrt(o.T) * z + 0.5 * o.sigma**2 * o.T * (z * z - 1.0)
    )


def milstein_roots(option: OptionSpec, level: float) -> tuple[float, ...]:
    """Sorted real roots Z of X_1(Z) = level, computed without cancellation; () when there are
    none or one double root (no sign change, so no kink)."""
    o = option
    a = 0.5 * o.S0 * o.sigma**2 * o.T
    b = o.S0 * o.sigma * math.sqrt(o.T)
    c = (o.S0 - level) + o.S0 * (o.r - 0.5 * o.sigma**2) * o.T
    disc = b * b - 4.0 * a * c
    if not disc > 0:
        return ()
    half = -0.5 * (b + math.sqrt(disc))  # b > 0, so half < 0
    return tuple(sorted((half / a, c / half)))


def tail_moments(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(J_1(s), J_2(s)), J_k(s) = int_s^inf (Z - s)^k phi(Z) dZ, elementwise, with no cancellation.

    s <= 2: J_1 = phi(s) - s Q(s), J_2 = (1 + s^2) Q(s) - s phi(s), Q(s) = erfc(s/sqrt 2)/2.
    s > 2: Laplace's continued fraction for the Mills ratio R = Q/phi = 1/(s + F_1),
    F_k = k/(s + F_{k+1}), gives J_1 = phi F_1 R and J_2 = phi F_1 F_2 R.
    """
    from scipy.special import erfc  # type: ignore[import-untyped,unused-ignore]

    s = np.asarray(s, dtype=np.float64)
    phi = np.exp(-0.5 * s * s) / SQRT2PI
    low = np.minimum(s, CF_SWITCH)
    q = 0.5 * erfc(low / math.sqrt(2.0))
    phi_low = np.exp(-0.5 * low * low) / SQRT2PI
    j1, j2 = phi_low - low * q, (1.0 + low * low) * q - low * phi_low
    high = np.maximum(s, CF_SWITCH)
    f2 = np.zeros_like(high)
    for k in range(CF_TERMS, 1, -1):
        f2 = k / (high + f2)
    f1 = 1.0 / (high + f2)
    ratio = 1.0 / (high + f1)
    above = s > CF_SWITCH
    return np.where(above, phi * f1 * ratio, j1), np.where(above, phi * f1 * f2 * ratio, j2)


def gauss_panels(
    edges: Sequence[float], width: float, points: int = GL_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of composite Gauss-Legendre on each segment between consecutive
    ``edges`` (sorted), cut into equal panels no wider than ``width``."""
    x, w = np.polynomial.legendre.leggauss(points)
    lows, highs = [], []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if b > a:
            cuts = np.linspace(a, b, max(1, math.ceil((b - a) / width)) + 1)
            lows.append(cuts[:-1])
            highs.append(cuts[1:])
    lo, hi = np.concatenate(lows), np.concatenate(highs)
    half, mid = 0.5 * (hi - lo), 0.5 * (hi + lo)
    return (mid[:, None] + half[:, None] * x).ravel(), (half[:, None] * w).ravel()


def integrate_z(
    func: Integrand, kinks: Iterable[float], rtol: float = QUAD_RTOL, limit: float = Z_LIMIT
) -> tuple[float, float]:
    """(int func(Z) phi(Z) dZ over |Z| <= limit, estimated absolute error): composite
    Gauss-Legendre split at ``kinks``, panels of width 0.5, 0.25, ... until two successive
    results differ by at most rtol relative (at most 8 halvings); the finer result is returned
    with that difference (an overestimate of its error) and summed with math.fsum."""
    edges = sorted({-limit, limit, *(k for k in kinks if -limit < k < limit)})
    width, previous, value = FIRST_WIDTH, math.nan, math.nan
    for _ in range(MAX_HALVINGS + 1):
        nodes, weights = gauss_panels(edges, width)
        value = math.fsum(weights * np.exp(-0.5 * nodes * nodes) / SQRT2PI * func(nodes))
        if abs(value - previous) <= rtol * abs(value):
            break
        previous, width = value, 0.5 * width
    return value, abs(value - previous)


def level0_integrand(option: OptionSpec) -> tuple[Integrand, tuple[float, ...]]:
    """E[P_0 | Z] as a vectorised function of Z (module docstring) and its kinks in Z."""
    from scipy.special import erfcx, ndtr  # type: ignore[import-untyped,unused-ignore]

    o = option
    check_level0(o)
    D = math.exp(-o.r * o.T)
    roots_k = milstein_roots(o, o.K)
    if o.type in EUROPEAN_TYPES:
        sign = 1.0 if o.type == "call" else -1.0
        return lambda z: D * np.maximum(sign * (milstein_x1(o, z) - o.K), 0.0), roots_k
    if o.type == "digital":
        value = digital_level0(o)
        return lambda z: np.full(np.shape(z), value), ()
    if o.type == "asian" and o.average == "geometric":
        s = o.sigma * math.sqrt(o.T / 12.0)

        def geometric(z: np.ndarray) -> np.ndarray:
            mu = 0.5 * (math.log(o.S0) + np.log(milstein_x1(o, z)))
            d = (mu - math.log(o.K)) / s
            return D * (np.exp(mu + 0.5 * s * s) * ndtr(d + s) - o.K * ndtr(d))

        return geometric, ()
    if o.type == "asian":
        s = o.sigma * o.S0 * math.sqrt(o.T / 12.0)
        return lambda z: D * s * tail_moments((o.K - 0.5 * (o.S0 + milstein_x1(o, z))) / s)[0], ()
    if o.type == "lookback":
        c = 2.0 * o.T * (o.sigma * o.S0) ** 2

        def lookback(z: np.ndarray) -> np.ndarray:
            y = milstein_x1(o, z) - o.S0
            a = np.abs(y)
            return 0.5 * D * (y + a + 0.5 * math.sqrt(math.pi * c) * erfcx(a / math.sqrt(c)))

        return lookback, milstein_roots(o, o.S0)
    if o.type == "barrier" and o.barrier is not None:
        B, scale = o.barrier, o.T * (o.sigma * o.S0) ** 2

        def barrier(z: np.ndarray) -> np.ndarray:
            x1 = milstein_x1(o, z)
            alive = -np.expm1(-2.0 * np.maximum(0.0, (o.S0 - B) * (x1 - B)) / scale)
            return D * alive * np.maximum(x1 - o.K, 0.0)

        return barrier, tuple(sorted(roots_k + milstein_roots(o, B)))
    raise ValueError(f"no level 0 for option type {o.type!r}")


def digital_level0(option: OptionSpec) -> float:
    """P_0 of the digital: D payout N((S0 (1 + rT) - K) / (sigma S0 sqrt T)) (deterministic)."""
    o = option
    spread = (o.S0 * (1.0 + o.r * o.T) - o.K) / (o.sigma * o.S0 * math.sqrt(o.T))
    return math.exp(-o.r * o.T) * payout(o) * normal_cdf(spread)


def _gauss_interval(lo: float, hi: float, func: Integrand) -> float:
    """int_lo^hi func(Z) phi(Z) dZ by 20-point Gauss-Legendre (for narrow intervals)."""
    nodes, weights = gauss_panels((lo, hi), hi - lo)
    return math.fsum(weights * np.exp(-0.5 * nodes * nodes) / SQRT2PI * func(nodes))


def european_level0(option: OptionSpec) -> float:
    """E[P_0] of a call or put in closed form (module docstring). With d = z2 - z1:
    call = D A [J_2(z2) + d J_1(z2) + J_2(-z1) + d J_1(-z1)];
    put = D A int_z1^z2 (Z - z1)(z2 - Z) phi = D A [d J_1(s1) - J_2(s1) + J_2(s2) + d J_1(s2)]
    with s1 = -z2 >= 0, s2 = -z1 (z2 <= 0), or D A [-1 - z1 z2 + the call's bracket] (z2 > 0);
    a put whose d < 1 (where those terms would cancel) takes 20-point Gauss-Legendre on [z1, z2]."""
    o = option
    D, A = math.exp(-o.r * o.T), 0.5 * o.S0 * o.sigma**2 * o.T
    roots = milstein_roots(o, o.K)
    if not roots:  # X_1 - K >= 0 for every Z
        return D * max(o.S0 * (1.0 + o.r * o.T) - o.K, 0.0) if o.type == "call" else 0.0
    z1, z2 = roots
    d = z2 - z1
    j1, j2 = tail_moments(np.array([z2, -z1]))
    outside = math.fsum([float(j2[0]), d * float(j1[0]), float(j2[1]), d * float(j1[1])])
    if o.type == "call":
        return D * A * outside
    if d < NARROW:
        return D * A * _gauss_interval(z1, z2, lambda z: (z - z1) * (z2 - z))
    if z2 <= 0.0:
        (k1_s1, k1_s2), (k2_s1, k2_s2) = (v.tolist() for v in tail_moments(np.array([-z2, -z1])))
        return D * A * math.fsum([d * k1_s1, -k2_s1, k2_s2, d * k1_s2])
    return D * A * math.fsum([-1.0, -z1 * z2, outside])


EUROPEAN_METHOD = (
    "closed form: Gaussian partial moments of the one-step Milstein quadratic S0 q(Z) - K "
    "outside (call) or between (put) its real roots"
)
NARROW_NOTE = "; the put's root interval is narrower than 1: 20-point Gauss-Legendre on it"
CONDITIONAL = {
    "asian": "the closed-form (normal) conditional expectation over the bridge term",
    "geometric": "the closed-form (lognormal) conditional expectation over the bridge term",
    "lookback": "the closed-form conditional expectation over the exponential bridge minimum",
    "barrier": "the payoff times the bridge survival probability",
}


def exact_level0(option: OptionSpec) -> Level0Exact:
    """E[P_0] of ``option`` (module docstring): closed forms for call, put and digital, 1-D
    quadrature over Z of E[P_0 | Z] for the others. ValueError where level 0 is undefined."""
    o = option
    check_level0(o)
    if o.type in EUROPEAN_TYPES:
        value = european_level0(o)
        roots = milstein_roots(o, o.K)
        narrow = o.type == "put" and len(roots) == 2 and roots[1] - roots[0] < NARROW
        return Level0Exact(value, EUROPEAN_METHOD + (NARROW_NOTE if narrow else ""))
    if o.type == "digital":
        return Level0Exact(
            digital_level0(o),
            "closed form: deterministic payout e^{-rT} N((S0 (1 + rT) - K) / (sigma S0 sqrt T))",
        )
    func, kinks = level0_integrand(o)
    value, error = integrate_z(func, kinks)
    key = "geometric" if o.type == "asian" and o.average == "geometric" else o.type
    relative = error / abs(value) if value else error
    return Level0Exact(
        value,
        f"adaptive composite Gauss-Legendre quadrature over Z, split at its kinks, of "
        f"{CONDITIONAL[key]} given Z (estimated relative error {relative:.1g})",
    )
