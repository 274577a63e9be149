"""Philox4x32-10 and the CuPy kernels' random stream, in NumPy (reference and tests).

Philox4x32-10: Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2,
3", SC'11. Ten rounds of (c0, c1, c2, c3) -> (hi(M1 c2) ^ c1 ^ k0, lo(M1 c2),
hi(M0 c0) ^ c3 ^ k1, lo(M0 c0)), the key bumped by the Weyl constants after each.
:func:`stream_normals` reproduces, up to libm rounding, the normals the kernels in
``milstein_gbm.cu`` draw, so the GPU sampler can be checked against NumPy.
"""

from __future__ import annotations

import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK32 = np.uint64(0xFFFFFFFF)


def round_keys(key: tuple[int, int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The ten round keys of each key word (k + r W mod 2^32, r = 0..9): the kernels'
    ``RoundKeys``, built once on the host."""
    k0, k1 = key[0] & 0xFFFFFFFF, key[1] & 0xFFFFFFFF
    return (
        tuple((k0 + r * W0) & 0xFFFFFFFF for r in range(10)),
        tuple((k1 + r * W1) & 0xFFFFFFFF for r in range(10)),
    )


def philox4x32_10(counter: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    """Philox of counters of shape (..., 4) uint32 under a 2-word key; same shape out."""
    c = [np.asarray(counter[..., i], dtype=np.uint64) for i in range(4)]
    for k0, k1 in zip(*round_keys(key), strict=True):
        p0, p1 = M0 * c[0], M1 * c[2]
        hi0, lo0 = p0 >> np.uint64(32), p0 & MASK32
        hi1, lo1 = p1 >> np.uint64(32), p1 & MASK32
        c = [hi1 ^ c[1] ^ np.uint64(k0), lo1, hi0 ^ c[3] ^ np.uint64(k1), lo0]
    return np.stack(c, axis=-1).astype(np.uint32)


def seed_key(seed: int) -> tuple[int, int]:
    """The 64-bit Philox key of a seed (seeds are taken modulo 2^64)."""
    seed %= 1 << 64
    return seed & 0xFFFFFFFF, seed >> 32


def tag_word(level: int, batch: int, sample: np.ndarray, pair: np.ndarray) -> np.ndarray:
    """Counter word 3: level | batch_hi << 8 | sample_hi << 16 | pair_hi << 24."""
    sample, pair = np.asarray(sample, dtype=np.uint64), np.asarray(pair, dtype=np.uint64)
    word = np.uint64(level & 0xFF) | np.uint64((batch >> 32) & 0xFF) << np.uint64(8)
    word = word | ((sample >> np.uint64(32)) & np.uint64(0xFF)) << np.uint64(16)
    return word | ((pair >> np.uint64(32)) & np.uint64(0xFF)) << np.uint64(24)


def uniform52(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Uniforms in (0, 1] from two 32-bit words, as the kernels build them in a mantissa:
    bits = hi << 20 | lo >> 12 (52 bits), u = 2 - (1 + bits 2^-52) = (2^52 - bits) 2^-52."""
    bits = (hi.astype(np.uint64) << np.uint64(20)) | (lo.astype(np.uint64) >> np.uint64(12))
    return (np.uint64(1 << 52) - bits).astype(np.float64) * 2.0**-52


def normal_pairs(counters: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    """Box-Muller of each Philox output: shape (..., 2) normals."""
    r = philox4x32_10(counters, key)
    radius = np.sqrt(-2.0 * np.log(uniform52(r[..., 0], r[..., 1])))
    angle = 2.0 * np.pi * uniform52(r[..., 2], r[..., 3])
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=-1)


def stream_normals(
    seed: int, level: int, batch: int, samples: np.ndarray, count: int
) -> np.ndarray:
    """The first ``count`` normals of each sample (rows) of batch ``batch`` on ``level`` >= 1."""
    samples = np.asarray(samples, dtype=np.uint64)
    pairs = np.arange((count + 1) // 2, dtype=np.uint64)
    s, p = np.meshgrid(samples, pairs, indexing="ij")
    counters = np.stack(
        [p & MASK32, s & MASK32, np.full_like(s, batch & 0xFFFFFFFF), tag_word(level, batch, s, p)],
        axis=-1,
    )
    return normal_pairs(counters, seed_key(seed)).reshape(len(samples), -1)[:, :count]


def level0_normals(seed: int, batch: int, n: int) -> np.ndarray:
    """The n level-0 normals of a batch (pair p gives samples 2p and 2p + 1)."""
    p = np.arange((n + 1) // 2, dtype=np.uint64)
    zero = np.zeros_like(p)
    counters = np.stack(
        [zero, p & MASK32, np.full_like(p, batch & 0xFFFFFFFF), tag_word(0, batch, p, zero)],
        axis=-1,
    )
    return normal_pairs(counters, seed_key(seed)).reshape(-1)[:n]
