"""The CuPy path-payoff kernels (asian, lookback, digital, barrier): source and algorithm.

Without a GPU (nvcc without spills or stack: test_gpu_kernels): the
per-sample device code is compiled on the host with g++ and compared with the NumPy
emulation of tests/gpu/path_reference.py (which runs paths.simulate_given on the kernels'
Philox numbers), and the emulation is compared statistically with the NumPy PathSampler.
Tests marked ``gpu`` check the real kernels against the emulation.
"""

from __future__ import annotations

import json
import math
import re
import subprocess

import numpy as np
import pytest

from mlmc_hpc.config.schema import OptionSpec
from mlmc_hpc.core.sums import PF1, Y1, Y2, Y3, Y4, LevelSums, N
from mlmc_hpc.models.cupy_paths import PATH_KERNELS, path_args, path_kernel
from mlmc_hpc.models.paths import PathSampler
from mlmc_hpc.models.philox import round_keys, seed_key
from tests.gpu.path_reference import emulated_pairs, emulated_sums
from tests.gpu.test_gpu_kernels import HOST_HARNESS, build_host_harness, needs_gpu
from tests.helpers import ROOT, run_cli

GILES = dict(S0=100.0, K=100.0, T=1.0, r=0.05, sigma=0.2)
OPTIONS = {
    "asian": OptionSpec(type="asian", **GILES),
    "geometric asian": OptionSpec(type="asian", average="geometric", **GILES),
    "lookback": OptionSpec(type="lookback", **GILES),
    "digital": OptionSpec(type="digital", **GILES),
    "digital payout 1": OptionSpec(type="digital", **{**GILES, "K": 105.0}, payout=1.0),
    "barrier 85": OptionSpec(type="barrier", barrier=85.0, **GILES),
    "barrier 95": OptionSpec(type="barrier", barrier=95.0, **GILES),
}
SEED = 123456789012345
BATCH = 5 + (1 << 32)  # the batch's high bits reach the tag word


def test_every_path_type_has_a_kernel():
    assert {path_kernel(o) for o in OPTIONS.values()} == set(PATH_KERNELS)
    with pytest.raises(ValueError, match="European"):
        path_kernel(OptionSpec(type="call", **GILES))


# ------------------------------------------------------ device code on the host (g++)

# The CUDA intrinsics on the host and philox_normals.cuh, then the path device code and a
# main that prints (Pf, Pc) of consecutive samples.
PATH_HARNESS = (
    HOST_HARNESS[: HOST_HARNESS.index("int main()")]
    + r"""
#include <cstdlib>
#define PATH_PAYOFFS_HOST_ONLY
#include "path_payoffs.cu"

template <int KIND>
static void run(const PathParams &p, const RoundKeys &key, unsigned int level,
                unsigned long long batch, unsigned long long first, unsigned long long count) {
  for (unsigned long long i = first; i < first + count; ++i) {
    SampleStream<extra_of(KIND)> rng(level, batch, i);
    double pf, pc;
    coupled_sample<KIND>(p, key, rng, &pf, &pc);
    printf("%.17g %.17g\n", pf, pc);
  }
}

// argv: kind level batch first count k0[10] k1[10] PathParams fields (13 doubles, M, steps)
int main(int argc, char **argv) {
  if (argc != 1 + 5 + 20 + 15) return 2;
  char **a = argv + 1;
  const int kind = atoi(*a++);
  const unsigned int level = (unsigned int)strtoul(*a++, nullptr, 10);
  const unsigned long long batch = strtoull(*a++, nullptr, 10);
  const unsigned long long first = strtoull(*a++, nullptr, 10);
  const unsigned long long count = strtoull(*a++, nullptr, 10);
  RoundKeys key;
  for (int r = 0; r < 10; ++r) key.k0[r] = (unsigned int)strtoul(*a++, nullptr, 10);
  for (int r = 0; r < 10; ++r) key.k1[r] = (unsigned int)strtoul(*a++, nullptr, 10);
  double d[13];
  for (int k = 0; k < 13; ++k) d[k] = strtod(*a++, nullptr);
  const int M = atoi(*a++);
  const unsigned long long steps = strtoull(*a++, nullptr, 10);
  const PathParams p{d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11],
                     d[12], M, steps};
  switch (kind) {
    case ASIAN_ARITHMETIC: run<ASIAN_ARITHMETIC>(p, key, level, batch, first, count); break;
    case ASIAN_GEOMETRIC: run<ASIAN_GEOMETRIC>(p, key, level, batch, first, count); break;
    case LOOKBACK: run<LOOKBACK>(p, key, level, batch, first, count); break;
    case DIGITAL: run<DIGITAL>(p, key, level, batch, first, count); break;
    case BARRIER: run<BARRIER>(p, key, level, batch, first, count); break;
    default: return 2;
  }
  return 0;
}
"""
)


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    folder = tmp_path_factory.mktemp("path_harness")
    return build_host_harness(folder, PATH_HARNESS, ["philox_normals.cuh", "path_payoffs.cu"])


def host_pairs(harness, option, M, level, batch, first, count):
    """(Pf, Pc) of samples first.. first + count - 1 from the host-compiled device code."""
    args = path_args(option, M, level)
    words = [str(PATH_KERNELS.index(path_kernel(option))), str(level), str(batch), str(first),
             str(count), *(str(k) for word in round_keys(seed_key(SEED)) for k in word),
             *(repr(float(x)) for x in args[:13]), str(args.M), str(args.coarse_steps)]  # fmt: skip
    done = subprocess.run([str(harness), *words], capture_output=True, text=True, check=True)
    return np.array(done.stdout.split(), dtype=float).reshape(count, 2).T


MAX_DEVIATION: dict[str, float] = {}  # relative, by case: printed with -s, quoted in reports


@pytest.mark.parametrize("name", list(OPTIONS))
@pytest.mark.parametrize("M, level", [(2, 0), (2, 1), (2, 3), (4, 2), (3, 2)])
def test_device_code_matches_the_emulation_per_sample(harness, name, M, level):
    """Each sample's (Pf, Pc) from the kernels' device code equals paths.simulate_given on
    the same Philox numbers; samples straddle 2^32 (the sample's high bits in the tag)."""
    option = OPTIONS[name]
    first, count = (1 << 32) - 24, 48
    host = host_pairs(harness, option, M, level, BATCH, first, count)
    samples = np.arange(first, first + count, dtype=np.uint64)
    pf, pc = emulated_pairs(option, M, SEED, level, BATCH, samples)
    want = np.stack([pf, pc])
    assert np.all(np.isfinite(host))
    scale = option.S0 if option.type != "digital" else option.payout or option.K
    np.testing.assert_allclose(host, want, rtol=1e-12, atol=1e-13 * scale)
    deviation = np.abs(host - want) / np.maximum(np.abs(want), scale * 1e-3)
    MAX_DEVIATION[f"{name} M={M} l={level}"] = float(deviation.max())
    if level:
        assert np.any(pc != 0) and not np.array_equal(pf, pc)


# ----------------------------------------------- the algorithm against PathSampler


@pytest.mark.parametrize("name", list(OPTIONS))
@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_kernel_algorithm_matches_path_sampler_statistically(name, level):
    """The emulated kernels (Philox) and PathSampler (SFC64): same mean and variance of
    Pf - Pc within 4 combined standard errors."""
    option = OPTIONS[name]
    n = 40_000
    gpu = LevelSums(emulated_sums(option, 2, 7, level, 0, n))
    cpu = LevelSums(PathSampler(option, 2, 7).sample(level, 0, n))
    if option.type == "digital" and level == 0:  # one step: Pf = payout N(d) given S0 alone
        assert gpu.mean == pytest.approx(cpu.mean, rel=1e-12)
        return
    se = math.sqrt(gpu.variance / n + cpu.variance / n)
    assert abs(gpu.mean - cpu.mean) < 4 * se
    se_var = math.sqrt(
        (gpu.kurtosis - 1) * gpu.variance**2 / n + (cpu.kurtosis - 1) * cpu.variance**2 / n
    )
    assert abs(gpu.variance - cpu.variance) < 4 * se_var


def test_extra_randoms_are_independent_of_the_normals():
    """The extra stream (tag bit 0x80) is not the normal stream: the Asian's bridge normals
    are uncorrelated with the step normals of the same counters."""
    from tests.gpu.path_reference import path_randoms

    z, xi = path_randoms(OPTIONS["asian"], 2, SEED, 3, 0, np.arange(5000, dtype=np.uint64))
    assert abs(np.corrcoef(z.ravel(), xi.ravel())[0, 1]) < 4 / math.sqrt(z.size)
    _, u = path_randoms(OPTIONS["lookback"], 2, SEED, 3, 0, np.arange(5000, dtype=np.uint64))
    assert u.min() > 0 and u.max() <= 1 and abs(u.mean() - 0.5) < 4 * math.sqrt(1 / 12 / u.size)


# ----------------------------------------------------------------------------- on a GPU


def assert_sums_close(got, want):
    """rtol 1e-9; the signed sums Y, Y^3 also within 1e-9 of sum |Y|, sum |Y|^3 (bounded
    through Cauchy-Schwarz by the positive sums), as they may cancel."""
    np.testing.assert_allclose(got[[N, Y2, Y4, PF1]], want[[N, Y2, Y4, PF1]], rtol=1e-9)
    assert abs(got[Y1] - want[Y1]) <= 1e-9 * math.sqrt(want[N] * want[Y2]) + 1e-300
    assert abs(got[Y3] - want[Y3]) <= 1e-9 * math.sqrt(want[Y2] * want[Y4]) + 1e-300


@needs_gpu
@pytest.mark.gpu
@pytest.mark.parametrize("name", list(OPTIONS))
@pytest.mark.parametrize("M, level, batch, n", [(2, 0, 0, 1), (2, 0, 7, 100_001), (2, 1, 3, 5000),
                                                (2, 3, 1 << 33, 3000), (2, 6, 2, 800),
                                                (4, 2, 1, 2000), (3, 2, 4, 1000)])  # fmt: skip
def test_cupy_path_kernels_equal_the_emulation(name, M, level, batch, n):
    from mlmc_hpc.models.cupy_paths import CupyPathSampler

    option = OPTIONS[name]
    sampler = CupyPathSampler(option, M, 1)
    got = sampler.sample(level, batch, n)
    assert_sums_close(got, emulated_sums(option, M, 1, level, batch, n))
    assert np.array_equal(got, sampler.sample(level, batch, n))  # deterministic


@needs_gpu
@pytest.mark.gpu
@pytest.mark.parametrize("name", list(OPTIONS))
def test_cupy_path_sample_many_equals_sample(name):
    from mlmc_hpc.models.cupy_paths import CupyPathSampler

    sampler = CupyPathSampler(OPTIONS[name], 2, 3)
    tasks = [(level, batch, 1000 + 37 * level) for level in range(5) for batch in range(3)]
    many = sampler.sample_many(tasks)
    for task, sums in zip(tasks, many, strict=True):
        assert np.array_equal(sums, sampler.sample(*task))


CLI_CASES = {
    "asian": ["--set", "option.type=asian"],
    "geometric asian": ["--set", "option.type=asian", "--set", "option.average=geometric"],
    "lookback": ["--set", "option.type=lookback"],
    "digital": ["--set", "option.type=digital"],
    "barrier": ["--set", "option.type=barrier", "--set", "option.barrier=85"],
}


def cli_summary(tmp_path, backend, args):
    done = run_cli("--config", "configs/giles.yaml", *args, "--eps", "0.02", "--backend",
                   backend, "--json", "--quiet", "--output", str(tmp_path / f"{backend}.h5"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["backend"] == backend
    return summary


@needs_gpu
@pytest.mark.gpu
@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cupy_path_prices_within_3_eps(tmp_path, case):
    """Against the closed form where one exists, else against a NumPy run of the same eps."""
    summary = cli_summary(tmp_path, "cupy", CLI_CASES[case])
    reference = summary["reference_price"]
    if reference is None:
        reference = cli_summary(tmp_path, "numpy", CLI_CASES[case])["price"]
    assert abs(summary["price"] - reference) < 3 * summary["eps"]


# ------------------------------------------------ the launch's arguments, without CuPy

C_TYPES = {"double": np.float64, "int": np.int32, "unsigned long long": np.uint64,
           "unsigned int": np.uint32, "RoundKeys": np.void, "double *": object}  # fmt: skip


def kernel_parameter_types() -> list[str]:
    """The C types of a path kernel's parameters, read from path_payoffs.cu."""
    text = (ROOT / "mlmc_hpc/models/cuda/path_payoffs.cu").read_text().replace("\\\n", " ")
    fields = re.search(r"#define PATH_PARAMS_ARGS (.*)", text).group(1)
    rest = re.search(r"name\(PATH_PARAMS_ARGS, (.*?)\)\s*\{", text).group(1)
    params = [p.strip() for p in f"{fields}, {rest}".split(",")]
    return [re.sub(r"\s*\w+$", "", re.sub(r"\s+", " ", p)).replace("double*", "double *")
            for p in params]  # fmt: skip


@pytest.mark.parametrize("name", list(OPTIONS))
@pytest.mark.parametrize("level", [0, 3])
def test_launch_passes_the_kernel_signature(name, level):
    """CupyPathSampler.launch with a stand-in for CuPy: one argument per kernel parameter,
    each of the C type's NumPy scalar type, and the blocks of launch_blocks(n)."""
    from types import SimpleNamespace

    from mlmc_hpc.models.cupy_paths import CupyPathSampler
    from mlmc_hpc.models.cupy_sampler import THREADS, launch_blocks, round_keys_arg

    calls = []
    sampler = object.__new__(CupyPathSampler)
    sampler.cupy = SimpleNamespace(float64=np.float64, int32=np.int32, uint64=np.uint64,
                                   uint32=np.uint32)  # fmt: skip
    sampler.option, sampler.M, sampler.key = OPTIONS[name], 4, round_keys_arg(9)
    sampler.kernel = path_kernel(OPTIONS[name])
    sampler.kernels = {sampler.kernel: lambda grid, block, args: calls.append((grid, block, args))}
    sampler.partials = "partials"
    sampler.reduce_into = lambda blocks, out: calls.append((blocks, out))
    sampler.launch(level, 1 << 33, 70_000, "out")
    (grid, block, args), (blocks, out) = calls
    assert grid == (blocks,) == (launch_blocks(70_000),) and block == (THREADS,) and out == "out"
    types = kernel_parameter_types()
    assert len(args) == len(types) == 20
    for value, c_type in zip(args, types, strict=True):
        assert isinstance(value, C_TYPES[c_type]), (c_type, value)
    expected = path_args(OPTIONS[name], 4, level)
    assert [float(a) for a in args[:13]] == list(expected[:13])
    assert (int(args[13]), int(args[14]), int(args[15])) == (
        4,
        4 ** (level - 1) if level else 0,
        level,
    )
