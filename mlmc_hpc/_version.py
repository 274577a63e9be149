"""The package version: the one source (pyproject.toml reads it, results store it)."""

__version__ = "0.6.0"
