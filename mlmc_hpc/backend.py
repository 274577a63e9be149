"""The one place where the array backend (NumPy or CuPy) is chosen."""

from __future__ import annotations

from .config import Config, ConfigError
from .options import EUROPEAN_TYPES, is_european

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


def has_gpu_kernels(config: Config) -> bool:
    """The CuPy kernels price European payoffs by MLMC; other work runs on NumPy."""
    return config.mlmc.method == "mlmc" and is_european(config.option)


def resolve_backend(config: Config) -> str:
    """run.backend auto | numpy | cupy -> numpy | cupy; a cupy request that cannot be met
    is an error, and auto takes CuPy only where it has kernels for the work."""
    requested = config.run.backend
    if requested == "numpy":
        return "numpy"
    if requested == "cupy" and not has_gpu_kernels(config):
        raise ConfigError(
            f"run.backend cupy has kernels for option.type {' | '.join(EUROPEAN_TYPES)} with "
            f"mlmc.method mlmc only, got type {config.option.type} with method "
            f"{config.mlmc.method}; use run.backend: numpy or auto"
        )
    usable = gpu_count() > 0
    if requested == "cupy" and not usable:
        raise ConfigError(
            "run.backend is cupy but CuPy is not installed (pip install 'mlmc_hpc[gpu]') "
            "or sees no GPU; use run.backend: numpy or auto"
        )
    return "cupy" if usable and has_gpu_kernels(config) else "numpy"


def resolve_batch_timesteps(configured: int | None, backend: str) -> int:
    return AUTO_BATCH_TIMESTEPS[backend] if configured is None else configured


def make_sampler(backend: str, option, settings, seed: int):
    """A sampler with ``steps(level)`` and ``sample(level, batch, n) -> sums`` for the work:
    European MLMC on CuPy or the fast NumPy sampler, path payoffs on NumPy, or plain MC."""
    if settings.method == "mc":
        from .sampler_paths import PlainMCSampler

        return PlainMCSampler(option, settings.mc_steps, seed)
    if backend == "cupy":
        from .sampler_cupy import CupyMilsteinSampler

        return CupyMilsteinSampler(option, settings.M, seed)
    if is_european(option):
        from .sampler_numpy import MilsteinGBMSampler

        return MilsteinGBMSampler(option, settings.M, seed)
    from .sampler_paths import PathSampler

    return PathSampler(option, settings.M, seed)
