"""The config: schema dataclasses, validation, loading (defaults < file < overrides),
resolution of ``auto`` values, the commented ``defaults.yaml`` and the presets."""

from ..errors import ConfigError
from .loading import load_config, load_config_text, parse_assignment, preset_names
from .schema import Config, MLMCSettings, OptionSpec, RunSpec

__all__ = [
    "Config",
    "ConfigError",
    "MLMCSettings",
    "OptionSpec",
    "RunSpec",
    "load_config",
    "load_config_text",
    "parse_assignment",
    "preset_names",
]
