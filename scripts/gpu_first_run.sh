#!/usr/bin/env bash
# The CuPy kernels' first run on a GPU machine: the whole checklist of
# ../shared/design/gpu_first_run.md in order, each step's output in $OUT/<step>.txt and one
# line per step (status, exit code, wall seconds, time limit) in $OUT/summary.txt.
#
# From the device tool, in one command (the repository root is the working directory):
#   PYTHONPATH=. OUT=$OUT bash scripts/gpu_first_run.sh
# or, split over two commands:  STEPS="1 2 3 5 6" ... then  STEPS="4 7" ...
#
# Environment: OUT (default benchmarks/results/gpu-first-run-DATE), PYTHON (python3), STEPS
# (step numbers to run, default "1 2 3 4 5 6 7"), BUDGET_S (seconds for the whole run,
# default 540: each step's own limit is cut to what is left, and a step left under 15 s is
# skipped). Installs nothing; uses nvcc, compute-sanitizer, ncu and mpiexec where they exist.
#
# Steps: 1 nvidia-smi, CuPy, CUDA runtime, NVRTC and driver versions; 2 cold compile time
# (empty CUPY_CACHE_DIR), warm load, each kernel's registers, local memory and occupancy, and
# the ptxas -v log (nvcc and NVRTC); 3 tests/gpu, the GPU-marked MPI tests, and every kernel
# against the NumPy emulation field by field (got/emulated - 1); 4 compute-sanitizer
# memcheck, racecheck and initcheck on small batches of every kernel; 5 kernel-only timings
# (scripts/bench_gpu_kernels.py); 6 scripts/bench_gpu.py (nine cases) and a SPY eps 0.001
# CLI run's per-level seconds from its HDF5; 7 Nsight Compute on one SPY level-4 and one
# level-0 batch (issue slots, pipes, occupancy, warp stall reasons).
# A failed step does not stop the run. Status SKIP (exit 77): a tool is missing; TIMEOUT: the
# step's limit was reached. The script exits 1 if any step failed or timed out, else 0.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$(pwd)
SELF="$ROOT/scripts/gpu_first_run.sh"
DATE=$(date +%F)
PYTHON=${PYTHON:-python3}
OUT=${OUT:-benchmarks/results/gpu-first-run-$DATE}
STEPS=${STEPS:-1 2 3 4 5 6 7}
BUDGET_S=${BUDGET_S:-540}
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
PATH="$PATH${HOME:+:$HOME/.local/bin}"  # where pip --user puts mpiexec and friends
export DATE PYTHON OUT PYTHONPATH PATH

find_tool() {  # find_tool NAME: its path on PATH, in a CUDA or Nsight folder, or in a wheel
  local dir found
  if command -v "$1" 2>/dev/null; then return 0; fi
  dir=$("$PYTHON" -c 'import os, sys; print(os.path.dirname(sys.executable))' 2>/dev/null)
  for dir in "${dir:-/nonexistent}" /usr/local/cuda/bin /usr/local/cuda-*/bin \
    /opt/nvidia/nsight-compute/* /usr/local/cuda/nsight-compute-* /opt/cuda/bin; do
    if [ -x "$dir/$1" ]; then
      printf '%s\n' "$dir/$1"
      return 0
    fi
  done
  found=$("$PYTHON" -c 'import nvidia, sys; print(*nvidia.__path__, sep="\n")' 2>/dev/null |
    while read -r dir; do find "$dir" -maxdepth 4 -type f -name "$1" -perm -u+x; done |
    head -n 1)
  [ -n "$found" ] && printf '%s\n' "$found"
}

# ------------------------------------------------------------------------------- the steps

step_env() {
  local rc=0 tool
  nvidia-smi --query-gpu=name,clocks.max.sm,driver_version,memory.total --format=csv || rc=$?
  nvidia-smi || true
  "$PYTHON" - <<'PY' || rc=$?
import sys

import cupy
import numpy

from mlmc_hpc.models.cupy_sampler import device_label

runtime = cupy.cuda.runtime
print(f"python {sys.version.split()[0]}; numpy {numpy.__version__}; cupy {cupy.__version__}")
print(f"CUDA runtime {runtime.runtimeGetVersion()}; driver {runtime.driverGetVersion()}; "
      f"NVRTC {'.'.join(map(str, cupy.cuda.nvrtc.getVersion()))}")
try:
    import mpi4py
    from mpi4py import MPI

    print(f"mpi4py {mpi4py.__version__}; {MPI.Get_library_version().splitlines()[0]}")
except Exception as error:
    print(f"mpi4py: {type(error).__name__}: {error}")
for device in range(runtime.getDeviceCount()):
    p = runtime.getDeviceProperties(device)
    print(device_label(device), f"compute capability {p['major']}.{p['minor']};",
          f"{p['multiProcessorCount']} SMs; {p['totalGlobalMem'] / 2**30:.1f} GiB;",
          f"clock {p.get('clockRate', 'n/a')} kHz")
cupy.show_config()
PY
  for tool in nvcc ptxas compute-sanitizer ncu mpiexec; do
    printf '%-18s %s\n' "$tool" "$(find_tool "$tool" || echo 'not found')"
  done
  return "$rc"
}

step_compile() {
  local rc=0 cache nvcc
  cache=$(mktemp -d)
  nvcc=$(find_tool nvcc || true)
  echo "# cold: CUPY_CACHE_DIR=$cache (empty)"
  CUPY_CACHE_DIR=$cache "$PYTHON" - cold <<'PY' || rc=$?
import sys
import time

started = time.perf_counter()
import cupy

cupy.cuda.Device(0).use()
cupy.empty(1)  # creates the CUDA context
context = time.perf_counter()
from mlmc_hpc.models.cupy_sampler import KERNELS, THREADS, compiled_module

before = time.perf_counter()
module = compiled_module(0)
compiled = time.perf_counter()
print(f"import cupy + CUDA context: {context - started:.3f} s")
print(f"{sys.argv[1]} compiled_module(0): {compiled - before:.3f} s (cold: expect 0.3-1.5 s)")
if sys.argv[1] == "cold":
    names = list(KERNELS)
    try:
        from mlmc_hpc.models.cupy_paths import PATH_KERNELS

        names += list(PATH_KERNELS)
    except Exception as error:
        print(f"path kernels: {type(error).__name__}: {error}")
    names.append("qmc_sobol")
    print(f"{'kernel':24} {'regs':>4} {'local B':>7} {'shared B':>8} {'const B':>7} "
          f"{'max thr':>7} {'bin':>4} {'blocks/SM @' + str(THREADS):>15}")
    for name in names:
        try:
            f = module.get_function(name)
            try:
                occupancy = cupy.cuda.driver.occupancyMaxActiveBlocksPerMultiprocessor(
                    f.kernel.ptr, THREADS, 0)
            except Exception:  # estimate: 64K registers per SM, 256-register warp granules
                granules = -(-f.num_regs * 32 // 256)
                occupancy = f"{min(2048 // THREADS, 65536 // (granules * 256 * THREADS // 32))}"
                occupancy += " (est.)"
            print(f"{name:24} {f.num_regs:4d} {f.local_size_bytes:7d} {f.shared_size_bytes:8d} "
                  f"{f.const_size_bytes:7d} {f.max_threads_per_block:7d} "
                  f"{f.binary_version:4d} {occupancy!s:>15}")
        except Exception as error:
            print(f"{name:24} {type(error).__name__}: {error}")
PY
  echo "# warm: the same cache, a new process"
  CUPY_CACHE_DIR=$cache "$PYTHON" - warm <<'PY' || rc=$?
import sys
import time

import cupy

cupy.cuda.Device(0).use()
cupy.empty(1)
from mlmc_hpc.models.cupy_sampler import compiled_module

before = time.perf_counter()
compiled_module(0)
print(f"{sys.argv[1]} compiled_module(0): {time.perf_counter() - before:.3f} s")
PY
  rm -rf "$cache"
  echo "# ptxas -v: nvcc (${nvcc:-not found}) and NVRTC; expect 0 spills, no stack"
  "$PYTHON" - "$OUT/kernels.cu" "$nvcc" <<'PY' || rc=$?
import re
import subprocess
import sys
import tempfile

import cupy

from mlmc_hpc.models.cupy_sampler import kernel_source

source_path, nvcc = sys.argv[1], sys.argv[2]
arch = f"sm_{cupy.cuda.Device(0).compute_capability}"
source = kernel_source()
with open(source_path, "w") as stream:
    stream.write(source)
logs = {}
if nvcc:
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run([nvcc, "-x", "cu", "-c", f"-arch={arch}", "-Xptxas", "-v", "-o",
                               f"{folder}/k.o", source_path], capture_output=True, text=True)
    logs[f"nvcc ({arch}, exit {done.returncode})"] = done.stdout + done.stderr
nvrtc = cupy.cuda.nvrtc  # the NVRTC CuPy compiles with, to a cubin so that ptxas runs
for ptxas in (["--ptxas-options=-v"], ["-Xptxas=-v"], ["-Xptxas", "-v"]):
    options = ["--std=c++14", f"--gpu-architecture={arch}", *ptxas]
    try:
        program = nvrtc.createProgram(source, "kernels.cu", [], [])
        try:
            nvrtc.compileProgram(program, options)
            status = "ok"
        except Exception as error:
            status = f"{type(error).__name__}: {error}"
        log = nvrtc.getProgramLog(program)
        nvrtc.destroyProgram(program)
    except Exception as error:
        status, log = f"{type(error).__name__}: {error}", ""
    logs[f"NVRTC {nvrtc.getVersion()} ({' '.join(options)}: {status})"] = log
    if "registers" in log:
        break
worst = 0
for title, log in logs.items():
    print(f"## {title}")
    print(log)
    entries = re.findall(r"Compiling entry function '(\w+)'", log)
    registers = re.findall(r"Used (\d+) registers", log)
    frames = re.findall(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill "
                        r"loads", log)
    print(f"## {title}: {len(entries)} entries")
    for name, regs, frame in zip(entries, registers, frames):
        print(f"   {name:24} {regs:>4} registers; stack {frame[0]} B, spill stores {frame[1]} "
              f"B, spill loads {frame[2]} B")
        worst = max(worst, *map(int, frame))
    if not entries:
        print("   (no ptxas report in this log)")
print("spills or stack: NONE" if worst == 0 else f"spills or stack: UP TO {worst} B")
sys.exit(1 if worst else 0)
PY
  return "$rc"
}

step_tests_gpu() {
  "$PYTHON" -m pytest -q -rs -p no:cacheprovider tests/gpu
}

step_tests_mpi() {
  local rc=0 mpiexec
  mpiexec=$(find_tool mpiexec || true)
  echo "# mpiexec: ${mpiexec:-not found (the MPI job test skips)}"
  "$PYTHON" -m pytest -q -rs -p no:cacheprovider -m gpu tests/parallel || rc=$?
  if [ -n "$mpiexec" ] && "$PYTHON" -c 'import mpi4py, pytest_mpi' 2>/dev/null; then
    echo "# in-process MPI executor tests under $mpiexec -n 2"
    timeout 120 "$mpiexec" -n 2 "$PYTHON" -m pytest -q --with-mpi -p no:cacheprovider \
      tests/parallel/test_mpi_executor.py || rc=$?
  else
    echo "# mpiexec, mpi4py or pytest-mpi missing: in-process MPI executor tests not run"
  fi
  return "$rc"
}

step_emulation() {
  "$PYTHON" - <<'PY'
import sys

import numpy as np

from mlmc_hpc.core.sums import SUM_FIELDS
from mlmc_hpc.models.cupy_sampler import CupyMilsteinSampler, launch_plan
from tests.gpu.philox_reference import emulated_sums
from tests.gpu.test_gpu_kernels import OPTION

CASES = [(2, 0, 0, 1), (2, 0, 7, 100_001), (2, 1, 3, 5000), (2, 3, 1 << 33, 3000),
         (2, 5, 2, 800), (2, 8, 4, 300), (2, 10, 1, 33), (2, 12, 1, 17), (2, 12, 1, 100),
         (4, 3, 2, 2000), (3, 2, 5, 999)]
print("got/emulated - 1 per field: above 1e-12 is a real difference (the tests allow 1e-9)")
print(f"{'M':>2} {'level':>5} {'batch':>11} {'n':>7} {'kernel':14} "
      + " ".join(f"{name:>9}" for name in SUM_FIELDS) + "  max")
worst = 0.0
samplers = {}
for M, level, batch, n in CASES:
    sampler = samplers.setdefault(M, CupyMilsteinSampler(OPTION, M, 1))
    got = sampler.sample(level, batch, n)
    expected = emulated_sums(OPTION, M, 1, level, batch, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(expected != 0, got / expected - 1.0, got - expected)
    biggest = float(np.max(np.abs(ratio)))
    worst = max(worst, biggest)
    print(f"{M:2d} {level:5d} {batch:11d} {n:7d} {launch_plan(M, level, n)[0]:14} "
          + " ".join(f"{x:9.1e}" for x in ratio) + f"  {biggest:.1e}"
          + ("  <-- above 1e-12" if biggest > 1e-12 else ""))
print(f"largest |got/emulated - 1|: {worst:.2e}")
sys.exit(1 if worst > 1e-9 else 0)
PY
}

write_sanitize_driver() {
  cat > "$OUT/sanitize_driver.py" <<'PY'
"""Small batches of every kernel, for compute-sanitizer (written by scripts/gpu_first_run.sh)."""
import sys

import cupy

cupy.cuda.set_allocator(None)  # one cudaMalloc per array: memcheck sees each buffer's bounds
from mlmc_hpc.config import load_config  # noqa: E402
from mlmc_hpc.config.schema import OptionSpec  # noqa: E402
from mlmc_hpc.models.cupy_sampler import CupyMilsteinSampler, launch_plan  # noqa: E402

failures = 0


def run(label, thunk):
    global failures
    try:
        print(f"ok   {label}: {thunk()}", flush=True)
    except Exception as error:
        failures += 1
        print(f"FAIL {label}: {type(error).__name__}: {error}", flush=True)


spy = load_config("configs/spy.yaml").option
two = CupyMilsteinSampler(spy, 2, 1)
for level, n in [(0, 1), (0, 1001), (1, 300), (3, 257), (8, 40), (12, 3)]:
    kernel = launch_plan(2, level, n)[0]
    run(f"M=2 level {level} n={n} ({kernel})", lambda: two.sample(level, 5, n)[1:3])
tasks = [(batch % 6, batch, 20 + batch) for batch in range(70)]
run("sample_many of 70 batches", lambda: len(two.sample_many(tasks)))
run("normals_only", lambda: two.normals_rate(pairs_per_thread=8, blocks=16))
for M in (3, 4):
    run(f"M={M} level 2 n=100 (coupled)",
        lambda: CupyMilsteinSampler(spy, M, 1).sample(2, 1, 100)[1:3])
try:
    from mlmc_hpc.models.cupy_paths import CupyPathSampler

    giles = dict(S0=100.0, K=100.0, T=1.0, r=0.05, sigma=0.2)
    for option in [OptionSpec(type="asian", **giles),
                   OptionSpec(type="asian", average="geometric", **giles),
                   OptionSpec(type="lookback", **giles), OptionSpec(type="digital", **giles),
                   OptionSpec(type="barrier", barrier=85.0, **giles)]:
        paths = CupyPathSampler(option, 2, 1)
        for level in (0, 3):
            run(f"{paths.kernel} level {level} n=64", lambda: paths.sample(level, 2, 64)[1:3])
except Exception as error:
    failures += 1
    print(f"FAIL path kernels: {type(error).__name__}: {error}")
try:
    from mlmc_hpc.models.cupy_qmc import CupyQMCSampler

    qmc = CupyQMCSampler(spy, 2, 1)
    for level in (0, 3):
        run(f"qmc_sobol level {level} n=64", lambda: qmc.sample(level, 0, 64)[1:3])
except Exception as error:
    failures += 1
    print(f"FAIL qmc kernel: {type(error).__name__}: {error}")
print(f"{failures} failures")
sys.exit(1 if failures else 0)
PY
}

step_sanitize() {  # step_sanitize TOOL (memcheck, racecheck or initcheck)
  local sanitizer
  if ! sanitizer=$(find_tool compute-sanitizer); then
    echo "compute-sanitizer not found: skipped"
    return 77
  fi
  write_sanitize_driver
  echo "# $sanitizer --tool $1 (expect: ERROR SUMMARY: 0 errors)"
  "$sanitizer" --tool "$1" --error-exitcode 86 --print-limit 25 \
    "$PYTHON" "$OUT/sanitize_driver.py"
}

step_bench_kernels() {
  "$PYTHON" scripts/bench_gpu_kernels.py --out "$OUT/gpu-kernels-$DATE.jsonl"
}

step_bench_gpu() {
  "$PYTHON" scripts/bench_gpu.py --out "$OUT/gpu-$DATE.jsonl"
}

step_spy_cli() {
  local rc=0 h5="$OUT/spy-eps0.001.h5"
  rm -f "$h5"
  "$PYTHON" -m mlmc_hpc --config configs/spy.yaml --eps 0.001 --backend cupy --json --quiet \
    --output "$h5" || rc=$?
  "$PYTHON" - "$h5" <<'PY' || rc=$?
import sys

import h5py

with h5py.File(sys.argv[1]) as h5:
    for key, value in sorted(h5.attrs.items()):
        print(f"{key}: {value}")
    levels = h5["levels"]
    n, steps, seconds = (levels[k][()] for k in ("n_samples", "timesteps", "compute_time_s"))
    print(f"{'level':>5} {'samples':>12} {'timesteps':>12} {'seconds':>10} {'timesteps/s':>12}")
    for level, (a, b, c) in enumerate(zip(n, steps, seconds)):
        print(f"{level:5d} {a:12.0f} {b:12.4g} {c:10.5f} {b / c if c else 0.0:12.4g}")
    print(f"total {n.sum():12.0f} {steps.sum():12.4g} {seconds.sum():10.5f} "
          f"{steps.sum() / seconds.sum():12.4g}  (expect about 7.4e9 timesteps, 41-66 ms)")
PY
  return "$rc"
}

step_ncu() {
  local ncu rc=0
  if ! ncu=$(find_tool ncu); then
    echo "ncu not found: skipped"
    return 77
  fi
  cat > "$OUT/ncu_driver.py" <<'PY'
"""One SPY level-4 batch (2^30 timesteps) and one level-0 batch (2^30 samples), after the
sampler's warm-up batch (written by scripts/gpu_first_run.sh for ncu)."""
from mlmc_hpc.config import load_config
from mlmc_hpc.models.cupy_sampler import CupyMilsteinSampler, launch_plan

sampler = CupyMilsteinSampler(load_config("configs/spy.yaml").option, 2, 1)
for level, n in ((4, 1 << 26), (0, 1 << 30)):
    print(f"level {level}, n {n}: {launch_plan(2, level, n)}: {sampler.sample(level, 1, n)[1]}")
PY
  echo "# $ncu: expect issue slots busy 80-95%, FP64 pipe 50-60%; then occupancy, stalls"
  "$ncu" --kernel-name 'regex:^(level0|coupled2)$' --launch-skip 1 --launch-count 2 \
    --clock-control none --section SpeedOfLight --section ComputeWorkloadAnalysis \
    --section SchedulerStats --section WarpStateStats --section Occupancy \
    --section LaunchStats --section InstructionStats -f -o "$OUT/ncu-spy" \
    "$PYTHON" "$OUT/ncu_driver.py" || rc=$?
  if [ -f "$OUT/ncu-spy.ncu-rep" ]; then
    "$ncu" --import "$OUT/ncu-spy.ncu-rep" --print-details all ||
      "$ncu" --import "$OUT/ncu-spy.ncu-rep" || rc=$?
    "$ncu" --import "$OUT/ncu-spy.ncu-rep" --page raw --csv > "$OUT/ncu-spy-raw.csv" || rc=$?
  fi
  return "$rc"
}

if [ "${1:-}" = --step ]; then  # one step, in its own process (under timeout)
  case ${2:-} in
    env) step_env ;;
    compile) step_compile ;;
    tests_gpu) step_tests_gpu ;;
    tests_mpi) step_tests_mpi ;;
    emulation) step_emulation ;;
    sanitize) step_sanitize "${3:?memcheck, racecheck or initcheck}" ;;
    bench_kernels) step_bench_kernels ;;
    bench_gpu) step_bench_gpu ;;
    spy_cli) step_spy_cli ;;
    ncu) step_ncu ;;
    *)
      echo "gpu_first_run.sh: unknown step '${2:-}'" >&2
      exit 2
      ;;
  esac
  exit $?
fi

# ------------------------------------------------------------------------------- the run

mkdir -p "$OUT" || exit 1
OUT=$(cd "$OUT" && pwd)
export OUT
SUMMARY="$OUT/summary.txt"
BEGAN=$SECONDS
FAILED=0
{
  echo "# scripts/gpu_first_run.sh on $(uname -n) at $(date -Iseconds)"
  echo "# commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); STEPS=$STEPS;" \
    "BUDGET_S=$BUDGET_S; PYTHON=$PYTHON"
  printf '%-20s %-8s %4s %8s %6s\n' step status rc wall_s limit
} > "$SUMMARY"

run_step() {  # run_step ID LIMIT_S STEP [ARGS...]: $OUT/ID.txt and a line in the summary
  local id=$1 limit=$2 left rc status started ms
  shift 2
  case " $STEPS " in
    *" ${id%%[!0-9]*} "*) ;;
    *) return 0 ;;
  esac
  left=$((BUDGET_S - (SECONDS - BEGAN)))
  if ((left < 15)); then
    printf '%-20s %-8s %4s %8s %6s\n' "$id" SKIP - - "budget" >> "$SUMMARY"
    return 0
  fi
  ((limit > left)) && limit=$left
  echo "=== $id (limit ${limit} s) -> $OUT/$id.txt"
  started=$(date +%s%N)
  timeout -k 10 "$limit" bash "$SELF" --step "$@" > "$OUT/$id.txt" 2>&1
  rc=$?
  ms=$((($(date +%s%N) - started) / 1000000))
  case $rc in
    0) status=ok ;;
    77) status=SKIP ;;
    124 | 137) status=TIMEOUT FAILED=1 ;;
    *) status=FAIL FAILED=1 ;;
  esac
  printf '%-20s %-8s %4s %8s %6s\n' "$id" "$status" "$rc" \
    "$((ms / 1000)).$(((ms % 1000) / 100))" "$limit" >> "$SUMMARY"
  tail -n 6 "$OUT/$id.txt"
  echo "--- $id: $status (exit $rc, $((ms / 1000)) s)"
}

run_step 1-env 60 env
run_step 2-compile 120 compile
run_step 3a-tests-gpu 240 tests_gpu
run_step 3b-tests-mpi-gpu 150 tests_mpi
run_step 3c-emulation 60 emulation
run_step 4a-memcheck 75 sanitize memcheck
run_step 4b-racecheck 75 sanitize racecheck
run_step 4c-initcheck 75 sanitize initcheck
run_step 5-bench-kernels 120 bench_kernels
run_step 6a-bench-gpu 240 bench_gpu
run_step 6b-spy-cli 60 spy_cli
run_step 7-ncu 150 ncu
echo "total $((SECONDS - BEGAN)) s" >> "$SUMMARY"
echo "=== summary ($SUMMARY)"
cat "$SUMMARY"
exit "$FAILED"
