"""The sampler of a book: one task level codes the contract and its level.

A book task's level is ``contract * LEVEL_SLOTS + level`` (:mod:`mlmc_hpc.config.book`), so
the executors (serial or MPI, with their task vectors and watchdog) carry every
contract's batches unchanged. Each contract's own sampler (:func:`make_sampler` of its
config: its option, method, level 0 and seed) is built on first use in each process, so
batch b of level l of a contract draws exactly what a single run of that contract draws.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..config.book import LEVEL_SLOTS, BookConfig
from .gbm import level_cost
from .sampler import Sampler


def split(code: int) -> tuple[int, int]:
    """(contract, level) of a book task's level code."""
    return divmod(code, LEVEL_SLOTS)


def book_cost(book: BookConfig) -> Callable[[int], int]:
    """Timesteps of one sample of a coded level (the contract's level cost)."""
    costs = [level_cost(contract.mlmc) for contract in book.contracts]

    def cost(code: int) -> int:
        contract, level = split(code)
        return costs[contract](level)

    return cost


class BookSampler:
    """Dispatches a coded task to its contract's sampler (built on first use)."""

    def __init__(self, book: BookConfig, make: Callable[[object], Sampler]) -> None:
        self.book = book
        self.make = make
        self.samplers: dict[int, Sampler] = {}
        self.cost = book_cost(book)

    def _sampler(self, contract: int) -> Sampler:
        if contract not in self.samplers:
            self.samplers[contract] = self.make(self.book.contracts[contract])
        return self.samplers[contract]

    def steps(self, level: int) -> int:
        """Timesteps of one sample of the coded ``level``."""
        return self.cost(level)

    def sample(self, level: int, batch: int, n: int) -> np.ndarray:
        """The sums of batch ``batch`` of the coded ``level``."""
        contract, real = split(level)
        return self._sampler(contract).sample(real, batch, n)
