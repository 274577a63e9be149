"""Coupled Milstein GBM level sampler on one GPU: fused CuPy RawKernels.

One kernel launch per batch generates, steps, pays off and reduces in registers
(``cuda/milstein_gbm.cu``); a second one-block launch adds the per-block rows in a fixed
order into the batch's row of an output buffer. :meth:`CupyMilsteinSampler.sample_many`
launches up to :data:`MAX_GROUP` batches and then synchronises once, copying six floats
per batch back. The kernel and launch shape depend only on (M, level, n)
(:func:`launch_plan`), so a batch's sums are bit-identical on any rank of the same GPU
model with the same CUDA and NVRTC versions (recorded by :func:`device_label`). The random
stream is Philox4x32-10 keyed by the seed, with the level, batch, sample and step in the
counter (``cuda/philox_normals.cuh``; NumPy twin in :mod:`mlmc_hpc.models.philox`).
Statistically, not bitwise, equal to :class:`~mlmc_hpc.models.european.MilsteinGBMSampler`.

Kernels: ``level0``; ``coupled2`` (M = 2, one thread per sample, one Philox pair per coarse
step); ``coupled2_warp`` (M = 2, one warp per sample, for deep levels with few samples: a
level-12 sample is 2048 dependent steps, so one thread per sample leaves the GPU idle);
``coupled`` (any M).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources
from typing import Any, cast

import numpy as np

from ..config.schema import OptionSpec
from ..core.sums import COST, N_SUMS, PF1, PF2, Y1, Y2, Y3, Y4, N
from .gbm import fine_steps, milstein_factor
from .options import make_payoff
from .philox import round_keys, seed_key

THREADS = 256
MAX_BLOCKS = 4096  # enough to fill an H200 (132 SMs x 4-6 resident blocks) several times over
MAX_SAMPLES_PER_BATCH = 1 << 40  # counter words hold 40 bits of the sample index
MAX_GROUP = 64  # batches launched before one synchronisation
WARP_MIN_COARSE_STEPS = 128  # one warp per sample from here: each lane takes >= 4 steps
WARP_MAX_SAMPLES = 1 << 17  # above, one thread per sample already fills the GPU
KERNELS = ("level0", "coupled", "coupled2", "coupled2_warp", "normals_only", "reduce_partials")
ROUND_KEYS = np.dtype([("k0", np.uint32, (10,)), ("k1", np.uint32, (10,))])  # struct RoundKeys


def kernel_source() -> str:
    """The one CUDA source NVRTC compiles: philox_normals.cuh, milstein_gbm.cu (which holds
    the shared fixed-order reductions), then every other ``cuda/*.cu`` in name order."""
    package = resources.files("mlmc_hpc.models").joinpath("cuda")
    first = ("philox_normals.cuh", "milstein_gbm.cu")
    others = sorted(f.name for f in package.iterdir() if f.name.endswith(".cu"))
    names = [*first, *(name for name in others if name not in first)]
    return "".join(package.joinpath(name).read_text() for name in names)


@functools.cache
def compiled_module(device_id: int) -> Any:  # a cupy.RawModule (CuPy is untyped)
    """The RawModule for one device, compiled once per process (CuPy also caches on disk)."""
    import cupy

    with cupy.cuda.Device(device_id):
        module = cupy.RawModule(
            code=kernel_source(), options=("--std=c++14",), name_expressions=None
        )
        module.compile()
        return module


def launch_blocks(threads: int) -> int:
    """Grid size from the work alone (never from the device), for reproducible sums."""
    return max(1, min(MAX_BLOCKS, -(-threads // THREADS)))


def launch_plan(M: int, level: int, n: int) -> tuple[str, int]:
    """(kernel, blocks) of a batch of n samples of ``level``: a function of the work only."""
    if level == 0:
        return "level0", launch_blocks((n + 1) // 2)
    coarse_steps = M ** (level - 1)
    if M != 2 or coarse_steps >= 1 << 32:
        return "coupled", launch_blocks(n)
    if coarse_steps >= WARP_MIN_COARSE_STEPS and n <= WARP_MAX_SAMPLES:
        return "coupled2_warp", launch_blocks(32 * n)
    return "coupled2", launch_blocks(n)


def round_keys_arg(seed: int) -> np.void:
    """The kernels' by-value ``RoundKeys`` argument for a seed."""
    value = np.zeros((), dtype=ROUND_KEYS)
    value["k0"], value["k1"] = round_keys(seed_key(seed))
    return cast(np.void, value[()])


def device_label(device_id: int) -> str:
    """``cuda:<id> [<name>; CUDA runtime <v>; NVRTC <v>; driver <v>]``: bit-identical sums
    need the same GPU model and the same CUDA and NVRTC versions, so a result records them."""
    import cupy

    runtime = cupy.cuda.runtime
    name = runtime.getDeviceProperties(device_id)["name"].decode()
    nvrtc = ".".join(str(v) for v in cupy.cuda.nvrtc.getVersion())
    return (f"cuda:{device_id} [{name}; CUDA runtime {runtime.runtimeGetVersion()}; "
            f"NVRTC {nvrtc}; driver {runtime.driverGetVersion()}]")  # fmt: skip


class CupyLevelSampler:
    """What every CuPy level sampler shares: the compiled module, the key, the buffers, and
    :meth:`sample_many` (launch a group of batches, synchronise once). A subclass names its
    ``kernels_used`` and queues one batch in :meth:`launch`: its kernel writes one row of
    N_OUT = 6 partial sums (Y, Y^2, Y^3, Y^4, Pf, Pf^2) per block into ``self.partials``,
    then :meth:`reduce_into` adds them in a fixed order."""

    max_group = MAX_GROUP  # executors hand this many batches to sample_many at once
    kernels_used: tuple[str, ...] = ()  # a subclass's kernels (reduce_partials always comes)

    def __init__(self, option: OptionSpec, M: int, seed: int) -> None:
        import cupy

        self.cupy = cupy
        self.option = option
        self.M = M
        self.seed = seed
        self.key = round_keys_arg(seed)
        self.device_id = cupy.cuda.Device().id
        self.device = device_label(self.device_id)
        module = compiled_module(self.device_id)
        names = (*self.kernels_used, "reduce_partials")
        self.kernels = {name: module.get_function(name) for name in names}
        self.partials = cupy.empty((MAX_BLOCKS, 6), dtype=cupy.float64)
        self.out = cupy.empty((MAX_GROUP, 6), dtype=cupy.float64)
        self.events = (cupy.cuda.Event(), cupy.cuda.Event())
        self.kernel_seconds = 0.0  # GPU time of all batches by CUDA events (start-up excluded)
        self.warm_up()
        self.kernel_seconds = 0.0

    def warm_up(self) -> None:
        """A first tiny batch: it loads the module, part of start-up rather than sampling."""
        self.sample(0, 0, 2)

    def steps(self, level: int) -> int:
        """Fine timesteps of one sample of ``level`` (its cost)."""
        return fine_steps(self.M, level)

    def sample(self, level: int, batch: int, n: int) -> np.ndarray:
        """The eight batch sums (see :mod:`mlmc_hpc.core.sums`) of n samples of level."""
        return self.sample_many([(level, batch, n)])[0]

    def sample_many(self, tasks: Sequence[tuple[int, int, int]]) -> list[np.ndarray]:
        """The sums of each (level, batch, n): every batch of a group of up to
        :data:`MAX_GROUP` is launched, then one synchronisation brings all their rows back."""
        for _, _, n in tasks:
            if not 0 < n < MAX_SAMPLES_PER_BATCH:
                raise ValueError(f"batch of {n} samples: must be in 1..2^40 - 1")
        sums: list[np.ndarray] = []
        for first in range(0, len(tasks), MAX_GROUP):
            group = tasks[first : first + MAX_GROUP]
            start, end = self.events
            start.record()
            for row, (level, batch, n) in enumerate(group):
                self.launch(level, batch, n, self.out[row])
            end.record()
            rows = self.out[: len(group)].get()  # the one synchronisation of the group
            self.kernel_seconds += self.cupy.cuda.get_elapsed_time(start, end) / 1e3
            for (level, _, n), row in zip(group, rows, strict=True):
                sums.append(self._sums(level, n, row))
        return sums

    def launch(self, level: int, batch: int, n: int, out: Any) -> None:
        """Queue one batch's kernel, then :meth:`reduce_into` ``out``."""
        raise NotImplementedError

    def reduce_into(self, blocks: int, out: Any) -> None:
        """Queue the fixed-order sum of ``blocks`` partial rows into ``out`` (6 floats)."""
        cp = self.cupy
        self.kernels["reduce_partials"]((1,), (THREADS,), (self.partials, cp.uint32(blocks), out))

    def _sums(self, level: int, n: int, row: np.ndarray) -> np.ndarray:
        sums = np.zeros(N_SUMS)
        sums[[N, Y1, Y2, Y3, Y4, PF1, PF2]] = (n, *row)
        sums[COST] = float(n) * self.steps(level)
        return sums


class CupyMilsteinSampler(CupyLevelSampler):
    """Sums of Y = Pf - Pc for n coupled samples of a call or put on one level."""

    kernels_used = KERNELS

    def __init__(self, option: OptionSpec, M: int, seed: int) -> None:
        self.a, self.b = make_payoff(option).linear_part
        super().__init__(option, M, seed)

    def launch(self, level: int, batch: int, n: int, out: Any) -> None:
        """Queue one batch's kernel (:func:`launch_plan`) and its reduction into ``out``."""
        o, cp = self.option, self.cupy
        name, blocks = launch_plan(self.M, level, n)
        f64 = cp.float64
        tail = (self.key, cp.uint64(batch), self.partials)
        if level == 0:
            u, v, w = milstein_factor(o, o.T)
            args: tuple[Any, ...] = (f64(o.S0), f64(u), f64(v), f64(w), f64(self.a),
                                     f64(self.b), cp.uint64(n), *tail)  # fmt: skip
        else:
            h = o.T / self.M**level
            u, v, wf = milstein_factor(o, h)
            wc = milstein_factor(o, self.M * h)[2]
            common = (f64(o.S0), f64(u), f64(v), f64(wf), f64(wc), f64(self.a), f64(self.b))
            shape = (cp.uint32(level), cp.uint64(n), *tail)
            if name == "coupled":
                args = (*common, cp.int32(self.M), cp.uint64(self.M ** (level - 1)), *shape)
            else:
                args = (*common, cp.uint32(self.M ** (level - 1)), *shape)
        self.kernels[name]((blocks,), (THREADS,), args)
        self.reduce_into(blocks, out)

    def normals_rate(self, pairs_per_thread: int = 4096, blocks: int = MAX_BLOCKS) -> float:
        """Roofline: standard normals per second from the same Philox stream and launch
        shape, with no path arithmetic (one normal = one fine timestep), by CUDA events."""
        cp = self.cupy
        blocks = max(1, min(blocks, MAX_BLOCKS))  # the partials buffer has MAX_BLOCKS rows
        kernel = self.kernels["normals_only"]
        args = (cp.uint32(pairs_per_thread), self.key, self.partials)
        kernel((blocks,), (THREADS,), args)  # warm-up
        cp.cuda.Device().synchronize()
        start, end = self.events
        start.record()
        kernel((blocks,), (THREADS,), args)
        end.record()
        end.synchronize()
        seconds = cp.cuda.get_elapsed_time(start, end) / 1e3
        return 2.0 * pairs_per_thread * blocks * THREADS / seconds
