"""mlmc_hpc: adaptive multilevel Monte Carlo option pricing on MPI clusters of GPUs and CPUs.

The public Python API (loaded on first use, so ``import mlmc_hpc`` stays cheap and does
not import NumPy)::

    import mlmc_hpc
    r = mlmc_hpc.price({"option": {"type": "call", "S0": 100, "K": 100, "T": 1,
                                   "r": 0.05, "sigma": 0.2}, "mlmc": {"eps": 0.01}})
    r.price, r.std_error, r.converged, r.ci95, r.to_dataframe()

- :func:`price` -- price one option (dict, YAML path or preset name, plus keyword overrides)
- :func:`risk` -- VaR and CVaR of a portfolio with confidence intervals (:class:`RiskResult`)
- :func:`price_book` -- a whole book of contracts in one job (:class:`BookResult`)
- :func:`load_config` -- the validated, fully resolved :class:`Config`
- :class:`RunResult` -- the result, in memory or loaded from its HDF5 file
- :class:`ConfigError` -- bad input (a ``ValueError`` with a one-line message)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from .config.loading import load_config
    from .config.loading import preset_names as presets
    from .config.schema import Config
    from .io.book_result import BookResult
    from .io.risk_result import RiskResult
    from .io.run_result import RunResult
    from .pricing.api import price
    from .pricing.book_api import price_book
    from .pricing.risk_api import risk

__all__ = [
    "BookResult",
    "Config",
    "ConfigError",
    "ExitCode",
    "RiskResult",
    "RunResult",
    "__version__",
    "load_config",
    "presets",
    "price",
    "price_book",
    "risk",
]

_LAZY = {
    "price": ("pricing.api", "price"),
    "presets": ("config.loading", "preset_names"),
    "load_config": ("config.loading", "load_config"),
    "Config": ("config.schema", "Config"),
    "RunResult": ("io.run_result", "RunResult"),
    "risk": ("pricing.risk_api", "risk"),
    "RiskResult": ("io.risk_result", "RiskResult"),
    "price_book": ("pricing.book_api", "price_book"),
    "BookResult": ("io.book_result", "BookResult"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'mlmc_hpc' has no attribute {name!r}")
    import importlib

    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(f".{module}", __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
