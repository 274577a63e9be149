"""A book: every contract's adaptive run advancing at once on one executor, in rounds.

Each contract runs the ordinary pricing loop (:func:`~mlmc_hpc.pricing.run.run_pricing`:
its driver, level 0, safeguards, budget) in a thread of its own, on a
:class:`ContractExecutor` that plans its batches exactly as a single run would. When every
unfinished contract has asked for its next samples, the round's requests go to the real
executor together, largest batch first, with each task's level coding its contract
(:mod:`mlmc_hpc.models.book_sampler`); the outcomes go back to their contracts, which
merge them in (level, batch) order. So each contract's result is bit-identical to a single
``run`` of its config (its seed, its batch size) on any rank count, while the workers are
shared: a contract that converges drops out and the others take its share. Workers wait
only at the end of a round, for its last batches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..config.book import LEVEL_SLOTS, BookConfig
from ..models.gbm import level_cost
from ..parallel.executor import BatchExecutor, StoppedEarlyError
from ..parallel.planning import BatchRecord, Outcome, Task

Delivery = tuple[list[Outcome], list[BatchRecord], str]  # outcomes, records, stop reason


class Rounds:
    """Collects the contracts' requests and runs them a round at a time (module docstring)."""

    def __init__(self, executor: BatchExecutor, contracts: int) -> None:
        self.executor = executor
        self.condition = threading.Condition()
        self.pending: dict[int, list[Task]] = {}
        self.delivered: dict[int, Delivery] = {}
        self.running = set(range(contracts))
        self.rounds = 0
        self.aborted = ""

    def submit(self, contract: int, tasks: list[Task]) -> Delivery:
        """A contract's request (in its thread): wait for its round, return its outcomes."""
        with self.condition:
            if self.aborted:
                return [], [], self.aborted
            self.pending[contract] = tasks
            self.condition.notify_all()
            while contract not in self.delivered:
                self.condition.wait()
            return self.delivered.pop(contract)

    def done(self, contract: int) -> None:
        """A contract's thread has ended (finished, stopped or failed)."""
        with self.condition:
            self.running.discard(contract)
            self.condition.notify_all()

    def serve(self, before_round: Callable[[], None], after_round: Callable[[int], None]) -> None:
        """Run rounds until every contract has ended (in the thread that owns the executor)."""
        while True:
            with self.condition:
                while self.running and not self.running <= set(self.pending):
                    self.condition.wait()
                if not self.running:
                    return
                requests, self.pending = self.pending, {}
            before_round()
            self.rounds += 1
            delivery = self.run_round(requests)
            with self.condition:
                self.delivered.update(delivery)
                self.condition.notify_all()
            after_round(sum(len(tasks) for tasks in requests.values()))

    def run_round(self, requests: dict[int, list[Task]]) -> dict[int, Delivery]:
        """Every request's tasks on the executor at once, largest first; split back."""
        coded = [Task(c * LEVEL_SLOTS + t.level, t.batch, t.n)
                 for c, tasks in requests.items() for t in tasks]  # fmt: skip
        cost = self.executor.planner.timesteps
        coded.sort(key=lambda t: (-t.n * cost(t.level), t.level, t.batch))
        before, stop = len(self.executor.records), ""
        try:
            outcomes = self.executor.run_tasks(coded)
        except StoppedEarlyError as stopped:
            outcomes, stop = stopped.outcomes, stopped.reason
        delivery: dict[int, Delivery] = {c: ([], [], stop) for c in requests}
        for task, sums, seconds in outcomes:
            contract, level = divmod(task.level, LEVEL_SLOTS)
            delivery[contract][0].append((Task(level, task.batch, task.n), sums, seconds))
        for r in self.executor.records[before:]:
            contract, level = divmod(r.level, LEVEL_SLOTS)
            record = BatchRecord(level, r.batch, r.n_samples, r.worker, r.host, r.start_s,
                                 r.end_s, r.compute_s)  # fmt: skip
            delivery[contract][1].append(record)
        return delivery

    def abort(self, reason: str) -> None:
        """End every contract's loop: each request now returns at once, stopped."""
        with self.condition:
            self.aborted = reason
            for contract in self.running:  # waiting now (in a round or not): answered
                self.delivered.setdefault(contract, ([], [], reason))
            self.pending = {}
            self.condition.notify_all()


class ContractExecutor(BatchExecutor):
    """One contract's executor: its own planner and records, the book's workers."""

    def __init__(self, contract: int, config: Any, rounds: Rounds) -> None:
        super().__init__(config.run.batch_timesteps, level_cost(config.mlmc))
        real = rounds.executor
        self.contract, self.rounds = contract, rounds
        self.seed = config.run.seed
        self.n_workers, self.world_size, self.mpi_version = (
            real.n_workers, real.world_size, real.mpi_version)  # fmt: skip
        self.devices, self.startup_s = real.devices, real.startup_s

    def run_tasks(self, tasks: list[Task]) -> list[Outcome]:
        """The tasks, computed in the book's next round."""
        outcomes, records, stop = self.rounds.submit(self.contract, tasks)
        self.records.extend(records)
        if stop:
            raise StoppedEarlyError(stop, outcomes)
        return outcomes


def run_contracts(
    book: BookConfig,
    executor: BatchExecutor,
    price: Callable[[int, ContractExecutor], Any],
    before_round: Callable[[], None] = lambda: None,
    after_round: Callable[[int], None] = lambda tasks: None,
    created: Callable[[Rounds], None] = lambda rounds: None,
) -> list[Any]:
    """``price(index, contract_executor)`` for every contract, concurrently (module
    docstring); the first exception of a contract is raised here once all have ended."""
    rounds = Rounds(executor, len(book.contracts))
    created(rounds)
    results: list[Any] = [None] * len(book.contracts)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            results[index] = price(index, ContractExecutor(index, book.contracts[index], rounds))
        except BaseException as error:  # noqa: BLE001 - re-raised by the serving thread
            errors.append(error)
        finally:
            rounds.done(index)

    threads = [threading.Thread(target=work, args=(i,), daemon=True)
               for i in range(len(book.contracts))]  # fmt: skip
    for thread in threads:
        thread.start()

    def check_errors() -> None:
        if errors:
            raise errors[0]
        before_round()

    try:
        rounds.serve(check_errors, after_round)
    except BaseException:
        rounds.abort("another contract failed")  # every waiting thread returns, stopped
        deadline = time.monotonic() + 5.0
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        raise
    if errors:
        raise errors[0]
    return results
