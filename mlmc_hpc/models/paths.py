"""Path-dependent payoffs: coupled Milstein paths with Giles' MCQMC 2006 estimators, NumPy.

Reference: M.B. Giles, "Improved multilevel Monte Carlo convergence using the Milstein
scheme", MCQMC 2006 (Springer 2008), section 4. Written for any refinement factor M;
with M = 2 it is Giles' coupling. Per step of size H = k h made of k fine sub-steps with
Brownian increments dW_1..dW_k (partial sums w_0 = 0, ..., w_k = dW):

    X_1 = X_0 (1 + r H + sigma dW + sigma^2/2 (dW^2 - H))            (Milstein)

and, with v = sigma X_0 frozen over the step and the Brownian bridge between nodes,

- asian:    int X dt += H (X_0 + X_1)/2 + v (sum_j I_j + h sum_j (w_{j-1} + w_j)/2 - H dW/2),
            I_j = int (W - linear interpolant) over sub-step j ~ N(0, h^3/12);
            the geometric average integrates ln X with v = sigma instead.
- lookback: min over each sub-interval of the bridge through the nodes
            X^(j) = X_0 + (j/k)(X_1 - X_0) + v (w_j - (j/k) dW):
            (a + b - sqrt((b - a)^2 - 2 h v^2 ln U_j)) / 2, U_j uniform, shared by both paths.
- barrier:  survival *= 1 - exp(-2 max(0, (a - B)(b - B)) / (h v^2)) per sub-interval.
- digital:  on the last step, E[payout 1{S_T > K}] given the path up to the last fine
            sub-step: payout N((X_0 + r X_0 H + v w_{k-1} - K) / (v sqrt h)).

The fine path takes steps with k = 1, the coarse path steps of k = M sharing the same
dW, I and U, which is what keeps V[Pf - Pc] small. Paths are processed in chunks of
``width`` samples with random numbers drawn for blocks of steps, so memory is bounded
whatever the number of samples or timesteps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from ..config.schema import OptionSpec
from ..core.sums import batch_totals, moment_row
from .closed_forms import normal_cdf
from .gbm import fine_steps
from .options import payout
from .streams import batch_generator

PATH_WIDTH = 8192  # paths per chunk: about 64 KiB per state array
STEP_BLOCK = 32  # coarse steps whose random numbers are drawn at once
_normal_cdf = np.vectorize(normal_cdf, otypes=[np.float64])


class PathFunctional:
    """One path (fine or coarse) of m samples: the price and the running functional."""

    def __init__(self, option: OptionSpec, m: int) -> None:
        self.option = option
        self.kind = option.type
        self.geometric = option.type == "asian" and option.average == "geometric"
        self.x = np.full(m, float(option.S0))
        if self.kind == "asian":
            self.acc = np.zeros(m)
        elif self.kind == "lookback":
            self.acc = self.x.copy()
        elif self.kind == "barrier":
            self.acc = np.ones(m)
        self.digital_mean: np.ndarray | None = None
        self.digital_sd: np.ndarray | None = None

    def step(
        self, h: float, dws: np.ndarray, dis: np.ndarray | None, logus: np.ndarray | None
    ) -> None:
        """One step made of k = len(dws) sub-steps of size h (see the module docstring)."""
        o, k = self.option, len(dws)
        H = k * h
        partial = np.cumsum(dws, axis=0) if k > 1 else dws
        dw = partial[-1]
        x0 = self.x
        x1 = x0 * (1.0 + o.r * H + o.sigma * dw + 0.5 * o.sigma**2 * (dw * dw - H))
        v = o.sigma * x0
        if self.kind == "asian":
            self._integrate(x0, x1, H, h, dw, partial, dis)
        elif self.kind in ("lookback", "barrier"):
            a = x0
            for j in range(1, k + 1):
                b = x1 if j == k else x0 + (j / k) * (x1 - x0) + v * (partial[j - 1] - (j / k) * dw)
                self._bridge(a, b, h, v, logus[j - 1] if logus is not None else None)
                a = b
        elif self.kind == "digital":
            before_last = partial[k - 2] if k > 1 else 0.0
            self.digital_mean = x0 * (1.0 + o.r * H) + v * before_last
            self.digital_sd = v * math.sqrt(h)
        self.x = x1

    def _integrate(
        self,
        x0: np.ndarray,
        x1: np.ndarray,
        H: float,
        h: float,
        dw: np.ndarray,
        partial: np.ndarray,
        dis: np.ndarray | None,
    ) -> None:
        """Asian: add the step's integral of X (or ln X) to the running integral."""
        if dis is None:
            raise RuntimeError("the Asian integral needs the bridge integrals I_j")
        vol: float | np.ndarray
        if self.geometric:
            f0, f1, vol = np.log(x0), np.log(x1), self.option.sigma
        else:
            f0, f1, vol = x0, x1, self.option.sigma * x0
        between = dis.sum(axis=0)
        if len(partial) > 1:  # fine piecewise-linear W minus the coarse linear interpolant
            between = between + h * (partial[:-1].sum(axis=0) + 0.5 * dw) - 0.5 * H * dw
        self.acc += 0.5 * H * (f0 + f1) + vol * between

    def _bridge(
        self, a: np.ndarray, b: np.ndarray, h: float, v: np.ndarray, logu: np.ndarray | None
    ) -> None:
        """Lookback: running minimum of the sub-interval a..b; barrier: survival factor."""
        if self.kind == "lookback":
            if logu is None:
                raise RuntimeError("the lookback minimum needs the uniforms ln U_j")
            low = 0.5 * (a + b - np.sqrt((b - a) ** 2 - 2.0 * h * v * v * logu))
            np.minimum(self.acc, low, out=self.acc)
        else:
            B = self.option.barrier
            self.acc *= -np.expm1(-2.0 * np.maximum(0.0, (a - B) * (b - B)) / (h * v * v))

    def payoff(self) -> np.ndarray:
        """Discounted payoff of each path."""
        o = self.option
        discount = math.exp(-o.r * o.T)
        if self.kind == "call":
            value = np.maximum(self.x - o.K, 0.0)
        elif self.kind == "put":
            value = np.maximum(o.K - self.x, 0.0)
        elif self.kind == "asian":
            average = self.acc / o.T
            value = np.maximum((np.exp(average) if self.geometric else average) - o.K, 0.0)
        elif self.kind == "lookback":
            value = self.x - self.acc
        elif self.kind == "digital":
            if self.digital_mean is None or self.digital_sd is None:
                raise RuntimeError("the digital payoff needs at least one step")
            value = payout(o) * _normal_cdf((self.digital_mean - o.K) / self.digital_sd)
        else:  # barrier
            value = self.acc * np.maximum(self.x - o.K, 0.0)
        return discount * value


def _row(array: np.ndarray | None, index: int | slice) -> np.ndarray | None:
    return None if array is None else array[index]


Blocks = Iterator[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]


def simulate(
    option: OptionSpec, rng: np.random.Generator, steps: int, M: int | None, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """(Pf, Pc) of m paths with ``steps`` fine steps; Pc uses steps/M coarse steps (None: no
    coarse path, Pc = 0). Random numbers from ``rng`` in blocks of STEP_BLOCK coarse steps."""
    return couple(option, steps, M, m, _drawn(option, rng, steps, M, m))


def simulate_given(
    option: OptionSpec, dW: np.ndarray, extra: np.ndarray | None, M: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`simulate` on given numbers (quasi-Monte Carlo): ``dW`` (steps, m) fine
    increments N(0, h) in time order; ``extra`` (steps, m) in time order: the Asian's
    standard normals of the bridge integrals, the lookback's uniforms U in (0, 1]."""
    steps, m = dW.shape
    k = 1 if M is None else M
    h = option.T / steps
    shape = (steps // k, k, m)
    dis = logus = None
    if option.type == "asian" and extra is not None:
        dis = extra.reshape(shape) * (h * math.sqrt(h / 12.0))
    elif option.type == "lookback" and extra is not None:
        logus = np.log(extra).reshape(shape)
    return couple(option, steps, M, m, iter([(dW.reshape(shape), dis, logus)]))


def _drawn(option: OptionSpec, rng: np.random.Generator, steps: int, M: int | None,
           m: int) -> Blocks:  # fmt: skip
    h = option.T / steps
    k = 1 if M is None else M
    n_groups = steps // k
    for first in range(0, n_groups, STEP_BLOCK):
        count = min(STEP_BLOCK, n_groups - first)
        dws = rng.standard_normal((count, k, m))
        dws *= math.sqrt(h)
        dis: np.ndarray | None = None
        logus: np.ndarray | None = None
        if option.type == "asian":
            dis = rng.standard_normal((count, k, m))
            dis *= h * math.sqrt(h / 12.0)
        elif option.type == "lookback":
            logus = np.log1p(-rng.random((count, k, m)))  # ln U, U in (0, 1]
        yield dws, dis, logus


def couple(option: OptionSpec, steps: int, M: int | None, m: int,
           blocks: Blocks) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Step the fine path (sub-steps one by one) and the coarse path (M sub-steps at once)
    through ``blocks`` of (count, k, m) increments, bridge integrals and ln U."""
    h = option.T / steps
    k = 1 if M is None else M
    fine = PathFunctional(option, m)
    coarse = None if M is None else PathFunctional(option, m)
    for dws, dis, logus in blocks:
        for g in range(dws.shape[0]):
            d, i, u = dws[g], _row(dis, g), _row(logus, g)
            for j in range(k):
                fine.step(h, d[j : j + 1], _row(i, slice(j, j + 1)), _row(u, slice(j, j + 1)))
            if coarse is not None:
                coarse.step(h, d, i, u)
    pf = fine.payoff()
    return pf, (np.zeros(m) if coarse is None else coarse.payoff())


class PathSampler:
    """Level sampler for every option type through :func:`simulate` (see module docstring)."""

    def __init__(self, option: OptionSpec, M: int, seed: int, width: int = PATH_WIDTH) -> None:
        self.option, self.M, self.seed, self.width = option, M, seed, width

    def steps(self, level: int) -> int:
        """Fine timesteps of one sample of ``level`` (its cost)."""
        return fine_steps(self.M, level)

    def sample(self, level: int, batch: int, n: int) -> np.ndarray:
        """The eight batch sums (see :mod:`mlmc_hpc.core.sums`) of n samples of level."""
        rng = batch_generator(self.seed, level, batch)
        rows = []
        for start in range(0, n, self.width):
            m = min(self.width, n - start)
            pf, pc = simulate(self.option, rng, self.steps(level), self.M if level else None, m)
            rows.append(moment_row(pf - pc, pf))
        return batch_totals(rows, n, self.steps(level))
