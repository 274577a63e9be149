"""The one place where the array backend (NumPy or CuPy) is chosen."""

from __future__ import annotations

from .config import ConfigError

# Batch size used for ``batch_timesteps: auto``: a fixed constant per backend, so a
# run is reproducible from its seed alone. NumPy: about 50 ms of one core.
AUTO_BATCH_TIMESTEPS = {"numpy": 1 << 22, "cupy": 1 << 30}


def gpu_count() -> int:
    """Visible CUDA devices through CuPy; 0 when CuPy is missing or sees no GPU."""
    try:
        import cupy  # noqa: F401

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # ImportError, CUDARuntimeError, missing driver libraries
        return 0


def resolve_backend(requested: str) -> str:
    """auto | numpy | cupy -> numpy | cupy; a cupy request that cannot be met is an error."""
    if requested == "numpy":
        return "numpy"
    usable = gpu_count() > 0
    if requested == "cupy" and not usable:
        raise ConfigError(
            "run.backend is cupy but CuPy is not installed (pip install 'mlmc_hpc[gpu]') "
            "or sees no GPU; use run.backend: numpy or auto"
        )
    return "cupy" if usable else "numpy"


def resolve_batch_timesteps(configured: int | None, backend: str) -> int:
    return AUTO_BATCH_TIMESTEPS[backend] if configured is None else configured


def make_sampler(backend: str, option, M: int, seed: int):
    """A level sampler with ``sample(level, batch, n) -> sums`` for the backend."""
    if backend == "cupy":
        from .sampler_cupy import CupyMilsteinSampler

        return CupyMilsteinSampler(option, M, seed)
    from .sampler_numpy import MilsteinGBMSampler

    return MilsteinGBMSampler(option, M, seed)
