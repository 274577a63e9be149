"""Is a checkpoint intact? A checksum written with it, and every field checked on resume.

The ``checksum`` dataset of the ``checkpoint`` group is the SHA-256 of everything
``--resume`` reads: the stored config text, the elapsed wall time and resume count, and
the ``iterations``, ``batches`` and ``checkpoint`` groups (each dataset by name, dtype
kind, shape and bytes, strings joined). A flipped bit or an edited value changes it, so
a damaged checkpoint is refused instead of resumed to a different price. The fields are
also validated (shapes, non-negative counts, finite sums), which catches a checkpoint
written by a tool that recomputed the checksum.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.sums import N_SUMS

SIGNED = ("iterations", "batches", "checkpoint")


def _canonical(value: Any) -> bytes:
    array = np.asarray(value)
    if array.size == 0:  # an empty column reads back as float whatever it was written as
        return f"empty{array.shape}".encode()
    if array.dtype.kind in "USO":
        return "\x00".join(str(item) for item in array.ravel()).encode()
    kind = {"b": "?", "i": "<i8", "u": "<u8", "f": "<f8"}.get(array.dtype.kind)
    head = f"{array.dtype.kind}{array.shape}".encode()
    return head + (array.astype(kind) if kind else array).tobytes()


def checksum(config: str, wall_time_s: float, resumed: int,
             groups: Mapping[str, Mapping[str, Any]]) -> str:  # fmt: skip
    """SHA-256 (hex) of what a resume reads (module docstring); ``checkpoint/checksum``
    itself is left out."""
    digest = hashlib.sha256()
    digest.update(config.encode())
    digest.update(repr((float(wall_time_s), int(resumed))).encode())
    for name in SIGNED:
        for key in sorted(groups.get(name, {})):
            if (name, key) != ("checkpoint", "checksum"):
                digest.update(f"/{name}/{key}".encode())
                digest.update(_canonical(groups[name][key]))
    return digest.hexdigest()


SHAPES = {  # dataset: (dimensions, where L+1 = "levels" and k = "pending"), dtype kind
    "level_sums_hi": (("levels", N_SUMS), "f"), "level_sums_lo": (("levels", N_SUMS), "f"),
    "level_seconds": (("levels",), "f"), "extra": (("levels",), "i"), "rates": ((3,), "f"),
    "next_batch": (("any",), "i"), "pending_tasks": (("pending", 3), "i"),
    "pending_sums": (("pending", N_SUMS), "f"), "pending_seconds": (("pending",), "f"),
    "level_exact": (("levels",), "f"), "converged": ((), "b"),
    "qmc_sums_hi": (("levels", "randomisations", N_SUMS), "f"),
    "qmc_sums_lo": (("levels", "randomisations", N_SUMS), "f"),
    "qmc_seconds": (("levels", "randomisations"), "f"),
}  # fmt: skip
OPTIONAL = ("level_exact", "qmc_sums_hi", "qmc_sums_lo", "qmc_seconds")  # by version, method
MAY_BE_NAN = ("rates", "level_exact")  # rates: plain Monte Carlo; level_exact: sampled levels
ITERATION_COLUMNS = ("samples_added", "L", "bias_estimate", "variance_estimate", "seconds")


def damage(group: Mapping[str, Any], iterations: Mapping[str, Any]) -> str | None:
    """What is wrong with the fields of a ``checkpoint`` group and the ``iterations`` table
    a resume reads, or None."""
    lengths = {len(np.atleast_1d(iterations.get(key, []))) for key in ITERATION_COLUMNS}
    if len(lengths) != 1:
        return "the iterations table has columns of different lengths"
    for key, value in group.items():
        if np.asarray(value).dtype.kind not in "biufUSO":
            return f"{key} has type {np.asarray(value).dtype}"
    sizes: dict[str, int] = {}
    for key, (dimensions, kind) in SHAPES.items():
        if key not in group and key in OPTIONAL:
            continue
        if key not in group:
            return f"{key} is missing"
        array = np.asarray(group[key])
        if array.dtype.kind != kind and not (kind == "i" and array.dtype.kind == "u"):
            return f"{key} has type {array.dtype}"
        if array.ndim != len(dimensions):
            return f"{key} has shape {array.shape}"
        for size, dimension in zip(array.shape, dimensions, strict=True):
            if isinstance(dimension, int) and size != dimension:
                return f"{key} has shape {array.shape}"
            if isinstance(dimension, str) and sizes.setdefault(dimension, size) != size:
                return f"{key} has shape {array.shape}, unlike the other {dimension} fields"
        if kind == "b":
            continue
        finite = np.isfinite(array) | (np.isnan(array) if key in MAY_BE_NAN else False)
        if kind == "f" and not np.all(finite):
            return f"{key} holds NaN or inf"
        if kind == "i" and np.any(array < 0):
            return f"{key} holds negative counts"
    if "qmc_sums_hi" in group and "qmc_sums_lo" in group:
        points = np.asarray(group["qmc_sums_hi"])[..., 0] + np.asarray(group["qmc_sums_lo"])[..., 0]
        if np.any(points < 0):
            return "a randomisation's point count is negative"
    sums = np.asarray(group["level_sums_hi"]) + np.asarray(group["level_sums_lo"])
    if np.any(sums[:, 0] < 0) or np.any(sums[:, -1] < 0) or np.any(group["pending_sums"][:, 0] < 0):
        return "a sample count or cost is negative"
    return None


def signed(groups: dict[str, Any], config: str, wall_time_s: float,
           resumed: int) -> dict[str, Any]:  # fmt: skip
    """``groups`` as written: no ``checkpoint`` group when it is empty (finished), else the
    checkpoint with its ``checksum`` (a resume refuses a damaged one)."""
    groups = dict(groups)
    if not groups.get("checkpoint"):
        groups.pop("checkpoint", None)
        return groups
    signature = checksum(config, wall_time_s, resumed, groups)
    groups["checkpoint"] = {**groups["checkpoint"], "checksum": np.array(signature)}
    return groups
