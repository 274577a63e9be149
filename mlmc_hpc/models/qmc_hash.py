"""Hash-scrambled Sobol points and MLQMC paths in NumPy: the twin of ``cuda/qmc_sobol.cu``.

Multilevel quasi-Monte Carlo as in M.B. Giles and B.J. Waterhouse, "Multilevel
quasi-Monte Carlo path simulation" (2009): randomised Sobol points, the Brownian bridge,
independent randomisations per level. This module fixes, as a contract shared with the
CUDA kernel (:mod:`mlmc_hpc.models.cupy_qmc`), point i (0 <= i < 2^32) of the set
(seed, level, randomisation r); it differs from :mod:`mlmc_hpc.models.qmc` (SciPy's LMS
scrambling) so that any point can be made on its own, on a GPU thread, in O(dims) work.

Sobol part, coordinates k < DIMS = 64 (dimension k):

- direction numbers v_k[b] (b = 0..31, 32-bit integers) of Joe & Kuo (2008) as SciPy
  ships them, derived by :func:`direction_numbers`: v_k[b] for b < 16 read off SciPy's
  unscrambled points (the point with Gray code 2^b is v_k[b] 2^-32), the rest by the
  published recurrence m_j = 2 a_1 m_{j-1} ^ ... ^ 2^(s-1) a_{s-1} m_{j-s+1}
  ^ 2^s m_{j-s} ^ m_{j-s} (v[b] = m_{b+1} 2^(31-b)), whose degree s and coefficients a
  are those that reproduce the 16 known m_j (dimension 0 is van der Corput);
- unscrambled x_k(i) = XOR of v_k[b] over the set bits b of gray(i) = i ^ (i >> 1):
  SciPy's order, but computed from i directly, so any range of points is independent;
- Owen's nested uniform scramble (A.B. Owen, "Randomly permuted (t,m,s)-nets and
  (t,s)-sequences", 1995) approximated by hashing (S. Laine and T. Karras, "Stratified
  sampling for stochastic transparency", 2011; B. Burley, "Practical hash-based Owen
  scrambling", JCGT 2020): y = rev(H(rev(x))), rev the 32-bit reversal and H the
  keyed hash ``x += k0; x ^= x (2 k1); x *= k2 | 1; x ^= x (2 k3)`` mod 2^32. Each step
  changes bit j by a function of bits 0..j-1 only (adding carries up, an even multiplier
  has bit 0 clear; an odd one keeps bit j plus lower terms), so in the reversed order
  every binary digit of x is flipped by a function of the digits before it: a nested
  scramble, each 1-D projection of an aligned block of 2^m points stays one point per
  interval of width 2^-m. (k0, k1, k2, k3) = Philox4x32-10 of the counter (k, 0, r,
  level | KEY_TAG << 24) under the seed's key (the European stream's layout
  (pair, sample, batch, level | ...), with KEY_TAG in byte 3 where it has 0);
- uniform u = (y + 1/2) 2^-32 (cell centre, in [2^-33, 1 - 2^-33]), normal ndtri(u).

Padding, coordinates k >= DIMS, e = ctz(k): component e & 1 of the Box-Muller pair of
Philox counter (k >> (e & 1), i, r, level | PAD_TAG << 24)
(:func:`mlmc_hpc.models.philox.normal_pairs`): a pair serves k (e even) and 2k, its left
child in the bridge, which the kernel's depth-first walk meets next. The European
kernels' counters have byte 3 = pair >> 32 = 0 (under 2^33 steps a sample), so neither
tag collides with them or with each other.

Path: coordinate k sets entry k of :func:`~mlmc_hpc.models.qmc.bridge_order` (0: W(T),
then midpoints coarse to fine), dW = :func:`~mlmc_hpc.models.qmc.brownian_increments`.
Milstein (Giles 2006): S <- S ((s dW + v)^2 + w), s = sigma/sqrt(2), v = 1/sqrt(2),
w = 1/2 + (r - sigma^2/2) h, i.e. u Z with Z = dW/sqrt(h); the coarse path steps on the
sums of M fine increments with w_c for M h. Payoff max(a S_T + b, 0).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..config.schema import OptionSpec
from ..core.sums import batch_totals, moment_row
from .gbm import fine_steps, milstein_factor
from .options import make_payoff
from .philox import normal_pairs, philox4x32_10, seed_key
from .qmc import brownian_increments
from .qmc_sampler import CHUNK_NUMBERS, split_id

DIMS = 64  # Sobol coordinates of a point; the rest are Philox padding
BITS = 32  # digits of a coordinate; points 0..2^32 - 1
KNOWN_BITS = 16  # direction numbers read off SciPy's first 2^16 points
KEY_TAG = 0x51  # byte 3 of the scramble keys' counters
PAD_TAG = 0x52  # byte 3 of the padding normals' counters
MAX_STEPS = 1 << 22  # the kernel keeps ceil(log2 steps) <= 22 W values a thread (shared)
MAX_DEGREE = 12  # of the primitive polynomials tried (the first 64 dimensions need 9)
U32 = np.uint32


def _recurrence_fits(m: list[int], s: int, a: int) -> bool:
    """Whether m_j (m[j - 1]) obeys the degree-s recurrence with coefficient bits a."""
    for j in range(s + 1, len(m) + 1):
        value = m[j - 1 - s] ^ (m[j - 1 - s] << s)
        for i in range(1, s):
            if (a >> (s - 1 - i)) & 1:
                value ^= m[j - 1 - i] << i
        if value != m[j - 1]:
            return False
    return True


def _extend(m: list[int], bits: int) -> list[int]:
    """m_1..m_bits from the known m_j by the smallest-degree recurrence they obey."""
    for s in range(1, MAX_DEGREE + 1):
        fits = [a for a in range(1 << (s - 1)) if _recurrence_fits(m, s, a)]
        if len(fits) == 1:
            a, out = fits[0], list(m)
            while len(out) < bits:
                value = out[-s] ^ (out[-s] << s)
                for i in range(1, s):
                    if (a >> (s - 1 - i)) & 1:
                        value ^= out[-i] << i
                out.append(value)
            return out
    raise RuntimeError("no Sobol recurrence reproduces SciPy's direction numbers")


@functools.cache
def direction_numbers() -> np.ndarray:
    """(DIMS, BITS) uint32 v_k[b]: point i has x_k = XOR_b v_k[b] over bits b of gray(i)."""
    from scipy.stats import qmc  # type: ignore[import-untyped,unused-ignore]

    points = qmc.Sobol(DIMS, scramble=False, bits=BITS).random_base2(KNOWN_BITS)
    rows = (1 << np.arange(1, KNOWN_BITS + 1)) - 1  # gray(2^(b+1) - 1) = 2^b
    known = np.rint(points[rows] * 2.0**BITS).astype(np.uint64).T  # (DIMS, KNOWN_BITS)
    v = np.empty((DIMS, BITS), dtype=U32)
    v[0] = [1 << (BITS - 1 - b) for b in range(BITS)]  # van der Corput: every m_j = 1
    for k in range(1, DIMS):
        m = [int(known[k, b]) >> (BITS - 1 - b) for b in range(KNOWN_BITS)]
        v[k] = [mj << (BITS - 1 - b) for b, mj in enumerate(_extend(m, BITS))]
    v.setflags(write=False)
    return v


def sobol_bits(points: np.ndarray, dims: int) -> np.ndarray:
    """Unscrambled 32-bit Sobol coordinates 0..dims-1 of the points, shape (dims, n)."""
    i = np.asarray(points, dtype=np.uint64)
    gray = i ^ (i >> np.uint64(1))
    v = direction_numbers()[:dims]
    x = np.zeros((dims, i.size), dtype=U32)
    for b in range(BITS):
        on = ((gray >> np.uint64(b)) & np.uint64(1)).astype(bool)
        x[:, on] ^= v[:, b : b + 1]
    return x


def reverse_bits(x: np.ndarray) -> np.ndarray:
    """The 32-bit reversal of each uint32 (CUDA's ``__brev``)."""
    x = np.asarray(x, dtype=U32)
    for shift, mask in ((1, 0x55555555), (2, 0x33333333), (4, 0x0F0F0F0F), (8, 0x00FF00FF)):
        x = ((x >> U32(shift)) & U32(mask)) | ((x & U32(mask)) << U32(shift))
    return (x >> U32(16)) | (x << U32(16))


def scramble_keys(seed: int, level: int, randomisation: int, dims: int) -> np.ndarray:
    """(dims, 4) uint32 keys (k0, k1, k2, k3) of dimensions 0..dims-1 (module docstring)."""
    k = np.arange(dims, dtype=np.uint64)
    counters = np.stack(
        [k, 0 * k, k * 0 + randomisation, k * 0 + ((level & 0xFF) | KEY_TAG << 24)], axis=-1
    )
    return philox4x32_10(counters, seed_key(seed))


def owen_scramble(x: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Hash-based nested scramble of coordinates x (dims, n) under keys (dims, 4)."""
    k = [keys[:, j : j + 1].astype(U32) for j in range(4)]
    y = reverse_bits(x) + k[0]
    y ^= y * (k[1] << U32(1))
    y *= k[2] | U32(1)
    y ^= y * (k[3] << U32(1))
    return reverse_bits(y)


def scrambled_uniforms(
    seed: int, level: int, randomisation: int, points: np.ndarray, dims: int
) -> np.ndarray:
    """Cell centres (y + 1/2) 2^-32 of the scrambled coordinates 0..dims-1, (dims, n)."""
    keys = scramble_keys(seed, level, randomisation, dims)
    y = owen_scramble(sobol_bits(points, dims), keys)
    return (y.astype(np.float64) + 0.5) * 2.0**-BITS


def point_normals(
    seed: int, level: int, randomisation: int, steps: int, points: np.ndarray
) -> np.ndarray:
    """Standard normals of coordinates 0..steps-1 of the points, shape (steps, n)."""
    from scipy.special import ndtri  # type: ignore[import-untyped,unused-ignore]

    i = np.asarray(points, dtype=np.uint64)
    s = min(steps, DIMS)
    z = np.empty((steps, i.size))
    z[:s] = ndtri(scrambled_uniforms(seed, level, randomisation, i, s))
    if steps > DIMS:
        k = np.arange(DIMS, steps, dtype=np.int64)
        odd = np.log2(k & -k).astype(np.int64) & 1  # ctz(k) & 1
        c, q = np.meshgrid((k >> odd).astype(np.uint64), i, indexing="ij")
        word = (level & 0xFF) | PAD_TAG << 24
        counters = np.stack([c, q, 0 * q + randomisation, 0 * q + word], axis=-1)
        normals = normal_pairs(counters, seed_key(seed))  # (steps - DIMS, n, 2)
        z[DIMS:] = np.take_along_axis(normals, odd[:, None, None], axis=2)[..., 0]
    return z


def payoffs(
    option: OptionSpec, M: int, seed: int, level: int, randomisation: int, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(Pf, Pc) of the points (Pc = 0 on level 0), the kernel's arithmetic in NumPy."""
    steps = fine_steps(M, level)
    h = option.T / steps
    dW = brownian_increments(point_normals(seed, level, randomisation, steps, points), h)
    a, b = make_payoff(option).linear_part
    s, v = option.sigma * math.sqrt(0.5), math.sqrt(0.5)
    fine = option.S0 * np.prod((s * dW + v) ** 2 + milstein_factor(option, h)[2], axis=0)
    pf = np.maximum(a * fine + b, 0.0)
    if not level:
        return pf, np.zeros_like(pf)
    coarse_dW = dW.reshape(steps // M, M, -1).sum(axis=1)
    wc = milstein_factor(option, M * h)[2]
    coarse = option.S0 * np.prod((s * coarse_dW + v) ** 2 + wc, axis=0)
    return pf, np.maximum(a * coarse + b, 0.0)


class HashQMCSampler:
    """The twin as a level sampler: the eight sums of points a..a+n-1 of randomisation r,
    ``batch = r << 40 | a`` (:func:`~mlmc_hpc.models.qmc_sampler.split_id`), calls and puts."""

    def __init__(self, option: OptionSpec, M: int, seed: int) -> None:
        self.option, self.M, self.seed = option, M, seed
        make_payoff(option)  # a call or a put, else ValueError

    def steps(self, level: int) -> int:
        """Fine timesteps of one point of ``level``: M^l."""
        return fine_steps(self.M, level)

    def sample(self, level: int, batch: int, n: int) -> np.ndarray:
        """The eight batch sums of the task (see :mod:`mlmc_hpc.core.sums`)."""
        r, first = split_id(batch)
        steps = self.steps(level)
        if first + n > 1 << BITS or steps > MAX_STEPS:
            raise ValueError(f"points {first}..{first + n - 1} or {steps} steps out of range")
        width = max(1, CHUNK_NUMBERS // steps)
        rows = []
        for start in range(first, first + n, width):
            points = np.arange(start, min(start + width, first + n), dtype=np.uint64)
            pf, pc = payoffs(self.option, self.M, self.seed, level, r, points)
            rows.append(moment_row(pf - pc, pf))
        return batch_totals(rows, n, steps)
