"""Settling the config's ``auto`` values, once, while loading.

- ``run.backend: auto`` becomes ``cupy`` when CuPy imports, sees a GPU, has kernels for
  the work (:data:`GPU_KERNELS`) and can compile a trivial kernel (NVRTC and
  the CUDA headers are there), else ``numpy``; an explicit ``cupy`` that cannot be met is
  a :class:`~mlmc_hpc.errors.BackendUnavailableError` (exit 2) naming the fix.
- ``run.batch_timesteps: auto`` becomes a fixed constant per backend
  (:data:`AUTO_BATCH_TIMESTEPS`), so a run is reproducible from its stored config alone.

A stored (already resolved) config passes through unchanged and without probing a GPU.
"""

from __future__ import annotations

from typing import Any

from ..errors import BackendUnavailableError
from .schema import EUROPEAN_TYPES, PATH_TYPES

# Work the CuPy kernels can do (mlmc_hpc/models/cuda), by method: MLMC for European payoffs
# (milstein_gbm.cu) and the path-dependent ones (path_payoffs.cu), MLQMC for European
# payoffs (qmc_sobol.cu). Plain Monte Carlo runs on NumPy.
GPU_KERNEL_TYPES = EUROPEAN_TYPES + PATH_TYPES
GPU_KERNELS = {"mlmc": GPU_KERNEL_TYPES, "mlqmc": EUROPEAN_TYPES}
# Batch size for ``batch_timesteps: auto``. NumPy: about 50 ms of one core.
AUTO_BATCH_TIMESTEPS = {"numpy": 1 << 22, "cupy": 1 << 30}


def gpu_count() -> int:
    """Visible CUDA devices through CuPy; 0 when CuPy is missing or sees no GPU."""
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # ImportError, CUDARuntimeError, missing driver libraries
        return 0


PROBE = 'extern "C" __global__ void mlmc_probe(float* x) { x[threadIdx.x] = 1.0f; }'


def compile_problem() -> str | None:
    """Why CuPy cannot compile a kernel here (NVRTC or the CUDA headers missing), or None:
    a trivial kernel is compiled once, as the real ones will be."""
    try:
        import cupy

        cupy.RawModule(code=PROBE).get_function("mlmc_probe")
    except Exception as error:  # CompileException, ImportError of libnvrtc, CUDA errors
        lines = str(error).strip().splitlines()
        return f"{type(error).__name__}: {lines[0] if lines else ''}".strip()
    return None


def has_gpu_kernels(option_type: str, method: str) -> bool:
    """True when the CuPy kernels can do this work (:data:`GPU_KERNELS`)."""
    return option_type in GPU_KERNELS.get(method, ())


def resolve_backend(requested: str, option_type: str, method: str) -> str:
    """run.backend auto | numpy | cupy -> numpy | cupy (see the module docstring)."""
    if requested == "numpy":
        return "numpy"
    if requested == "cupy" and not has_gpu_kernels(option_type, method):
        raise BackendUnavailableError(
            f"run.backend cupy has kernels for mlmc.method mlmc (option.type "
            f"{' | '.join(GPU_KERNELS['mlmc'])}) and mlqmc ({' | '.join(GPU_KERNELS['mlqmc'])}), "
            f"got type {option_type} with method {method}; use run.backend: numpy or auto"
        )
    usable = has_gpu_kernels(option_type, method) and gpu_count() > 0
    if requested == "cupy" and not usable:
        raise BackendUnavailableError(
            "run.backend is cupy but CuPy is not installed (pip install 'mlmc_hpc[gpu]') "
            "or sees no GPU; use run.backend: numpy or auto"
        )
    problem = compile_problem() if usable else None
    if requested == "cupy" and problem:
        raise BackendUnavailableError(
            f"run.backend is cupy but CuPy cannot compile a kernel ({problem}): install "
            f"NVRTC and the CUDA headers with pip install 'cupy-cuda12x[ctk]' (the gpu extra "
            f"does) or load the site's CUDA module (docs/cluster.md); or use run.backend: numpy"
        )
    return "cupy" if usable and not problem else "numpy"


def resolve_batch_timesteps(configured: int | None, backend: str) -> int:
    """``auto`` (None) -> :data:`AUTO_BATCH_TIMESTEPS` of the backend; else as given."""
    return AUTO_BATCH_TIMESTEPS[backend] if configured is None else configured


def resolve_run(values: dict[str, Any], probe: bool = True) -> dict[str, Any]:
    """The validated values with ``run.backend`` and ``run.batch_timesteps`` settled.

    ``probe=False`` (a stored config, read back for ``--resume``) keeps an explicit numpy or
    cupy as written, without looking for a GPU; only ``auto`` is still resolved."""
    run = dict(values["run"])
    if probe or run["backend"] == "auto":
        run["backend"] = resolve_backend(
            run["backend"], values["option"]["type"], values["mlmc"]["method"]
        )
    run["batch_timesteps"] = resolve_batch_timesteps(run["batch_timesteps"], run["backend"])
    return {**values, "run": run}
