"""Strict, bounded YAML for config files: what is read, and how it is parsed.

A config is a few hundred bytes of nested mappings. So a config file must be a regular
file of at most :data:`MAX_CONFIG_BYTES` (``--config /dev/zero`` or a FIFO would read
until memory runs out), a mapping may not repeat a key (YAML lets the last one silently
win: ``eps: 0.01`` then ``eps: 0.1`` further down, or two ``mlmc:`` sections), and nesting
deeper than :data:`MAX_DEPTH` is refused. Every refusal is a one-line ConfigError naming
the file and, where there is one, the line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20  # 1 MiB: a thousand times a full config
MAX_DEPTH = 32  # mappings and lists inside each other


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and deep nesting."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """As SafeLoader's, but a key that appears twice is a ConfigError naming both lines."""
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int | float | bool) and key in seen:
                raise ConfigError(f"duplicate key {key} on line {line} (first on line "
                                  f"{seen[key]}): each key may appear once")  # fmt: skip
            if isinstance(key, str | int | float | bool):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Count the depth while composing; refuse beyond MAX_DEPTH."""
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ConfigError(f"nesting deeper than {MAX_DEPTH} levels on line "
                                  f"{mark.line + 1}: a config is sections of keys")  # fmt: skip
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(text: str) -> Any:
    """Parse ``text`` with :class:`StrictLoader` (yaml errors pass through)."""
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass


def read_config_text(path: Path) -> str:
    """The text of a config file: a regular file of at most MAX_CONFIG_BYTES, UTF-8."""
    try:
        with open(path, "rb", opener=_nonblocking) as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if not stat.S_ISREG(mode):
                kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
                raise ConfigError(f"config file {path} is {kind}; give a YAML file")
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory; give a YAML file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {path} is larger than {MAX_CONFIG_BYTES} bytes; "
                          f"a config is a few hundred")  # fmt: skip
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None


def _nonblocking(path: str | os.PathLike[str], flags: int) -> int:
    """Open without blocking, so a FIFO with no writer is refused instead of waited on."""
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))
