"""What a run checks before and after the driver, so ``converged`` never stands beside a
price it has reason to doubt (README, "What converged means").

Before: with ``mlmc.convergence: robust`` the driver starts at the coarsest level that
resolves the problem's scales (:func:`~mlmc_hpc.models.scales.coarsest_level`, said on
stderr and stored as ``effective_Lmin``) and gets the regime checks with alpha capped at
the scheme's weak order (:class:`~mlmc_hpc.core.regime.Safeguards`). Plain Monte Carlo
on a grid cannot test its bias: it is never ``converged`` (said before sampling, with
any scale rule its grid breaks).

After: ``converged`` is withdrawn, with a warning, when the scales need a finer level
than Lmax, or when a closed form exists and the price is more than
4 max(eps, std_error) from it (a guard for what the checks could miss, not the fix:
for a correct run that happens with probability below 1e-4).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from ..config.checks import largest_Lmax
from ..config.schema import Config, MLMCSettings
from ..core.driver import MLMCEstimate
from ..core.regime import GILES, Safeguards
from ..models.options import reference_price
from ..models.scales import coarsest_level, max_weak_rate, unresolved

REFERENCE_SIGMAS = 4.0  # the guard's distance from the closed form, in max(eps, std_error)


@dataclass(frozen=True)
class DriverPlan:
    """The driver's settings (``Lmin`` raised where the scales need it) and safeguards;
    ``notes`` are said on stderr before sampling, ``doubt`` withdraws ``converged``."""

    settings: MLMCSettings
    safeguards: Safeguards
    notes: tuple[str, ...] = ()
    doubt: str | None = None


def driver_plan(config: Config) -> DriverPlan:
    """How the driver runs ``config``: see the module docstring."""
    mlmc, option = config.mlmc, config.option
    if mlmc.method == "mc":
        if mlmc.mc_steps is None:
            return DriverPlan(mlmc, GILES)  # exact sampling: no bias
        broken = unresolved(option, mlmc.mc_steps)
        why = f", and it is too coarse for the problem's scales ({'; '.join(broken)})"
        doubt = (f"plain Monte Carlo on a grid of {mlmc.mc_steps} steps cannot estimate its "
                 f"own bias{why if broken else ''}: converged is false whatever the standard "
                 f"error (method mlmc, or mc_steps auto for a call or put, tests it)")  # fmt: skip
        return DriverPlan(mlmc, GILES, (doubt,), doubt)
    if mlmc.convergence == "giles":
        return DriverPlan(mlmc, GILES)
    safeguards = Safeguards(regime=True, alpha_max=max_weak_rate(mlmc.M))
    coarsest = coarsest_level(option, mlmc.M, mlmc.Lmin)
    if coarsest.level == mlmc.Lmin:
        return DriverPlan(mlmc, safeguards)
    if coarsest.level > mlmc.Lmax:
        largest = largest_Lmax(mlmc.M)
        fix = (f"raise mlmc.Lmax to at least {coarsest.level + 2}" if coarsest.level + 2 <= largest
               else f"no Lmax allowed for M = {mlmc.M} (at most {largest}) reaches it")  # fmt: skip
        doubt = (f"the problem's scales need levels finer than mlmc.Lmax = {mlmc.Lmax} "
                 f"({'; '.join(coarsest.reasons)}): {fix}, or accept an unconverged "
                 f"estimate")  # fmt: skip
        return DriverPlan(mlmc, safeguards, (doubt,), doubt)  # no raise: it could not help
    settings = dataclasses.replace(mlmc, Lmin=coarsest.level)
    return DriverPlan(settings, safeguards, (coarsest.message(mlmc.Lmin),))


def reference_doubt(config: Config, estimate: MLMCEstimate) -> str | None:
    """Why the price disagrees with the closed form (module docstring), or None."""
    reference = reference_price(config.option)
    if not math.isfinite(reference):
        return None
    scale = max(config.mlmc.eps, estimate.std_error)
    error = estimate.price - reference
    if abs(error) <= REFERENCE_SIGMAS * scale:
        return None
    return (f"the price {estimate.price:.6g} is {abs(error) / scale:.1f} x max(eps, std_error) "
            f"from the closed form {reference:.6g}: the estimate is not trusted "
            f"(converged withdrawn)")  # fmt: skip


def withdraw(
    estimate: MLMCEstimate, config: Config, plan: DriverPlan, warn: Callable[[str], None]
) -> MLMCEstimate:
    """The final estimate with ``converged`` withdrawn where the plan or the closed form
    doubts it (each doubt said once through ``warn``)."""
    if not estimate.converged:
        return estimate
    doubt = plan.doubt or reference_doubt(config, estimate)
    if doubt is None:
        return estimate
    if doubt != plan.doubt:
        warn(doubt)
    return dataclasses.replace(estimate, converged=False)
