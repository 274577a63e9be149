"""The risk command's sampler: batch b of portfolio scenarios -> its tail summary.

It has the interface of the pricer's samplers (``steps`` and ``sample(level, batch, n)``,
:mod:`mlmc_hpc.models.sampler`), so the same serial and MPI executors run it: a task is
(0, batch, scenarios) and what comes back is :func:`mlmc_hpc.core.tail.summarise` of the
batch's losses (:mod:`mlmc_hpc.models.portfolio`), a few thousand numbers whatever n is.
"""

from __future__ import annotations

import numpy as np

from ..config.risk_schema import RiskConfig
from ..core.tail import summarise
from ..errors import SamplingError
from .portfolio import Book, book, losses, risk_generator


def loss_scale(portfolio: Book) -> float:
    """The unit of the loss grid: the book's value today (its stocks' if that is <= 0)."""
    return abs(portfolio.value0) if portfolio.value0 > 0 else portfolio.value


class RiskSampler:
    """Scenario batches of one risk config (keyed streams: see :mod:`..portfolio`)."""

    def __init__(self, config: RiskConfig) -> None:
        self.book = book(config)
        self.seed = config.run.seed
        self.lowest = config.risk.confidence[0]
        self.scale = loss_scale(self.book)

    def steps(self, level: int) -> int:
        """Cost unit of a scenario: 1 (batches are counted in scenarios)."""
        return 1

    def losses(self, batch: int, n: int) -> np.ndarray:
        """The ``n`` losses of batch ``batch``."""
        return losses(self.book, risk_generator(self.seed, batch), n)

    def sample(self, level: int, batch: int, n: int) -> np.ndarray:
        """The tail summary of batch ``batch`` (``level`` is always 0)."""
        losses = self.losses(batch, n)
        if not np.all(np.isfinite(losses)):
            raise SamplingError(f"batch {batch} of the risk scenarios gave a loss that is NaN or "
                                f"infinite (an overflowing price at the horizon)")  # fmt: skip
        return summarise(losses, self.scale, self.lowest)
