"""Task vectors: several tasks per message out, their results in one message back.

A master's cost is per message, so a worker gets up to :data:`MAX_VECTOR` tasks at once
(:func:`vector_size`: a quarter of each worker's share of the queue, so requests still end
balanced) and returns ``[k, len_1..len_k, result_1, ..., result_k]``
(:func:`pack_vector`), each result the sampler's array and its trailer.
"""

from __future__ import annotations

import numpy as np

PREFETCH = 2  # messages in flight per worker
MAX_VECTOR = 64  # tasks per message at most (a node's sub-master takes more)


def vector_size(queued: int, workers: int, cap: int = 64) -> int:
    """Tasks in the next message: a quarter of each worker's share of the queue, at most
    ``cap`` (MAX_VECTOR; more for a node's sub-master) (several tasks per message lift the
    master's dispatch rate; small vectors at the end of a request keep workers balanced)."""
    return max(1, min(cap, queued // (4 * PREFETCH * workers)))


def pack_vector(results: list[np.ndarray]) -> np.ndarray:
    """One message for a vector's results: [k, len_1..len_k, result_1, ..., result_k]."""
    lengths = [len(r) for r in results]
    return np.concatenate([[len(results), *lengths], *results]).astype(np.float64)


def unpack_vector(buffer: np.ndarray, expected: int) -> list[np.ndarray]:
    """The results of :func:`pack_vector` (RuntimeError unless there are ``expected``)."""
    k = int(buffer[0])
    if k != expected:
        raise RuntimeError(f"a worker returned {k} results for a message of {expected} tasks")
    ends = np.cumsum([1 + k, *buffer[1 : 1 + k].astype(np.int64)])
    return [buffer[ends[i] : ends[i + 1]] for i in range(k)]
