"""A relative target: ``mlmc.rel_eps`` (``--rel-eps``) turns into eps = rel_eps x |pilot|.

Users think of accuracy in basis points of the price. The pilot is deterministic, needs
no random number and costs nothing, so the resolved eps is the same on every rank and on
every resume of a run:

- the closed form of the option where one exists (call, put, digital, lookback, barrier,
  geometric Asian);
- for the arithmetic Asian, the geometric Asian's closed form (Kemna and Vorst 1990): a
  lower bound within a few percent of it for the study's volatilities.

The resolved ``mlmc.eps`` is stored in the result's config next to ``mlmc.rel_eps``, and
the pilot in the result's ``pilot_price`` attribute.
"""

from __future__ import annotations

import dataclasses
import math

from ..config.book import BookConfig
from ..config.schema import Config
from ..errors import ConfigError
from ..models.closed_forms import geometric_asian_call
from ..models.options import reference_price


def pilot_price(config: Config) -> tuple[float, str]:
    """The pilot price of ``config``'s option and how it was obtained."""
    o = config.option
    reference = reference_price(o)
    if math.isfinite(reference):
        return reference, "closed form"
    return geometric_asian_call(o.S0, o.K, o.T, o.r, o.sigma), "geometric Asian closed form"


def resolve_rel_eps(config: Config) -> Config:
    """``config`` with mlmc.eps = rel_eps x |pilot| when mlmc.rel_eps is set, else as is."""
    rel_eps = config.mlmc.rel_eps
    if rel_eps is None:
        return config
    pilot, how = pilot_price(config)
    eps = rel_eps * abs(pilot)
    if not eps > 0:
        raise ConfigError(f"mlmc.rel_eps: the pilot price ({how}) is {pilot:.3g}, so a "
                          f"relative target means nothing; give mlmc.eps instead")  # fmt: skip
    return dataclasses.replace(config, mlmc=dataclasses.replace(config.mlmc, eps=eps))


def resolve_book_rel_eps(book: BookConfig) -> BookConfig:
    """Every contract of ``book`` with its relative target resolved (a contract names the
    book's rows in its errors)."""
    contracts = []
    for contract in book.contracts:
        try:
            contracts.append(resolve_rel_eps(contract))
        except ConfigError as error:
            raise ConfigError(f"contract {contract.name}: {error}") from None
    return dataclasses.replace(book, contracts=tuple(contracts))
