"""Pytest fixtures shared by every tier (helpers that tests import live in tests.helpers)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml


@pytest.fixture
def write_config(tmp_path):
    """Write a YAML config (dict or text) to tmp_path and return its path."""

    def write(content, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
        return path

    return write
