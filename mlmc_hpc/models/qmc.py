"""Randomised Sobol points as one MLMC level's Brownian path: the MLQMC point generator.

Reference: M.B. Giles and B.J. Waterhouse, "Multilevel quasi-Monte Carlo path simulation",
Advanced Financial Modelling (de Gruyter 2009): Sobol points with digital scrambling,
turned into Brownian increments by the Brownian-bridge construction.

A point of one (seed, level, randomisation) set has d = steps (+ steps) coordinates in
the unit cube, in this order (a contract, like :mod:`mlmc_hpc.models.streams`):

- coordinates 0..steps-1 build W on the fine grid by the bridge (:func:`bridge_order`):
  coordinate 0 sets W(T), the next ones the midpoints, coarse to fine. The bridge puts
  most of the variance of W, and so of a payoff, in the first coordinates, which are
  the best equidistributed ones of a Sobol sequence;
- coordinates steps..2 steps-1 (Asian bridge integrals I_j, lookback uniforms U_j) in
  the same bisection order of their sub-steps (:func:`substep_order`): coordinate
  steps + k is the number of sub-step ``substep_order(steps)[k]``, so the Sobol
  coordinates among them are spread evenly over [0, T] rather than bunched at t = 0.

Only the first ``QMC_DIMENSIONS`` coordinates are Sobol; the rest are pseudo-random
padding. Sobol's direction numbers stop at 21201 dimensions, the LMS scrambling costs
O(d bits^2) random bits, and past the first few hundred bridge coordinates (the finest
midpoints, conditional variance ~h) the low-discrepancy structure buys almost nothing,
so plain Monte Carlo there loses nothing while keeping any number of steps possible.

Keys: the Sobol part is ``scipy.stats.qmc.Sobol(s, scramble=True, bits=32, rng=G)``
with s = min(d, QMC_DIMENSIONS) and G = Generator(SFC64(SeedSequence([level,
randomisation, seed, 0x51]))) (LMS + digital shift; scipy >= 1.15 spawns its own child
(spawn key (0,)) of G's seed sequence, so the points are pinned per scipy version).
Padding for points b*PADDING_BLOCK..(b+1)*PADDING_BLOCK-1 comes from Generator(SFC64(
SeedSequence([level, randomisation, seed, 0x51], spawn_key=(1, b)))) drawing, for the
whole block, standard_normal((normal padding coordinates, PADDING_BLOCK)) then
random((uniform padding coordinates, PADDING_BLOCK)), so any range of points is
rebuilt bit for bit from its blocks alone.

Transforms: a 32-bit scrambled Sobol coordinate x lies on the grid k/2^32 and can be
exactly 0 (each coordinate of 2^32 consecutive points is a permutation of the grid), so
it is moved to its cell centre u = x + 2^-33, uniform on (0, 1), symmetric about 1/2,
in [2^-33, 1 - 2^-33], well inside (2^-53, 1 - 2^-53): normals are ``ndtri(u)``
(|z| <= 6.4, finite), uniforms are u. Padding normals are ``standard_normal``, padding
uniforms 1 - ``random()``. Uniforms are thus always in (0, 1], the lookback's convention
(paths.py draws U = 1 - V, V = random() in [0, 1), and takes ln U = log1p(-V)).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

QMC_DIMENSIONS = 64  # Sobol coordinates of a point; the rest are padding (module doc)
PADDING_BLOCK = 64  # points per padding generator (a contract: the padding keys use it);
# small, because a fine level's few points would otherwise pay for a whole block
SOBOL_BITS = 32  # scipy's fast_forward fails for bits > 32 (scipy 1.17: dtype mismatch)
SOBOL_TAG = 0x51  # last entropy word of every key of this module
EXTRAS = ("none", "normals", "uniforms")
_HALF_CELL = 2.0**-33  # half of the Sobol grid spacing 2^-SOBOL_BITS
_PADDING_SPAWN = 1  # first spawn-key word of the padding (scipy's own child is (0,))


def _bisection(n: int) -> list[tuple[int, int, int, int]]:
    """(left, right, mid, depth) of every node built, in breadth-first order."""
    if n < 1:
        raise ValueError(f"the bridge needs n >= 1 steps, not {n}")
    nodes = [(0, n, n, 0)]
    queue = [(0, n, 1)]
    for left, right, depth in queue:  # the list grows while it is walked: FIFO
        if right - left >= 2:
            mid = (left + right) // 2
            nodes.append((left, right, mid, depth))
            queue += [(left, mid, depth + 1), (mid, right, depth + 1)]
    return nodes


def bridge_order(n: int) -> list[tuple[int, int, int]]:
    """Brownian-bridge construction order on the grid 0..n, any n >= 1.

    Entry 0 is ``(0, n, n)``: the special marker mid == right means "W(n h) from W(0)
    alone", W(T) = sqrt(n h) z_0. Every later entry (left, right, mid) with mid =
    (left + right) // 2, in breadth-first bisection order of the intervals, sets the
    midpoint from its two already built ends (see :func:`brownian_increments`). Entry k
    is set by coordinate k of a point; the n entries build the nodes 1..n once each.
    """
    return [(left, right, mid) for left, right, mid, _ in _bisection(n)]


def substep_order(n: int) -> list[int]:
    """Sub-step (0..n-1, sub-step j spans t_j..t_{j+1}) of the extra coordinate k: the
    sub-step ending at the k-th node built, ``bridge_order(n)[k][2] - 1``."""
    return [mid - 1 for _, _, mid, _ in _bisection(n)]


@functools.lru_cache(maxsize=32)
def _plan(n: int) -> tuple[tuple[np.ndarray, ...], ...]:
    """The bridge grouped by depth (nodes of one depth depend only on shallower ones):
    per group the rows, left, right, mid, weights of W(left), W(right) and unit sd."""
    nodes = _bisection(n)[1:]
    groups = []
    for depth in sorted({node[3] for node in nodes}):
        rows = np.array([k + 1 for k, node in enumerate(nodes) if node[3] == depth])
        left, right, mid = (np.array([nodes[k - 1][i] for k in rows]) for i in range(3))
        span = (right - left).astype(np.float64)
        groups.append(
            (
                rows,
                left,
                right,
                mid,
                ((right - mid) / span)[:, None],
                ((mid - left) / span)[:, None],
                np.sqrt((mid - left) * (right - mid) / span)[:, None],
            )
        )
    return tuple(groups)


def brownian_increments(normals: np.ndarray, h: float) -> np.ndarray:
    """Fine Brownian increments from standard normals in bridge order.

    normals: (n, m), n steps of size h for m paths, z_k setting entry k of
    :func:`bridge_order`. W(0) = 0, W(n h) = sqrt(n h) z_0, then for (l, r, mid):

        W(mid) = ((r - mid) W(l) + (mid - l) W(r)) / (r - l)
                 + sqrt(h (mid - l)(r - mid) / (r - l)) z_k,

    the bridge's conditional law. Returns dW_j = W(t_j) - W(t_{j-1}), shape (n, m): the
    increments of Brownian motion, each N(0, h), independent, when the z_k are
    independent N(0, 1). Nodes of one bisection depth are built at once: O(n m) work in
    O(log n) NumPy steps.
    """
    z = np.asarray(normals, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 1:
        raise ValueError(f"normals must have shape (n >= 1, m), not {z.shape}")
    if not h > 0.0:
        raise ValueError(f"the step h must be positive, not {h}")
    n, m = z.shape
    w = np.empty((n + 1, m))
    w[0] = 0.0
    w[n] = math.sqrt(n * h) * z[0]
    root_h = math.sqrt(h)
    for rows, left, right, mid, w_left, w_right, sd in _plan(n):
        w[mid] = w_left * w[left] + w_right * w[right] + (root_h * sd) * z[rows]
    return np.diff(w, axis=0)


@functools.lru_cache(maxsize=256)
def _engine(entropy: tuple[int, ...], dim: int) -> Any:
    """The keyed scrambled Sobol engine (a scipy ``qmc.Sobol``), built once per process
    (scrambling is most of the cost of a small draw) and :meth:`reset` before each use."""
    from scipy.stats import qmc  # type: ignore[import-untyped,unused-ignore]

    generator = np.random.Generator(np.random.SFC64(np.random.SeedSequence(list(entropy))))
    try:
        return qmc.Sobol(dim, scramble=True, bits=SOBOL_BITS, rng=generator)
    except TypeError:  # scipy < 1.15 names it seed
        return qmc.Sobol(dim, scramble=True, bits=SOBOL_BITS, seed=generator)


def _sobol(entropy: tuple[int, ...], dim: int, start: int, count: int) -> np.ndarray:
    """Points start..start+count-1 (count, dim) of the keyed scrambled Sobol sequence."""
    engine = _engine(entropy, dim)
    engine.reset()
    if start > 0:  # fast_forward(0) on a fresh engine raises (scipy passes it n - 1)
        engine.fast_forward(start)
        return np.asarray(engine.random(count))
    # a first random(n) warns unless n is a power of 2; point 0 apart never does
    first = np.asarray(engine.random(1))
    return first if count == 1 else np.concatenate([first, engine.random(count - 1)])


@dataclass(frozen=True)
class LevelPoints:
    """The randomised point set of one (seed, level, randomisation) of a level.

    steps: n = M^level fine steps; extra: "none" (call, put, digital, barrier), "normals"
    (n Asian bridge integrals, scale N(0, 1) by h sqrt(h/12)) or "uniforms" (n lookback
    U_j, take ln U). Point i is a function of (seed, level, randomisation, steps, extra, i)
    alone (module docstring), so ranges of points can be drawn anywhere in any order.
    """

    seed: int
    level: int
    randomisation: int
    steps: int
    extra: str  # "none" | "normals" | "uniforms"

    def __post_init__(self) -> None:
        """Check the key (SeedSequence needs non-negative words) and the shape."""
        if min(self.seed, self.level, self.randomisation) < 0:
            raise ValueError("seed, level and randomisation must be non-negative")
        if self.steps < 1:
            raise ValueError(f"a level needs steps >= 1, not {self.steps}")
        if self.extra not in EXTRAS:
            raise ValueError(f"extra must be one of {EXTRAS}, not {self.extra!r}")

    def dimension(self) -> int:
        """d = steps, plus steps more for the extra numbers (normals or uniforms)."""
        return self.steps * (1 if self.extra == "none" else 2)

    def _entropy(self) -> list[int]:
        return [self.level, self.randomisation, self.seed, SOBOL_TAG]

    def _padding(self, start: int, count: int, normal: int, uniform: int) -> np.ndarray:
        """Padding coordinates (normal ones, then uniform ones) of points start.., shape
        (normal + uniform, count), cut from whole blocks of PADDING_BLOCK points."""
        out = np.empty((normal + uniform, count))
        stop = start + count
        for block in range(start // PADDING_BLOCK, (stop - 1) // PADDING_BLOCK + 1):
            key = np.random.SeedSequence(self._entropy(), spawn_key=(_PADDING_SPAWN, block))
            rng = np.random.Generator(np.random.SFC64(key))
            values = np.empty((normal + uniform, PADDING_BLOCK))
            values[:normal] = rng.standard_normal((normal, PADDING_BLOCK))
            values[normal:] = rng.random((uniform, PADDING_BLOCK))
            np.subtract(1.0, values[normal:], out=values[normal:])  # (0, 1]
            first = block * PADDING_BLOCK
            lo, hi = max(start, first), min(stop, first + PADDING_BLOCK)
            out[:, lo - start : hi - start] = values[:, lo - first : hi - first]
        return out

    def draw(self, start: int, count: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Points start..start+count-1 of the set (0 <= start, start + count <= 2^32).

        Returns (z, extra): z of shape (steps, count), standard normals in bridge order
        (row k = coordinate k, ready for :func:`brownian_increments`); extra of shape
        (steps, count) in time order (row j = sub-step j, from coordinate steps + k with
        ``substep_order(steps)[k] = j``), N(0, 1) for "normals", uniforms in (0, 1] for
        "uniforms", None for "none". Bit-identical to the same columns of
        ``draw(0, start + count)``: the Sobol part is fast-forwarded, the padding rebuilt
        from its blocks.
        """
        if start < 0 or count < 1 or start + count > 2**SOBOL_BITS:
            raise ValueError(f"points {start}..{start + count - 1} are out of range")
        from scipy.special import ndtri  # type: ignore[import-untyped,unused-ignore]

        n, d = self.steps, self.dimension()
        s = min(d, QMC_DIMENSIONS)
        values = np.empty((d, count))
        sobol = _sobol(tuple(self._entropy()), s, start, count)
        np.add(sobol.T, _HALF_CELL, out=values[:s])  # cell centres in (0, 1)
        normal_end = d if self.extra == "normals" else n  # coordinates < this are normal
        ndtri(values[: min(s, normal_end)], out=values[: min(s, normal_end)])
        if d > s:
            normal = max(normal_end - s, 0)
            values[s:] = self._padding(start, count, normal, d - s - normal)
        if self.extra == "none":
            return values, None
        extra = np.empty((n, count))
        extra[substep_order(n)] = values[n:]
        return values[:n], extra
