"""Loading a risk config: packaged defaults < file, preset or dict < overrides, validated once.

The same precedence, strict YAML and one-line errors as the pricer's
(:mod:`mlmc_hpc.config.loading`); the defaults are ``risk_defaults.yaml`` and the presets
``risk_presets/*.yaml`` (``--config notebook_var``). ``auto`` is settled here: the backend is
numpy (the risk scenarios have no GPU kernel yet) and ``run.batch_scenarios`` 65536.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailableError
from .loading import (
    apply_overrides,
    merge,
    packaged_yaml,
    parse_yaml,
    read_yaml_file,
)
from .risk_checks import validate_risk
from .risk_schema import (
    AssetSpec,
    OptionPosition,
    PortfolioSpec,
    RiskConfig,
    RiskRunSpec,
    RiskSettings,
)

AUTO_BATCH_SCENARIOS = 1 << 16
_PACKAGE = "mlmc_hpc.config"
RiskSource = str | Path | Mapping[str, Any] | None


def risk_defaults() -> dict[str, Any]:
    """The commented ``risk_defaults.yaml`` shipped in the package, as a dict."""
    return packaged_yaml("risk_defaults.yaml")


RISK_PRESETS = ("risk_presets", "risk preset")  # (folder, word) for config.loading


def resolve_risk_run(run: dict[str, Any]) -> dict[str, Any]:
    """``backend`` auto/numpy -> numpy (cupy is refused: no risk kernel yet) and
    ``batch_scenarios`` auto -> :data:`AUTO_BATCH_SCENARIOS`."""
    if run["backend"] == "cupy":
        raise BackendUnavailableError("run.backend cupy has no kernel for the risk scenarios "
                                      "yet; use run.backend: numpy or auto")  # fmt: skip
    batch = run["batch_scenarios"]
    return {**run, "backend": "numpy",
            "batch_scenarios": AUTO_BATCH_SCENARIOS if batch is None else batch}  # fmt: skip


def build_risk(data: dict[str, Any]) -> RiskConfig:
    """Validate a fully merged dict and build the RiskConfig."""
    values = validate_risk(data)
    portfolio = values["portfolio"]
    return RiskConfig(
        name=values["name"],
        portfolio=PortfolioSpec(
            value=portfolio["value"],
            assets=tuple(AssetSpec(**asset) for asset in portfolio["assets"]),
            correlation=portfolio["correlation"],
            options=tuple(OptionPosition(**option) for option in portfolio["options"]),
        ),
        risk=RiskSettings(**values["risk"]),
        run=RiskRunSpec(**resolve_risk_run(values["run"])),
    )


def load_risk_config(source: RiskSource = None,
                     overrides: Iterable[tuple[str, Any]] = ()) -> RiskConfig:  # fmt: skip
    """Defaults, then ``source`` (a YAML path, a risk preset name, a dict in the schema, or
    None), then ``overrides`` (``("risk.scenarios", 100000)``), validated and resolved."""
    data = risk_defaults()
    if isinstance(source, Mapping):
        data = merge(data, source)
    elif source is not None:
        data = merge(data, read_yaml_file(source, RISK_PRESETS))
    return build_risk(apply_overrides(data, overrides))


def load_risk_config_text(text: str) -> RiskConfig:
    """A risk config stored as YAML text (the ``config`` attribute of a risk result)."""
    return build_risk(merge(risk_defaults(), parse_yaml(text, "the stored config")))
