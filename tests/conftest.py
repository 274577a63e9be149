"""Pytest fixtures shared by every tier (helpers that tests import live in tests.helpers)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml


def pytest_addoption(parser):
    """``--run-slow``: also run the tests marked slow (the nightly target, CONTRIBUTING)."""
    parser.addoption("--run-slow", action="store_true", help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    """Skip the tests marked slow unless --run-slow is given."""
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow (nightly)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def write_config(tmp_path):
    """Write a YAML config (dict or text) to tmp_path and return its path."""

    def write(content, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
        return path

    return write
