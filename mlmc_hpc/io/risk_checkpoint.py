"""Checkpoints of a risk run: the ``checkpoint`` group of an unfinished risk result.

After every iteration (and on a stop) the master rewrites the result file with
``finished = false`` and this group. Batches are merged strictly in batch order, so the
state is the merged summary of batches 0..next_batch-1; batches that completed beyond a
gap when the run stopped are recomputed on resume. The continued run ends bit-identical
to one never interrupted (same seed and batch size).

Group ``checkpoint`` (datasets): format (1), next_batch, target (the iteration's
scenarios), n, moments (sum, sum of squares, min, max, threshold T), counts (N_BINS),
tail (the kept losses above T, sorted), checksum (mlmc_hpc.io.integrity).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config.risk_loading import load_risk_config_text
from ..config.risk_schema import RiskConfig
from ..core.tail import N_BINS, RiskState, TailSums
from ..errors import ResumeError
from .checkpoint import config_differences
from .integrity import checksum
from .risk_result import RiskResult

FORMAT = 1
FREE_KEYS = ("name", "run.output", "run.end_margin_s", "run.stall_factor", "run.stall_floor_s",
             "run.progress_s")  # fmt: skip


def risk_checkpoint_group(state: RiskState) -> dict[str, np.ndarray]:
    """The state as the ``checkpoint`` group (module docstring)."""
    sums = state.sums
    return {
        "format": np.int64(FORMAT),
        "next_batch": np.int64(state.next_batch),
        "target": np.int64(state.target),
        "n": np.int64(sums.n),
        "moments": np.array([sums.total, sums.total_sq, sums.low, sums.high, sums.threshold]),
        "counts": sums.counts.copy(),
        "tail": sums.settle().copy(),
    }


@dataclass
class RiskResume:
    """What a continued risk run starts from."""

    state: RiskState
    batches: dict[str, np.ndarray] = field(default_factory=dict)
    elapsed_s: float = 0.0
    resumed: int = 0


def damage(group: dict[str, Any], iterations: dict[str, Any]) -> str | None:
    """What is wrong with a risk checkpoint's fields, or None."""
    for key in ("format", "next_batch", "target", "n", "moments", "counts", "tail"):
        if key not in group:
            return f"{key} is missing"
    shapes = {"next_batch": (), "target": (), "n": (), "moments": (5,), "counts": (N_BINS,)}
    for key, shape in shapes.items():
        if np.shape(group[key]) != shape:
            return f"{key} has shape {np.shape(group[key])}"
    if min(int(group["next_batch"]), int(group["target"]), int(group["n"])) < 0:
        return "a count is negative"
    if np.any(np.asarray(group["counts"]) < 0) or int(np.sum(group["counts"])) != int(group["n"]):
        return "the histogram does not count the scenarios"
    tail = np.asarray(group["tail"], dtype=np.float64)
    if tail.ndim != 1 or not np.all(np.isfinite(tail)) or np.any(np.diff(tail) < 0):
        return "the kept losses are not finite and sorted"
    if len(tail) and tail[0] <= float(group["moments"][4]):
        return "a kept loss is not above the threshold"
    lengths = {len(np.atleast_1d(iterations.get(k, []))) for k in ("scenarios", "seconds")}
    return "the iterations table is damaged" if len(lengths) != 1 else None


def read_risk_checkpoint(path: str | Path, config: RiskConfig) -> RiskResume:
    """The saved state of an unfinished risk run made with the same settings as ``config``."""
    path = Path(path)
    if not path.is_file():
        raise ResumeError(f"--resume: {path} does not exist; run without --resume to start")
    try:
        saved = RiskResult.load(path)
    except (OSError, KeyError, TypeError) as exc:
        raise ResumeError(f"--resume: {path} is not a readable risk result ({exc})") from None
    if saved.finished or not saved.checkpoint:
        raise ResumeError(f"--resume: {path} holds a finished risk run; nothing to resume")
    group = saved.checkpoint
    problem = damage(group, saved.iterations)
    if problem is None:
        groups = {"iterations": saved.iterations, "batches": saved.batches, "checkpoint": group}
        if str(group.get("checksum", "")) != checksum(saved.config, saved.wall_time_s,
                                                      saved.resumed, groups):  # fmt: skip
            problem = "checksum mismatch"
    try:
        stored = load_risk_config_text(saved.config)
    except ValueError:
        problem = problem or "its config cannot be read"
    if problem is not None or int(group["format"]) != FORMAT:
        raise ResumeError(f"--resume: {path} holds a damaged checkpoint "
                          f"({problem or 'unknown format'}); start a new run with another "
                          f"--output")  # fmt: skip
    differences = config_differences(stored, config, FREE_KEYS)
    if differences:
        raise ResumeError(f"--resume: the config does not match {path}: {differences[0]}; "
                          f"rerun with the original settings or start a new run with another "
                          f"--output")  # fmt: skip
    total, total_sq, low, high, threshold = (float(x) for x in group["moments"])
    sums = TailSums(int(group["n"]), total, total_sq, low, high, threshold,
                    np.asarray(group["counts"], dtype=np.int64).copy(),
                    np.asarray(group["tail"], dtype=np.float64).copy())  # fmt: skip
    iterations = [(int(n), float(s), float(w)) for n, s, w in zip(
        saved.iterations["scenarios"], saved.iterations["seconds"],
        saved.iterations["worst_ratio"], strict=True)]  # fmt: skip
    state = RiskState(sums, int(group["next_batch"]), int(group["target"]), iterations)
    return RiskResume(state, saved.batches, saved.wall_time_s, saved.resumed + 1)
