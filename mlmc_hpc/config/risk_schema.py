"""The typed config of the ``risk`` command: portfolio, risk and run sections.

A public contract, like the pricer's (README "Portfolio risk", ``risk_defaults.yaml``,
CHANGELOG). After :func:`~mlmc_hpc.config.risk_loading.load_risk_config` nothing is left as
"auto" except ``risk.scenarios`` (None: as many as the tolerance needs, a mode of its own):
weights are given for every asset (derived from ``shares`` and ``S0`` where those were
given), the correlation matrix is complete and the backend and batch size are settled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import yaml

RISK_MODELS = ("exact", "daily")
POSITION_TYPES = ("call", "put")
RISK_SECTIONS = ("name", "portfolio", "risk", "run")


@dataclass(frozen=True)
class AssetSpec:
    """One stock of ``portfolio.assets``: a GBM with drift ``mu`` and volatility ``sigma``
    (annual), held at ``weight`` of ``portfolio.value`` (``shares`` x ``S0`` when given so)."""

    name: str
    weight: float
    mu: float
    sigma: float
    S0: float | None = None  # price today; needed by options on the asset and by shares
    shares: float | None = None  # as written, when the holding was given in shares


@dataclass(frozen=True)
class OptionPosition:
    """A European option of ``portfolio.options``: ``quantity`` contracts on one asset,
    revalued by Black-Scholes with volatility ``sigma`` and rate ``r``."""

    asset: str
    type: str
    K: float
    T: float  # years from today; must not end before the horizon
    quantity: float  # signed: negative = written (short)
    sigma: float  # implied volatility (the asset's sigma unless given)
    r: float


@dataclass(frozen=True)
class PortfolioSpec:
    """Section ``portfolio``: value of the stock positions, assets, correlation, options."""

    value: float
    assets: tuple[AssetSpec, ...]
    correlation: tuple[tuple[float, ...], ...]
    options: tuple[OptionPosition, ...] = ()


@dataclass(frozen=True)
class RiskSettings:
    """Section ``risk``: horizon, confidences, scenario model and how many scenarios."""

    horizon_days: int
    trading_days: int
    confidence: tuple[float, ...]  # ascending, each in 0.5..0.9999
    model: str  # exact | daily
    scenarios: int | None  # None = auto: until every CI meets rel_tol
    rel_tol: float
    max_scenarios: int

    @property
    def horizon_years(self) -> float:
        """The horizon in years: horizon_days / trading_days."""
        return self.horizon_days / self.trading_days


@dataclass(frozen=True)
class RiskRunSpec:
    """Section ``run`` of a risk config (resolved: numpy or cupy, an integer batch size)."""

    seed: int
    backend: str
    batch_scenarios: int
    output: str
    end_margin_s: float = 60.0
    stall_factor: float = 20.0
    stall_floor_s: float = 120.0
    progress_s: float = 10.0  # not on a terminal: a progress line this often


@dataclass(frozen=True)
class RiskConfig:
    """The whole validated risk config; ``to_yaml()`` is what a result file stores."""

    name: str
    portfolio: PortfolioSpec
    risk: RiskSettings
    run: RiskRunSpec

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict in the YAML schema (lists, not tuples; ``scenarios`` None is
        written ``auto``; an asset given in shares keeps its shares, not a weight)."""
        data = asdict(self)
        portfolio = data["portfolio"]
        portfolio["assets"] = [_asset_dict(asset) for asset in portfolio["assets"]]
        portfolio["correlation"] = [list(row) for row in portfolio["correlation"]]
        portfolio["options"] = [dict(option) for option in portfolio["options"]]
        data["risk"]["confidence"] = list(data["risk"]["confidence"])
        if data["risk"]["scenarios"] is None:
            data["risk"]["scenarios"] = "auto"
        return data

    def to_yaml(self) -> str:
        """The config as YAML text, keys in schema order."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _asset_dict(asset: dict[str, Any]) -> dict[str, Any]:
    shares = asset.pop("shares")
    if shares is not None:
        del asset["weight"]
        asset["shares"] = shares
    if asset["S0"] is None:
        del asset["S0"]
    return asset
