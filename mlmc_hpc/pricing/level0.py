"""How level 0 enters a run (``mlmc.level0``), decided once on the master.

- ``exact``: E[P_0] from :func:`~mlmc_hpc.models.level0.exact_level0` is given to the
  driver as a known level (``known={0: value}``): N_0 = 0, V_0 = 0.
- ``control``: the workers' samplers sample Y_0 = P_0 - c (Q - E[Q])
  (:mod:`mlmc_hpc.models.control_sampler`); the driver sees an ordinary level.
- ``sample``: Giles' plain sampling of P_0.

The result records the mode, the level-0 term and a line saying how it was obtained.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config.schema import Config

SAMPLED = "sampled: one Milstein step of length T per sample (Giles' level 0)"


@dataclass(frozen=True)
class Level0Plan:
    """The driver's known levels and the one-line description of level 0."""

    known: dict[int, float] = field(default_factory=dict)
    method: str = ""


def level0_plan(config: Config) -> Level0Plan:
    """Level 0 of ``config`` (module docstring); plain Monte Carlo has no levels."""
    mode = config.mlmc.level0
    if config.mlmc.method == "mc":
        return Level0Plan(method="plain Monte Carlo: no levels")
    if mode == "exact":
        from ..models.level0 import exact_level0

        exact = exact_level0(config.option)
        return Level0Plan({0: exact.value}, f"exact: {exact.method}")
    if mode == "control":
        from ..models.level0_control import control_level0

        return Level0Plan(method=f"control variate: {control_level0(config.option).method}")
    if config.mlmc.method == "mlqmc":
        return Level0Plan(method="sampled on randomised quasi-random points (one Milstein step)")
    return Level0Plan(method=SAMPLED)
