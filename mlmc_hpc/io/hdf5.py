"""HDF5 access: the only module that opens h5py.

Files are written atomically (a temp file beside the target, then ``os.replace``), so a
reader or a crash never sees half a file, and a failed write (a full disk) is one
:class:`~mlmc_hpc.errors.OutputWriteError` naming the path and the errno;
:func:`read_hdf5` returns plain Python and NumPy values; :func:`file_kind` tells a run
result, a test result and anything else apart.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, OutputWriteError, ResumeError
from .metadata import DATASETS, FORMAT_VERSION, ROOT, dimensions

INDEX_MARK = "mlmc_hpc_index"  # a dimension scale written only to name an axis
INDEX_LIMIT = 4096  # longer axes are named without writing their 0..n-1 index


Contents = tuple[dict[str, Any], dict[str, dict]]  # (attributes, {group: {dataset: array}})


def write_hdf5(path: str | Path, attrs: dict[str, Any], groups: dict[str, dict],
               axes: dict[str, tuple[str, ...]] | None = None,
               nested: dict[str, Contents] | None = None) -> Path:  # fmt: skip
    """Root attributes and groups of datasets, built in memory, written to a temp file beside
    ``path`` and renamed over it, so the target is only ever replaced by a complete file.
    HDF5 never touches the disk itself (it can crash when a write fails as it closes the
    file): the bytes are written, flushed and synced by Python, which reports a full disk.

    The file describes itself (:mod:`mlmc_hpc.io.metadata`): ``format_version``, units and
    descriptions, and dimension scales naming every axis outside ``checkpoint`` (``axes``
    overrides a group's first-axis name, e.g. ``{"levels": ("confidence",)}``). ``nested``
    writes more such contents below the root, e.g. ``{"contracts/c1": (attrs, groups)}``."""
    import h5py

    path = Path(path)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        h5.attrs["format_version"] = FORMAT_VERSION
        fill(h5, attrs, groups, axes)
        for name, (sub_attrs, sub_groups) in (nested or {}).items():
            fill(h5.require_group(name), sub_attrs, sub_groups, axes)
    return atomic_write(path, buffer.getbuffer())


def fill(node: Any, attrs: dict[str, Any], groups: dict[str, dict],
         axes: dict[str, tuple[str, ...]] | None = None) -> None:  # fmt: skip
    """Attributes, their units and descriptions, and groups of described datasets with
    named axes, into an h5py file or group ``node``."""
    import h5py

    for name, value in attrs.items():
        node.attrs[name] = _attribute(value)
    described = [name for name in attrs if name in ROOT]
    node.attrs["units"] = json.dumps({name: ROOT[name][0] for name in described})
    node.attrs["descriptions"] = json.dumps({name: ROOT[name][1] for name in described})
    for group_name, contents in groups.items():
        group = node.create_group(group_name)
        for key, values in contents.items():
            values = np.asarray(values)
            if values.dtype.kind == "U":
                values = values.astype(h5py.string_dtype())
            dataset = group.create_dataset(key, data=values)
            if f"{group_name}/{key}" in DATASETS:
                unit, description = DATASETS[f"{group_name}/{key}"]
                dataset.attrs["units"], dataset.attrs["description"] = unit, description
        if group_name != "checkpoint":
            _name_axes(group, (axes or {}).get(group_name))


def atomic_write(path: Path, data: Any) -> Path:
    """``data`` (bytes) to a temp file beside ``path``, synced, then renamed over it."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise OutputWriteError(f"cannot write {path}: {write_failure(error)}; "
                               f"the file that was there is intact") from None  # fmt: skip
    finally:
        if temporary.exists():
            temporary.unlink()
    return path


def _name_axes(group: Any, override: tuple[str, ...] | None) -> None:
    """Attach a dimension scale to every axis of every dataset of ``group``: an existing
    1-D dataset of the axis's name and length (``batch``, ``eps``, ``confidence``), else a
    new index dataset 0..n-1 marked :data:`INDEX_MARK` (left out by :func:`read_hdf5`).
    Past :data:`INDEX_LIMIT` entries the index is a netCDF dimension without values (no
    storage: a risk file's tail of a million losses is not doubled by its index)."""
    for key in list(group):
        dataset = group[key]
        names = dimensions(group.name.rsplit("/", 1)[-1], key, dataset.ndim)
        if override and dataset.ndim == len(override):
            names = override
        for axis, name in enumerate(names):
            size = dataset.shape[axis]
            scale = group.get(name)
            if scale is None and size > INDEX_LIMIT:
                scale = group.create_dataset(name, shape=(size,), dtype=np.float32)
                scale.make_scale(f"This is a netCDF dimension but not a netCDF variable.{size:10d}")
                scale.attrs[INDEX_MARK] = True
            elif scale is None:
                scale = group.create_dataset(name, data=np.arange(size, dtype=np.int64))
                scale.attrs[INDEX_MARK] = True
            if scale.ndim != 1 or scale.shape[0] != size:
                continue  # a column of another length: this axis stays unnamed
            if not scale.is_scale:
                scale.make_scale(name)
            if scale is not dataset and scale.name != dataset.name:
                dataset.dims[axis].attach_scale(scale)


def write_failure(error: OSError) -> str:
    """What went wrong, as ``strerror (errno N)``: from the error itself, or from the
    ``errno = N`` h5py puts in its message."""
    number = error.errno
    if number is None:
        found = re.search(r"errno = (\d+)", str(error))
        number = int(found.group(1)) if found else None
    if number is None:
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"{os.strerror(number)} (errno {number})"


def read_hdf5(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """(root attributes, {group: {dataset: array}}) of a file written by :func:`write_hdf5`."""
    import h5py

    with h5py.File(path, "r") as h5:
        return read_node(h5)


def read_node(node: Any) -> Contents:
    """(attributes, {group: {dataset: array}}) of an h5py file or group written by
    :func:`fill`; subgroups deeper than one level are not read."""
    import h5py

    attrs = {name: _plain(value) for name, value in node.attrs.items()
             if name not in ("format_version", "units", "descriptions")}  # fmt: skip
    groups = {
        name: {key: _decoded(item[key][()]) for key in item
               if isinstance(item[key], h5py.Dataset) and INDEX_MARK not in item[key].attrs}
        for name, item in node.items()
        if isinstance(item, h5py.Group)
    }  # fmt: skip
    return attrs, groups


def _attribute(value: Any) -> Any:
    """Integers above int64's range (seeds up to 2**64 - 1) as uint64, exactly."""
    if isinstance(value, int) and not isinstance(value, bool) and value > np.iinfo(np.int64).max:
        return np.uint64(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decoded(values: np.ndarray | bytes) -> np.ndarray:
    if isinstance(values, bytes):  # a scalar string dataset (a checksum)
        return np.array(values.decode())
    if values.dtype.kind in ("O", "S"):
        return np.array([v.decode() if isinstance(v, bytes) else v for v in values])
    return values


def file_kind(path: str | Path) -> str | None:
    """``"test"``, ``"run"``, ``"checkpoint"`` (an unfinished run), ``"risk"``,
    ``"risk_checkpoint"`` (an unfinished risk run) or None (another HDF5 file); OSError
    when ``path`` is not a readable HDF5 file."""
    import h5py

    with h5py.File(path, "r") as h5:
        if "convergence" in h5:
            return "test"
        if "book" in h5 and "contracts" in h5:
            return "book_checkpoint" if not h5.attrs.get("finished", True) else "book"
        if "histogram" in h5 and "tail" in h5:
            return "risk_checkpoint" if "checkpoint" in h5 else "risk"
        if "levels" not in h5:
            return None
        return "checkpoint" if "checkpoint" in h5 else "run"


def check_writable(output: str | Path, overwrite: bool = False, resume: bool = False) -> None:
    """Refuse, before any work, an output path a result could not or may not be written to.

    What is already there may be replaced only when it is a result of this program: never
    a directory, a FIFO or device, a text file (the run's own config, say) or another HDF5
    file; a finished result (``run`` or ``test`` file) only with ``overwrite`` (``--overwrite``);
    an unfinished run only by continuing it (``resume``: ``--resume``, which
    :func:`~mlmc_hpc.io.checkpoint.read_checkpoint` then checks).
    """
    path = Path(output)
    refuse_directory(output)
    if path.exists() or path.is_symlink():
        kind = existing_kind(path)
        if kind in ("run", "test", "risk", "book") and not overwrite:
            raise ConfigError(f"run.output {output} holds a finished {kind} result; pass "
                              f"--overwrite to replace it, or write elsewhere")  # fmt: skip
        if kind in ("checkpoint", "risk_checkpoint", "book_checkpoint") and not resume:
            raise ResumeError(f"run.output {output} holds an unfinished run; continue it with "
                              f"--resume, or write elsewhere with --output")  # fmt: skip
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"run.output {output} cannot be written: {parent} is not a writable directory"
        )


def refuse_directory(output: str | Path) -> None:
    """ConfigError unless ``output`` names a file (not a directory, not ``.`` or ``/``)."""
    if not Path(output).name or Path(output).is_dir():
        raise ConfigError(
            f"run.output must be a file path such as results/run.h5, got directory {output}"
        )


def existing_kind(path: Path) -> str:
    """``run``, ``test`` or ``checkpoint`` for a result of this program at ``path``; a
    ConfigError saying what is there for anything else."""
    mode = os.stat(path).st_mode if path.exists() else 0
    if not stat.S_ISREG(mode):
        what = "a broken link" if not path.exists() else "not a regular file"
        raise ConfigError(f"run.output {path} is {what}; refusing to replace it")
    try:
        kind = file_kind(path)
    except OSError:
        kind = None
        what = "a file that is not HDF5"
    else:
        what = "an HDF5 file that is not an mlmc_hpc result"
    if kind is None:
        raise ConfigError(f"run.output {path} holds {what}; refusing to replace it "
                          f"(write elsewhere with --output)")  # fmt: skip
    return kind
