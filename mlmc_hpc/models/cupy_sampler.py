"""Coupled Milstein GBM level sampler on one GPU: fused CuPy RawKernels.

One kernel launch per batch generates, steps, pays off and reduces in registers
(``cuda/milstein_gbm.cu``); a second one-block launch adds the per-block rows in a fixed
order, and eight floats come back to the host. The launch shape depends only on n,
so a batch's sums are bit-identical on any rank of the same GPU model. The random
stream is Philox4x32-10 keyed by the seed, with the level, batch, sample and step in
the counter (``cuda/philox_normals.cuh``; NumPy twin in :mod:`mlmc_hpc.models.philox`).
Statistically, not bitwise, equal to :class:`~mlmc_hpc.models.european.MilsteinGBMSampler`.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import numpy as np

from ..config.schema import OptionSpec
from ..core.sums import COST, N_SUMS, PF1, PF2, Y1, Y2, Y3, Y4, N
from .gbm import fine_steps, milstein_factor
from .options import make_payoff
from .philox import seed_key

THREADS = 256
MAX_BLOCKS = 4096  # enough to fill an H200 (132 SMs x 8 blocks) several times over
MAX_SAMPLES_PER_BATCH = 1 << 40  # counter words hold 40 bits of the sample index
KERNELS = ("level0", "coupled", "normals_only", "reduce_partials")


def kernel_source() -> str:
    """philox_normals.cuh followed by milstein_gbm.cu, as NVRTC compiles them."""
    package = resources.files("mlmc_hpc.models").joinpath("cuda")
    return (
        package.joinpath("philox_normals.cuh").read_text()
        + package.joinpath("milstein_gbm.cu").read_text()
    )


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


def launch_blocks(work_items: int) -> int:
    """Grid size from the work alone (never from the device), for reproducible sums."""
    return max(1, min(MAX_BLOCKS, -(-work_items // THREADS)))


class CupyMilsteinSampler:
    """Sums of Y = Pf - Pc for n coupled samples on one level, on the current GPU."""

    def __init__(self, option: OptionSpec, M: int, seed: int) -> None:
        import cupy

        self.cupy = cupy
        self.option = option
        self.M = M
        self.seed = seed
        self.key = seed_key(seed)
        payoff = make_payoff(option)
        self.a, self.b = payoff.linear_part
        self.device_id = cupy.cuda.Device().id
        module = compiled_module(self.device_id)
        self.kernels = {name: module.get_function(name) for name in KERNELS}
        self.partials = cupy.empty((MAX_BLOCKS, 6), dtype=cupy.float64)
        self.out = cupy.empty(6, dtype=cupy.float64)
        self.sample(0, 0, 2)  # first launch loads the module: part of start-up, not sampling

    def steps(self, level: int) -> int:
        """Fine timesteps of one sample of ``level`` (its cost)."""
        return fine_steps(self.M, level)

    def sample(self, level: int, batch: int, n: int) -> np.ndarray:
        """The eight batch sums (see :mod:`mlmc_hpc.core.sums`) of n samples of level."""
        if not 0 < n < MAX_SAMPLES_PER_BATCH:
            raise ValueError(f"batch of {n} samples: must be in 1..2^40 - 1")
        o, cp = self.option, self.cupy
        k0, k1 = self.key
        if level == 0:
            u, v, w = milstein_factor(o, o.T)
            blocks = launch_blocks((n + 1) // 2)
            self.kernels["level0"](
                (blocks,), (THREADS,),
                (cp.float64(o.S0), cp.float64(u), cp.float64(v), cp.float64(w),
                 cp.float64(self.a), cp.float64(self.b), cp.uint64(n), cp.uint32(k0),
                 cp.uint32(k1), cp.uint64(batch), self.partials),
            )  # fmt: skip
        else:
            h = o.T / self.M**level
            u, v, wf = milstein_factor(o, h)
            wc = milstein_factor(o, self.M * h)[2]
            blocks = launch_blocks(n)
            self.kernels["coupled"](
                (blocks,), (THREADS,),
                (cp.float64(o.S0), cp.float64(u), cp.float64(v), cp.float64(wf),
                 cp.float64(wc), cp.float64(self.a), cp.float64(self.b), cp.int32(self.M),
                 cp.uint64(self.M ** (level - 1)), cp.uint32(level), cp.uint64(n),
                 cp.uint32(k0), cp.uint32(k1), cp.uint64(batch), self.partials),
            )  # fmt: skip
        self.kernels["reduce_partials"](
            (1,), (THREADS,), (self.partials, cp.uint32(blocks), self.out)
        )
        y1, y2, y3, y4, pf1, pf2 = self.out.get()
        sums = np.zeros(N_SUMS)
        sums[[N, Y1, Y2, Y3, Y4, PF1, PF2]] = (n, y1, y2, y3, y4, pf1, pf2)
        sums[COST] = float(n) * self.steps(level)
        return sums

    def normals_rate(self, pairs_per_thread: int = 4096, blocks: int = MAX_BLOCKS) -> float:
        """Roofline: standard normals per second from the same Philox stream and launch
        shape, with no path arithmetic (one normal = one fine timestep)."""
        cp = self.cupy
        kernel = self.kernels["normals_only"]
        args = (cp.uint64(pairs_per_thread), cp.uint32(self.key[0]), cp.uint32(self.key[1]),
                self.partials)  # fmt: skip
        kernel((blocks,), (THREADS,), args)  # warm-up
        cp.cuda.Device().synchronize()
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        kernel((blocks,), (THREADS,), args)
        end.record()
        end.synchronize()
        seconds = cp.cuda.get_elapsed_time(start, end) / 1e3
        return 2.0 * pairs_per_thread * blocks * THREADS / seconds
