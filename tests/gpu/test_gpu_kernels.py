"""The CuPy backend: Philox stream, kernel source, and (on a GPU) the kernels themselves.

Without a GPU the kernel source is compiled with nvcc where it exists, its Philox code
is compiled on the host against the NumPy twin, and the kernels' algorithm is checked
statistically through a NumPy emulation. Tests marked ``gpu`` need CuPy and a device.
"""

from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
import pytest

from mlmc_hpc.config import load_config
from mlmc_hpc.config.resolve import gpu_count
from mlmc_hpc.core.sums import LevelSums
from mlmc_hpc.models.cupy_sampler import kernel_source
from mlmc_hpc.models.european import MilsteinGBMSampler
from mlmc_hpc.models.philox import philox4x32_10, round_keys, seed_key, stream_normals
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


HOST_HARNESS = r"""
#include <cmath>
#include <cstdio>
#define __device__
#define __forceinline__ inline
static unsigned int __umulhi(unsigned int a, unsigned int b) {
  return (unsigned int)(((unsigned long long)a * b) >> 32);
}
#include <cstring>
static void sincospi(double x, double *s, double *c) { *s = sin(M_PI * x); *c = cos(M_PI * x); }
static double __hiloint2double(int hi, int lo) {
  const unsigned long long bits = (unsigned long long)(unsigned int)hi << 32 | (unsigned int)lo;
  double x;
  memcpy(&x, &bits, sizeof x);
  return x;
}
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


def test_cuda_philox_code_matches_numpy_on_the_host(tmp_path):
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("g++ not found")
    (tmp_path / "philox_normals.cuh").write_text(
        (ROOT / "mlmc_hpc/models/cuda/philox_normals.cuh").read_text()
    )
    (tmp_path / "harness.cpp").write_text(HOST_HARNESS)
    k0, k1 = (",".join(f"{k}u" for k in word) for word in round_keys(seed_key(123456789012345)))
    keys = f"{{{{{k0}}}, {{{k1}}}}}"
    subprocess.run([compiler, "-O1", f"-DROUND_KEYS={keys}", "-I", str(tmp_path),
                    "-o", str(tmp_path / "harness"), str(tmp_path / "harness.cpp")],
                   check=True)  # fmt: skip
    output = subprocess.run([str(tmp_path / "harness")], capture_output=True, text=True, check=True)
    host = np.array(output.stdout.split(), dtype=float).reshape(3, 4)
    expected = stream_normals(123456789012345, 3, 5 + (1 << 32), np.arange(3), 4)
    np.testing.assert_allclose(host, expected, rtol=0, atol=1e-13)
    assert np.all(np.isfinite(host))


@pytest.mark.parametrize("arch", ["sm_75", "sm_90"])
def test_kernel_source_compiles_with_nvcc(tmp_path, arch):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc not found")
    source = tmp_path / "kernels.cu"
    source.write_text(kernel_source())
    done = subprocess.run([nvcc, "-x", "cu", "-c", f"-arch={arch}", "-Werror", "all-warnings",
                           "-o", str(tmp_path / "k.o"), str(source)],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr


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
@pytest.mark.parametrize("level, batch, n", [(0, 0, 1), (0, 7, 100_001), (1, 3, 5000),
                                             (3, 1 << 33, 3000), (5, 2, 800)])  # fmt: skip
def test_cupy_kernels_equal_the_emulation(level, batch, n):
    from mlmc_hpc.models.cupy_sampler import CupyMilsteinSampler

    sampler = CupyMilsteinSampler(OPTION, 2, 1)
    got = sampler.sample(level, batch, n)
    np.testing.assert_allclose(got, emulated_sums(OPTION, 2, 1, level, batch, n), rtol=1e-9)
    assert np.array_equal(got, sampler.sample(level, batch, n))  # deterministic


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
@pytest.mark.parametrize("case", ["aapl", "tsla", "spy"])
def test_cupy_prices_within_3_eps(tmp_path, case):
    done = run_cli("--config", f"configs/{case}.yaml", "--backend", "cupy", "--json",
                   "--quiet", "--output", str(tmp_path / "r.h5"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    import json

    summary = json.loads(done.stdout)
    assert summary["backend"] == "cupy"
    assert abs(summary["price"] - summary["reference_price"]) < 3 * summary["eps"]
