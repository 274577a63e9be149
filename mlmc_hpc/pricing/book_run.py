"""One book job: the contracts priced concurrently (:mod:`.book`), checkpoints, the result.

The book's checkpoint is the result file with every contract's latest state: a contract
that has finished keeps its result, one under way its checkpoint group, one not yet
started nothing. It is written before a round (the workers wait for it), at most every
:data:`CHECKPOINT_EVERY_S` seconds and 20 times as long as the last save took, so saving
costs them at most about 5% (:mod:`.cadence`); a stop always saves.
``--resume`` continues each unfinished contract from its checkpoint and starts the others
afresh, so every contract ends bit-identical to an uninterrupted book.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from .._version import __version__
from ..config.book import BookConfig
from ..io.book_result import BookResult, book_table
from ..io.checkpoint import resume_from
from ..io.run_result import RunResult
from ..parallel.executor import BatchExecutor
from .book import ContractExecutor, run_contracts
from .cadence import Cadence
from .run import run_pricing

CHECKPOINT_EVERY_S = 5.0
RoundReport = Callable[[int, int, int, float], None]  # round, contracts done, tasks, seconds


def assemble_book(book: BookConfig, results: dict[int, RunResult], executor: BatchExecutor,
                  wall_time_s: float, resumed: int, finished: bool, stop_reason: str = "",
                  ) -> BookResult:  # fmt: skip
    """The book result of the contracts' results so far (input order, missing ones left out
    of ``contracts/`` and of the table)."""
    order = sorted(results)
    chosen = [results[i] for i in order]
    contracts = [book.contracts[i] for i in order]
    return BookResult(
        name=book.name, config=book.to_yaml(), contracts=len(book.contracts),
        converged_count=sum(bool(r.converged) for r in chosen), wall_time_s=wall_time_s,
        backend=book.run.backend, n_workers=executor.n_workers, world_size=executor.world_size,
        mpi_version=executor.mpi_version, package_version=__version__,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        finished=finished, interrupted=bool(stop_reason), stop_reason=stop_reason,
        resumed=resumed,
        book=book_table(chosen, [c.option for c in contracts], [c.run.seed for c in contracts]),
        results={r.name: r for r in chosen},
    )  # fmt: skip


def run_book(
    book: BookConfig,
    executor: BatchExecutor,
    report: RoundReport | None = None,
    warn: Callable[[str], None] | None = None,
    resume: BookResult | None = None,
    checkpoint_path: str | None = None,
) -> BookResult:
    """Price every contract of ``book`` on ``executor`` (or continue ``resume``)."""
    started = time.perf_counter()
    previous_s = resume.wall_time_s if resume else 0.0
    resumed = resume.resumed + 1 if resume else 0
    latest: dict[int, RunResult] = {}
    ended: set[int] = set()

    def elapsed() -> float:
        return previous_s + time.perf_counter() - started

    def price(index: int, contract_executor: ContractExecutor) -> RunResult:
        config = book.contracts[index]
        prior = resume.results.get(config.name) if resume else None
        if prior is not None and prior.finished:
            latest[index] = prior
        else:
            state = resume_from(prior, config, f"{checkpoint_path} contract {config.name}"
                                ) if prior is not None else None  # fmt: skip

            def say(message: str) -> None:
                if warn:
                    warn(f"{config.name}: {message}")

            def keep(result: RunResult) -> None:
                latest[index] = result

            latest[index] = run_pricing(config, contract_executor, None, say, state, None, keep)
        ended.add(index)
        return latest[index]

    cadence = Cadence(CHECKPOINT_EVERY_S, first_due=False)  # contracts have no state yet

    def before_round() -> None:  # the workers wait for a save: keep saves under ~5%
        if checkpoint_path:
            cadence.offer(lambda: assemble_book(book, dict(latest), executor, elapsed(),
                                                resumed, False).save(checkpoint_path))  # fmt: skip

    tick = [time.perf_counter()]

    def after_round(tasks: int) -> None:
        if report:
            report(executor_rounds[0].rounds if executor_rounds else 0, len(ended), tasks,
                   time.perf_counter() - tick[0])  # fmt: skip
        tick[0] = time.perf_counter()

    executor_rounds: list = []
    results = run_contracts(book, executor, price, before_round, after_round,
                            executor_rounds.append)  # fmt: skip
    by_index = dict(enumerate(results))
    stops = [r.stop_reason for r in results if r.interrupted]
    return assemble_book(book, by_index, executor, elapsed(), resumed, not stops,
                         stops[0] if stops else "")  # fmt: skip
