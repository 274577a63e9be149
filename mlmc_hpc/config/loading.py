"""Loading: packaged defaults < config (file, preset or dict) < overrides, validated once.

The result is the fully resolved :class:`~mlmc_hpc.config.schema.Config` (no "auto" left,
see :mod:`mlmc_hpc.config.resolve`); every caller gets the same object, so no caller ever
resolves anything again.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .checks import text_keys, validate
from .resolve import resolve_run
from .schema import Config, MLMCSettings, OptionSpec, RunSpec
from .values import show, unknown_key_message
from .yamlfile import load_yaml, read_config_text

ConfigSource = str | Path | Mapping[str, Any] | None
_PACKAGE = "mlmc_hpc.config"


def packaged_yaml(name: str) -> dict[str, Any]:
    """A YAML file shipped in this package (``defaults.yaml``, ``presets/spy.yaml``), parsed
    once per process (a fresh deep copy each call: callers may change it)."""
    return copy.deepcopy(_parsed(name))


@functools.lru_cache(maxsize=64)
def _parsed(name: str) -> Any:
    folder, _, file = name.rpartition("/")
    root = resources.files(_PACKAGE)
    return yaml.safe_load((root.joinpath(folder) if folder else root).joinpath(file).read_text())


def packaged_defaults() -> dict[str, Any]:
    """The commented ``defaults.yaml`` shipped in the package, as a dict."""
    return packaged_yaml("defaults.yaml")


PRESETS = ("presets", "preset")  # the pricer's (folder, word); the risk command has its own


def preset_names(presets: tuple[str, str] = PRESETS) -> list[str]:
    """Names of the presets shipped in the package (``--config NAME``), in the folder
    ``presets[0]``."""
    folder = resources.files(_PACKAGE).joinpath(presets[0])
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def preset_text(name: str, presets: tuple[str, str] = PRESETS) -> str:
    """The YAML text of a packaged preset; ConfigError naming the presets if unknown."""
    names = preset_names(presets)
    if name not in names:
        raise ConfigError(f"config file not found: {name} (nor a {presets[1]}: "
                          f"{', '.join(names)})")  # fmt: skip
    return resources.files(_PACKAGE).joinpath(presets[0]).joinpath(f"{name}.yaml").read_text()


def preset_data(name: str, presets: tuple[str, str] = PRESETS) -> dict[str, Any]:
    """The mapping of a packaged preset (ConfigError naming the presets if unknown)."""
    return parse_yaml(preset_text(name, presets), f"preset {name}")


def parse_yaml(text: str, origin: str) -> dict[str, Any]:
    """A YAML mapping; syntax errors become one-line ConfigErrors naming ``origin``."""
    try:
        data = load_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = (exc.problem or str(exc)).strip()
        raise ConfigError(f"YAML syntax error in {origin}{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error in {origin}: {str(exc).splitlines()[0]}") from None
    except ConfigError as exc:  # a duplicate key or deep nesting (StrictLoader)
        raise ConfigError(f"{exc} in {origin}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{origin} must hold a mapping with sections name, option, mlmc, run; "
            f"got a {type(data).__name__}"
        )
    return data


def read_yaml_file(path: str | Path, presets: tuple[str, str] = PRESETS) -> dict[str, Any]:
    """Parse a config file, or the packaged preset of that name when no such file exists
    and the name has no folder or suffix (``spy``; ``presets``: which presets)."""
    name = str(path)
    if not os.path.lexists(name) and os.sep not in name and "." not in name:
        return preset_data(name, presets)
    path = Path(path)
    return parse_yaml(read_config_text(path), str(path))


def parse_assignment(text: str) -> tuple[str, Any]:
    """``section.key=value`` from ``--set``; the value is parsed as YAML (``0.1``, ``null``),
    except for string keys (``name``, ``run.output``), which keep the text as typed."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects section.key=value (e.g. mlmc.eps=0.001), got {text!r}")
    if key.strip() in text_keys():
        return key.strip(), value
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip(), parsed


def merge(base: dict[str, Any], update: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Recursive merge of ``update`` into a copy of ``base``; unknown keys are refused."""
    merged = dict(base)
    for key, value in update.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            raise ConfigError(unknown_key_message(dotted, [f"{prefix}{k}" for k in base]))
        if isinstance(base[key], dict):
            if not isinstance(value, Mapping):
                keys = ", ".join(base[key])
                raise ConfigError(f"{dotted} must be a mapping with keys {keys}; got {show(value)}")
            merged[key] = merge(base[key], value, prefix=f"{dotted}.")
        else:
            merged[key] = value
    return merged


def apply_overrides(data: dict[str, Any], overrides: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Apply ``("section.key", value)`` pairs in order (later ones win)."""
    for dotted, value in overrides:
        nested: Any = value
        for part in reversed(dotted.split(".")):
            nested = {part: nested}
        data = merge(data, nested)
    return data


def build(data: dict[str, Any], probe: bool = True) -> Config:
    """Validate a fully merged dict, settle its ``auto`` values and build the Config.
    ``probe=False`` keeps an explicit backend as written (a stored, resolved config)."""
    values = resolve_run(validate(data), probe)
    return Config(
        name=values["name"],
        option=OptionSpec(**values["option"]),
        mlmc=MLMCSettings(**values["mlmc"]),
        run=RunSpec(**values["run"]),
    )


def load_config(
    source: ConfigSource = None, overrides: Iterable[tuple[str, Any]] = (), probe: bool = True
) -> Config:
    """Defaults, then ``source``, then ``overrides`` (``("mlmc.eps", 0.001)``), validated and
    resolved. ``source``: a YAML path, a packaged preset name (``"spy"``), a dict in the YAML
    schema (sections may be partial), or None for the defaults alone. ``probe=False`` keeps an
    explicit ``run.backend`` unchecked (for checks that must come before the GPU's)."""
    data = packaged_defaults()
    if isinstance(source, Mapping):
        data = merge(data, source)
    elif source is not None:
        data = merge(data, read_yaml_file(source))
    return build(apply_overrides(data, overrides), probe)


def load_config_text(text: str) -> Config:
    """A config stored as YAML text (the ``config`` attribute of a result), validated."""
    return build(merge(packaged_defaults(), parse_yaml(text, "the stored config")), probe=False)


def preset_config(name: str) -> Config:
    """A packaged preset by name, never a file of that name in the working directory."""
    return build(merge(packaged_defaults(), preset_data(name)))
