"""A result's tables as flat columns: for pandas, xarray and ``report --csv``.

A group of a result (``levels``, ``iterations``, ``batches``; ``convergence`` and
``complexity`` of a test file; ``levels`` of a risk file) is a dict of equally long
arrays; :func:`flat_columns` splits the 2-D ones (``levels/sums``,
``iterations/samples_added``) into one column each, and :func:`write_csv` writes them.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .metadata import dimensions


def flat_columns(table: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """1-D columns: ``sums`` (n x 8) becomes ``sums_0`` .. ``sums_7``; 3-D arrays are left
    out (``randomisation_sums``: read it from the file or the result's dict)."""
    columns: dict[str, np.ndarray] = {}
    for name, values in table.items():
        array = np.asarray(values)
        if array.ndim == 1:
            columns[name] = array
        elif array.ndim == 2:
            columns.update((f"{name}_{j}", array[:, j]) for j in range(array.shape[1]))
    return columns


def to_xarray(table: Mapping[str, Any], group: str, attrs: Mapping[str, Any],
              first_axis: str | None = None) -> Any:  # fmt: skip
    """The table as an ``xarray.Dataset`` with named dimensions (``level``, ``sum``, ...)
    and ``attrs`` (the root attributes)."""
    try:
        import xarray
    except ImportError:
        raise ImportError("to_xarray needs xarray: pip install xarray") from None
    variables = {}
    for name, values in table.items():
        array = np.asarray(values)
        names = dimensions(group, name, array.ndim)
        if first_axis and array.ndim:
            names = (first_axis, *names[1:])
        variables[name] = (names, array)
    plain = {k: v for k, v in attrs.items() if isinstance(v, str | int | float | bool)}
    return xarray.Dataset(variables, attrs=plain)


def write_csv(tables: Mapping[str, Mapping[str, Any]], directory: str | Path, stem: str,
              axes: Mapping[str, str] | None = None) -> list[Path]:  # fmt: skip
    """``<stem>_<table>.csv`` in ``directory`` for each non-empty table (written to a temp
    file and renamed, like every output), led by a row-index column named by the table's
    first dimension (``level``, ``iteration``; ``axes`` overrides it) unless it has one."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables.items():
        columns = flat_columns(table)
        if not columns:
            continue
        axis = (axes or {}).get(name) or dimensions(name, "", 1)[0]
        if axis not in columns:
            rows = len(next(iter(columns.values())))
            columns = {axis: np.arange(rows), **columns}
        path = directory / f"{stem}_{name}.csv"
        temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(temporary, "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(columns)
            writer.writerows(zip(*(_cells(v) for v in columns.values()), strict=True))
        os.replace(temporary, path)
        written.append(path)
    return written


def _cells(values: np.ndarray) -> list[Any]:
    """Exact text for floats (repr round-trips), plain text for the rest."""
    if values.dtype.kind == "f":
        return [repr(float(v)) for v in values]
    return [v.item() if isinstance(v, np.generic) else v for v in values]
