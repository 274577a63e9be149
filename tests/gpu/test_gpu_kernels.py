"""The CuPy backend: Philox stream, kernel source, and (on a GPU) the kernels themselves.

Without a GPU the kernel source is compiled with nvcc where it exists, its Philox code
is compiled on the host against the NumPy twin, and the kernels' algorithm is checked
statistically through a NumPy emulation. Tests marked ``gpu`` need CuPy and a device.
"""

from __future__ import annotations

import ctypes
import math
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from mlmc_hpc.config import load_config
from mlmc_hpc.config.resolve import gpu_count
from mlmc_hpc.core.sums import LevelSums
from mlmc_hpc.models.cupy_paths import PATH_KERNELS
from mlmc_hpc.models.cupy_sampler import (
    KERNELS,
    MAX_BLOCKS,
    THREADS,
    kernel_source,
    launch_plan,
    round_keys_arg,
)
from mlmc_hpc.models.european import MilsteinGBMSampler
from mlmc_hpc.models.philox import (
    philox4x32_10,
    round_keys,
    seed_key,
    stream_normals,
    uniform52,
)
from tests.gpu.philox_reference import emulated_sums
from tests.helpers import ROOT, run_cli

needs_gpu = pytest.mark.skipif(gpu_count() == 0, reason="needs CuPy and a CUDA GPU")


@pytest.mark.parametrize(
    "counter, key, expected",
    [  # Random123 known-answer vectors for philox4x32-10
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
         (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
    ],
)  # fmt: skip
def test_philox_known_answers(counter, key, expected):
    out = philox4x32_10(np.array(counter, dtype=np.uint32), key)
    assert tuple(int(x) for x in out) == expected


def test_stream_normals_are_standard_and_keyed():
    z = stream_normals(seed=1, level=3, batch=5, samples=np.arange(4000), count=8)
    n = z.size
    assert abs(z.mean()) < 4 / math.sqrt(n)
    assert abs(z.var() - 1) < 4 * math.sqrt(2 / n)
    other = stream_normals(seed=1, level=3, batch=6, samples=np.arange(4000), count=8)
    assert abs(np.corrcoef(z.ravel(), other.ravel())[0, 1]) < 4 / math.sqrt(n)
    high = stream_normals(seed=1, level=3, batch=5 + (1 << 32), samples=np.arange(10), count=4)
    assert not np.array_equal(high, z[:10, :4])  # the batch's high bits reach the counter


# The CUDA intrinsics the device code uses, defined for a host compiler (g++), so that the
# device functions of every kernel file can be checked against their NumPy twins.
HOST_PRELUDE = r"""
#include <cmath>
#include <cstdio>
#include <cstring>
#define __device__
#define __host__
#define __forceinline__ inline
static unsigned int __umulhi(unsigned int a, unsigned int b) {
  return (unsigned int)(((unsigned long long)a * b) >> 32);
}
static void sincospi(double x, double *s, double *c) { *s = sin(M_PI * x); *c = cos(M_PI * x); }
static double __hiloint2double(int hi, int lo) {
  const unsigned long long bits = (unsigned long long)(unsigned int)hi << 32 | (unsigned int)lo;
  double x;
  memcpy(&x, &bits, sizeof x);
  return x;
}
static unsigned int __brev(unsigned int x) {
  unsigned int y = 0;
  for (int b = 0; b < 32; ++b) y |= ((x >> b) & 1u) << (31 - b);
  return y;
}
"""

HOST_HARNESS = (
    HOST_PRELUDE
    + r"""
#include "philox_normals.cuh"
int main() {
  const unsigned long long batch = 5ull + (1ull << 32);
  for (unsigned long long i = 0; i < 3; ++i)
    for (unsigned long long pair = 0; pair < 2; ++pair) {
      Philox4 c{(unsigned int)pair, (unsigned int)i, (unsigned int)batch,
                tag_word(3u, batch, i, pair)};
      double z0, z1;
      normal_pair(c, RoundKeys ROUND_KEYS, &z0, &z1);
      printf("%.17g %.17g\n", z0, z1);
    }
}
"""
)


def build_host_harness(folder, harness: str, sources, seed: int | None = None):
    """``harness`` (C++ that includes ``sources`` of mlmc_hpc/models/cuda) compiled with g++
    in ``folder``, ROUND_KEYS defined as the seed's ``RoundKeys`` initialiser when a seed is
    given; the executable's path. Skips the test without g++."""
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("g++ not found")
    for name in sources:
        (folder / name).write_text((ROOT / "mlmc_hpc/models/cuda" / name).read_text())
    (folder / "harness.cpp").write_text(harness)
    defines = []
    if seed is not None:
        k0, k1 = (",".join(f"{k}u" for k in word) for word in round_keys(seed_key(seed)))
        defines = [f"-DROUND_KEYS={{{{{k0}}}, {{{k1}}}}}"]
    subprocess.run([compiler, "-O1", "-std=c++14", *defines, "-I", str(folder),
                    "-o", str(folder / "harness"), str(folder / "harness.cpp")],
                   check=True)  # fmt: skip
    return folder / "harness"


def test_cuda_philox_code_matches_numpy_on_the_host(tmp_path):
    harness = build_host_harness(tmp_path, HOST_HARNESS, ["philox_normals.cuh"], 123456789012345)
    output = subprocess.run([str(harness)], capture_output=True, text=True, check=True)
    host = np.array(output.stdout.split(), dtype=float).reshape(3, 4)
    expected = stream_normals(123456789012345, 3, 5 + (1 << 32), np.arange(3), 4)
    np.testing.assert_allclose(host, expected, rtol=0, atol=1e-13)
    assert np.all(np.isfinite(host))


@pytest.mark.parametrize("arch", ["sm_75", "sm_90"])
def test_kernel_source_compiles_with_nvcc_without_spills(tmp_path, arch):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc not found")
    source = tmp_path / "kernels.cu"
    source.write_text(kernel_source())
    done = subprocess.run([nvcc, "-x", "cu", "-c", f"-arch={arch}", "-Werror", "all-warnings",
                           "-Xptxas", "-v", "-o", str(tmp_path / "k.o"), str(source)],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    entries = re.findall(r"Compiling entry function '(\w+)'", done.stderr)
    assert {*KERNELS, *PATH_KERNELS, "qmc_sobol"} <= set(entries)
    frames = re.findall(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill "
                        r"loads", done.stderr)  # fmt: skip
    assert len(frames) == len(entries)
    assert all(frame == ("0", "0", "0") for frame in frames), done.stderr


def nvrtc12() -> ctypes.CDLL | None:
    """libnvrtc.so.12 of the nvidia-cuda-nvrtc-cu12 wheel (the test extra), or None."""
    try:
        import nvidia.cuda_nvrtc as wheel
    except ImportError:
        return None
    for folder in wheel.__path__:
        library = os.path.join(folder, "lib", "libnvrtc.so.12")
        if os.path.exists(library):
            return ctypes.CDLL(library)
    return None


@pytest.mark.parametrize("arch", ["compute_70", "compute_90"])
def test_kernel_source_compiles_with_nvrtc_12(arch):
    """CUDA 13 cannot build for V100 (sm_70, PSC Bridges-2); NVRTC 12, as CuPy's cupy-cuda12x
    does at run time, must compile the whole source for it."""
    nvrtc = nvrtc12()
    if nvrtc is None:
        pytest.skip("nvidia-cuda-nvrtc-cu12 not installed")
    program = ctypes.c_void_p()
    source = kernel_source().encode()
    assert nvrtc.nvrtcCreateProgram(ctypes.byref(program), source, b"kernels.cu", 0, None,
                                    None) == 0  # fmt: skip
    options = [f"--gpu-architecture={arch}".encode(), b"--std=c++14"]
    status = nvrtc.nvrtcCompileProgram(program, len(options),
                                       (ctypes.c_char_p * len(options))(*options))  # fmt: skip
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(program, log)
    nvrtc.nvrtcDestroyProgram(ctypes.byref(program))
    assert status == 0, log.value.decode()


def test_uniforms_are_in_the_half_open_unit_interval():
    ones = np.array([0xFFFFFFFF], dtype=np.uint32)
    zeros = np.array([0], dtype=np.uint32)
    assert uniform52(ones, ones)[0] == 2.0**-52  # smallest: log stays finite
    assert uniform52(zeros, zeros)[0] == 1.0
    assert uniform52(zeros, np.array([0xFFF], dtype=np.uint32))[0] == 1.0  # 12 bits unused
    assert uniform52(zeros, np.array([0x1000], dtype=np.uint32))[0] == 1.0 - 2.0**-52


def test_round_keys_follow_the_weyl_sequence():
    k0, k1 = round_keys((0xFFFFFFFF, 5))
    assert k0[0] == 0xFFFFFFFF and k0[1] == (0xFFFFFFFF + 0x9E3779B9) % 2**32
    assert k1[9] == (5 + 9 * 0xBB67AE85) % 2**32
    arg = round_keys_arg(2**64 + 7)  # seeds modulo 2^64
    assert arg.dtype.itemsize == 80 and list(arg["k0"]) == list(round_keys((7, 0))[0])


@pytest.mark.parametrize("M, level, n, kernel", [
    (2, 0, 1, "level0"), (2, 1, 10**6, "coupled2"), (2, 7, 50, "coupled2"),
    (2, 8, 50, "coupled2_warp"), (2, 12, 1 << 17, "coupled2_warp"),
    (2, 12, (1 << 17) + 1, "coupled2"), (4, 5, 10, "coupled"), (3, 2, 10, "coupled"),
])  # fmt: skip
def test_launch_plan_depends_on_the_work_only(M, level, n, kernel):
    name, blocks = launch_plan(M, level, n)
    assert name == kernel
    threads = {"level0": (n + 1) // 2, "coupled2_warp": 32 * n}.get(name, n)
    assert blocks == max(1, min(MAX_BLOCKS, -(-threads // THREADS)))


OPTION = load_config(ROOT / "configs/aapl.yaml").option


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4])
def test_kernel_algorithm_matches_numpy_sampler_statistically(level):
    """The emulated Philox kernels and the SFC64 NumPy sampler: same level mean and
    variance of Pf - Pc within 4 combined standard errors."""
    n = 40_000 if level < 3 else 10_000
    gpu = LevelSums(emulated_sums(OPTION, 2, 1, level, 0, n))
    cpu = LevelSums(MilsteinGBMSampler(OPTION, 2, 1).sample(level, 0, n))
    se = math.sqrt(gpu.variance / gpu.n + cpu.variance / cpu.n)
    assert abs(gpu.mean - cpu.mean) < 4 * se
    # variance of the sample variance ~ (kurtosis - 1) V^2 / n
    se_var = math.sqrt(
        (gpu.kurtosis - 1) * gpu.variance**2 / n + (cpu.kurtosis - 1) * cpu.variance**2 / n
    )
    assert abs(gpu.variance - cpu.variance) < 4 * se_var


# ----------------------------------------------------------------------------- on a GPU


@needs_gpu
@pytest.mark.gpu
@pytest.mark.parametrize("M, level, batch, n", [
    (2, 0, 0, 1), (2, 0, 7, 100_001), (2, 1, 3, 5000), (2, 3, 1 << 33, 3000), (2, 5, 2, 800),
    (2, 8, 4, 300), (2, 10, 1, 33), (4, 3, 2, 2000), (3, 2, 5, 999),
])  # fmt: skip
def test_cupy_kernels_equal_the_emulation(M, level, batch, n):
    """Every kernel (level0, coupled2, coupled2_warp from level 8 on, coupled for M != 2)."""
    from mlmc_hpc.models.cupy_sampler import CupyMilsteinSampler

    sampler = CupyMilsteinSampler(OPTION, M, 1)
    got = sampler.sample(level, batch, n)
    np.testing.assert_allclose(got, emulated_sums(OPTION, M, 1, level, batch, n), rtol=1e-9)
    assert np.array_equal(got, sampler.sample(level, batch, n))  # deterministic


@needs_gpu
@pytest.mark.gpu
def test_cupy_sample_many_equals_one_by_one():
    from mlmc_hpc.models.cupy_sampler import MAX_GROUP, CupyMilsteinSampler

    sampler = CupyMilsteinSampler(OPTION, 2, 3)
    tasks = [
        (level % 9, batch, 100 + 37 * batch) for batch, level in enumerate(range(MAX_GROUP + 5))
    ]
    together = sampler.sample_many(tasks)
    assert len(together) == len(tasks)
    for task, sums in zip(tasks, together, strict=True):
        assert np.array_equal(sums, sampler.sample(*task))
    assert sampler.kernel_seconds > 0
    assert sampler.device.startswith("cuda:") and "NVRTC" in sampler.device


@needs_gpu
@pytest.mark.gpu
@pytest.mark.parametrize("level", [0, 2, 4, 6])
def test_cupy_and_numpy_levels_agree(level):
    from mlmc_hpc.models.cupy_sampler import CupyMilsteinSampler

    n = 2_000_000 >> level
    gpu = LevelSums(CupyMilsteinSampler(OPTION, 2, 1).sample(level, 0, n))
    cpu = LevelSums(MilsteinGBMSampler(OPTION, 2, 1).sample(level, 0, n))
    se = math.sqrt(gpu.variance / n + cpu.variance / n)
    assert abs(gpu.mean - cpu.mean) < 4 * se


@needs_gpu
@pytest.mark.gpu
@pytest.mark.parametrize("case, extra", [
    ("aapl", ()), ("tsla", ()), ("spy", ()), ("spy", ("--set", "mlmc.level0=sample")),
    ("spy", ("--set", "mlmc.method=mlqmc")), ("aapl", ("--set", "mlmc.method=mlqmc")),
])  # fmt: skip
def test_cupy_prices_within_3_eps(tmp_path, case, extra):
    """Calls and puts by MLMC (level 0 exact and sampled) and by MLQMC on the GPU."""
    done = run_cli("--config", f"configs/{case}.yaml", "--backend", "cupy", "--json",
                   "--quiet", "--output", str(tmp_path / "r.h5"), *extra)  # fmt: skip
    assert done.returncode == 0, done.stderr
    import json

    summary = json.loads(done.stdout)
    assert summary["backend"] == "cupy"
    assert abs(summary["price"] - summary["reference_price"]) < 3 * summary["eps"]
