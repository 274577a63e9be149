"""How the exact and the daily scenario models differ at a one-day horizon: an expansion.

The risk models of :mod:`mlmc_hpc.models.portfolio` agree to first order in the horizon;
their VaR and CVaR differ by the terms computed here (no options), which the statistical
tests and ``scripts/risk_reference.py`` compare with runs of both models.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri  # type: ignore[import-untyped,unused-ignore]

from ..config.risk_schema import RiskConfig


def one_day_difference(config: RiskConfig, p: float) -> dict[str, tuple[float, float]]:
    """First- and second-order terms of VaR_exact - VaR_daily and CVaR_exact - CVaR_daily
    for a book of stocks at a horizon of one day h (no options).

    Couple the models through the same correlated normals X (their distributions do not
    depend on how they are drawn). With b_i = sigma_i sqrt(h), a_i = (mu_i - sigma_i^2/2) h
    the daily loss is L = -V sum_i w_i (mu_i h + b_i X_i) = -V (m + s zeta), zeta ~ N(0, 1),
    and the exact one is L - D with
        D / V = sum_i w_i (e^{a_i + b_i X_i} - 1 - mu_i h - b_i X_i)
              = sum_i w_i [b_i^2 (X_i^2 - 1) / 2 + a_i b_i X_i + b_i^3 X_i^3 / 6] + O(h^2).
    Given zeta, X_i ~ N(beta_i zeta, 1 - beta_i^2) with beta_i = (R (w b))_i / s, so the
    conditional moments of X_i, X_i^2 and X_i^3 and Cov(X_i^2, X_j^2 | zeta) = 2 C_ij^2 +
    4 beta_i beta_j zeta^2 C_ij (C = R - beta beta^T) are explicit. The loss at level p
    has zeta = -z_p. The perturbation expansions of a quantile and of the expected
    shortfall (Gourieroux, Laurent and Scaillet 2000; Tasche 2000) give
        VaR(L - D)  = VaR(L) - E[D | L = q] - (1 / 2f) d/dx [f(x) Var(D | L = x)] at q,
        CVaR(L - D) = CVaR(L) - E[D | L >= q] + f(q) Var(D | L = q) / (2 (1 - p)),
    f the density of L. First order: the b^2 (X^2 - 1) / 2 term in the conditional means
    (O(sigma^2 h) V); second order, O(h^{3/2}) V: the a b X and b^3 X^3 / 6 terms and the
    variance terms. What is left is O(h^2) V, a factor of order b z_p (about 0.07 here)
    below the second-order term.
    """
    assets = config.portfolio.assets
    h = config.risk.horizon_days / config.risk.trading_days
    value = config.portfolio.value
    w = np.array([a.weight for a in assets])
    sigma = np.array([a.sigma for a in assets])
    mu = np.array([a.mu for a in assets])
    corr = np.array(config.portfolio.correlation)
    b, a = sigma * math.sqrt(h), (mu - 0.5 * sigma**2) * h
    s = math.sqrt(w @ (corr * np.outer(b, b)) @ w)
    beta = corr @ (w * b) / s
    u = w * b * b
    cond = corr - np.outer(beta, beta)
    A0 = float(u @ (cond * cond) @ u)  # Var(D | zeta) = V^2 (A0 / 2 + A1 zeta^2)
    A1 = float((u * beta) @ cond @ (u * beta))
    z, tail = float(ndtri(p)), 1.0 - p
    density = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    # VaR: E[X_i | zeta = -z] = -beta_i z, E[X_i^3 | .] = -(beta_i^3 z^3 + 3 beta_i (1 -
    # beta_i^2) z), E[X_i^2 - 1 | .] = beta_i^2 (z^2 - 1); the variance term, with
    # x = -V (m + s zeta) and f = phi(zeta) / (V s), is V z (A0/2 + A1 (z^2 - 2)) / (2 s)
    first_var = -0.5 * value * float(np.sum(u * beta**2)) * (z * z - 1.0)
    cubic = -(beta**3 * z**3 + 3.0 * beta * (1.0 - beta**2) * z)
    second_var = -value * float(np.sum(w * (a * b * (-beta * z) + b**3 * cubic / 6.0)))
    second_var += value * z * (A0 / 2.0 + A1 * (z * z - 2.0)) / (2.0 * s)
    # CVaR: over zeta <= -z, E[zeta] = -phi(z) / (1 - p), E[zeta^3] = -(z^2 + 2) phi(z) /
    # (1 - p), E[zeta^2 - 1] = z phi(z) / (1 - p)
    mean1, mean3 = -density / tail, -(z * z + 2.0) * density / tail
    first_cvar = -0.5 * value * float(np.sum(u * beta**2)) * z * density / tail
    third = beta**3 * mean3 + 3.0 * beta * (1.0 - beta**2) * mean1
    second_cvar = -value * float(np.sum(w * (a * b * beta * mean1 + b**3 * third / 6.0)))
    second_cvar += density * value * (A0 / 2.0 + z * z * A1) / (2.0 * s * tail)
    return {"var": (first_var, second_var), "cvar": (first_cvar, second_cvar)}
