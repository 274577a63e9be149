"""Checkpoints: the ``checkpoint`` group of an unfinished result file, and resuming.

After every iteration the master rewrites the result file (atomically) with
``finished = false`` and this group; an interrupted run adds the batches of its
unfinished iteration that did complete. ``--resume`` reads it back. Because batch b
of level l always draws the same stream and totals are kept with their Neumaier
compensation terms, the continued run ends with a result bit-identical to one that
was never interrupted (same seed and batch size).

Group ``checkpoint`` (datasets):
  format            1
  level_sums_hi/lo  (L+1) x 8 running sums and their compensation terms
  level_seconds     compute seconds per level
  level_exact       the known mean of a level that is not sampled (mlmc.level0 exact), NaN
                    where sampled (absent before 0.4.0: every level sampled)
  extra             the next request: samples to add per level
  rates             alpha, beta, gamma as last estimated
  converged         bias test passed on the last check
  next_batch        next batch index per level
  pending_tasks     k x 3 (level, batch, n_samples) of completed batches not yet merged
  pending_sums      k x 8 their sums;  pending_seconds  k
  checksum          SHA-256 of what a resume reads (mlmc_hpc.io.integrity; since 0.4.0, a
                    checkpoint without one is only validated field by field)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config.loading import load_config_text
from ..config.schema import Config, MLMCSettings
from ..core.driver import DriverState, IterationRecord
from ..core.mlqmc import QMCLevel, QMCState
from ..core.sums import LevelSums
from ..errors import ResumeError
from .integrity import checksum, damage
from .run_result import RunResult

FORMAT = 1
# Keys that may change between the interrupted run and its continuation.
FREE_KEYS = ("name", "run.output", "run.end_margin_s", "run.max_timesteps", "run.stall_factor",
             "run.stall_floor_s", "run.progress_s", "run.node_masters_above")  # fmt: skip
EXECUTOR_KEYS = ("next_batch", "pending_tasks", "pending_sums", "pending_seconds")


def checkpoint_group(
    state: DriverState | QMCState, executor: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The driver's state and the executor's snapshot as the ``checkpoint`` group (for
    MLQMC also the sums of every randomisation: ``qmc_sums_hi/lo`` (L+1) x R x 8 and
    ``qmc_seconds``, zeros for a known level)."""
    if isinstance(state, QMCState):
        return qmc_group(state, executor)
    hi, lo = zip(*(level.compensated() for level in state.levels), strict=True)
    group = {
        "format": np.int64(FORMAT),
        "level_sums_hi": np.array(hi),
        "level_sums_lo": np.array(lo),
        "level_seconds": np.array([level.seconds for level in state.levels]),
        "level_exact": np.array(
            [math.nan if lv.exact is None else lv.exact for lv in state.levels]
        ),
        "extra": np.asarray(state.extra, dtype=np.int64),
        "rates": np.array([state.alpha, state.beta, state.gamma]),
        "converged": np.bool_(state.converged),
    }
    group.update((key, executor[key]) for key in EXECUTOR_KEYS)
    return group


def qmc_group(state: QMCState, executor: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The MLQMC state as the ``checkpoint`` group (see :func:`checkpoint_group`)."""
    merged = DriverState([level.merged() for level in state.levels], state.extra, state.alpha,
                         np.nan, np.nan, state.converged)  # fmt: skip
    group = checkpoint_group(merged, executor)
    width = max(len(level.sums) for level in state.levels)
    empty = [LevelSums() for _ in range(width)]
    parts = [[s.compensated() for s in (level.sums or empty)] for level in state.levels]
    group["qmc_sums_hi"] = np.array([[hi for hi, _ in row] for row in parts])
    group["qmc_sums_lo"] = np.array([[lo for _, lo in row] for row in parts])
    group["qmc_seconds"] = np.array([[s.seconds for s in (level.sums or empty)]
                                     for level in state.levels])  # fmt: skip
    return group


@dataclass
class Resume:
    """What a continued run starts from: the driver's state, the executor's snapshot, the
    earlier batch records and wall time, and how often the run was resumed before."""

    state: DriverState | QMCState
    executor: dict[str, np.ndarray]
    batches: dict[str, np.ndarray] = field(default_factory=dict)
    elapsed_s: float = 0.0
    resumed: int = 0


QMC_FIELDS = ("qmc_sums_hi", "qmc_sums_lo", "qmc_seconds")


def qmc_problem(group: dict[str, np.ndarray], settings: MLMCSettings) -> str | None:
    """The randomisations' sums are there exactly for an mlqmc run, R of them (or why not)."""
    present = [key for key in QMC_FIELDS if key in group]
    if settings.method != "mlqmc":
        return f"{present[0]} belongs to mlmc.method mlqmc" if present else None
    if len(present) < len(QMC_FIELDS):
        return "the randomisations' sums are missing"
    if group["qmc_sums_hi"].shape[1] != settings.randomisations:
        return (f"it holds {group['qmc_sums_hi'].shape[1]} randomisations, its config "
                f"{settings.randomisations}")  # fmt: skip
    return None


def _load(path: Path, flag: str) -> RunResult:
    try:
        return RunResult.load(path)
    except (OSError, KeyError, TypeError) as exc:
        raise ResumeError(f"{flag}: {path} is not a readable mlmc_hpc result ({exc})") from None


def config_differences(stored: Any, current: Any, free: tuple[str, ...] = FREE_KEYS) -> list[str]:
    """Dotted keys whose values differ between two configs (anything with ``to_dict()``:
    a pricing or a risk config), ignoring the keys in ``free``."""
    old, new = _flatten(stored.to_dict()), _flatten(current.to_dict())
    return [
        f"{key}={old.get(key)!r} in the checkpoint, {new.get(key)!r} now"
        for key in sorted(set(old) | set(new))
        if key not in free and old.get(key) != new.get(key)
    ]


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def read_checkpoint(path: str | Path, config: Config) -> Resume:
    """The saved state of an unfinished run made with the same settings as ``config``."""
    path = Path(path)
    if not path.is_file():
        raise ResumeError(f"--resume: {path} does not exist; run without --resume to start")
    return resume_from(_load(path, "--resume"), config, str(path))


def resume_from(saved: RunResult, config: Config, path: str) -> Resume:
    """The saved state of the unfinished ``saved`` run (from ``path``: a file, or a book's
    contract), checked against ``config`` (ResumeError naming ``path`` otherwise)."""
    if saved.finished or not saved.checkpoint:
        raise ResumeError(
            f"--resume: {path} holds a finished run (price {saved.price:.6g}); nothing to resume"
        )
    group = saved.checkpoint
    if "format" not in group or np.asarray(group["format"]).dtype.kind not in "iu":
        raise ResumeError(f"--resume: {path} has a checkpoint without a format; not resumable")
    if int(group["format"]) != FORMAT:
        raise ResumeError(f"--resume: {path} has checkpoint format {int(group['format'])}")
    try:
        stored: Config | None = load_config_text(saved.config)
    except ValueError:
        stored = None
    problem = damage(group, saved.iterations) or (
        "its config cannot be read" if stored is None else qmc_problem(group, stored.mlmc)
    )
    if problem is None:
        signature = checksum(saved.config, saved.wall_time_s, saved.resumed,
                             {"iterations": saved.iterations, "batches": saved.batches,
                              "checkpoint": group})  # fmt: skip
        written = str(group.get("checksum", ""))
        if "level_exact" in group and not written:  # written by 0.4.0 or later: signed
            problem = "its checksum is missing"
        elif written and written != signature:
            problem = "checksum mismatch"
    if problem or stored is None:
        raise ResumeError(f"--resume: {path} holds a damaged checkpoint ({problem}); it "
                          f"cannot be resumed: start a new run with another --output")  # fmt: skip
    if "level_exact" not in group:  # written before 0.4.0: level 0 was sampled
        if config.mlmc.level0 != "sample":
            raise ResumeError(
                f"--resume: {path} was started by mlmc_hpc {saved.package_version}, which "
                f"sampled level 0; continue it with --set mlmc.level0=sample"
            )
        stored = dataclasses.replace(stored, mlmc=dataclasses.replace(stored.mlmc, level0="sample"))
    differences = config_differences(stored, config)
    if differences:
        raise ResumeError(
            f"--resume: the config does not match {path}: {differences[0]}; "
            f"rerun with the original settings or start a new run with another --output"
        )
    return Resume(
        state=_driver_state(group, saved.iterations),
        executor={key: group[key] for key in EXECUTOR_KEYS},
        batches=saved.batches,
        elapsed_s=saved.wall_time_s,
        resumed=saved.resumed + 1,
    )


def _driver_state(
    group: dict[str, np.ndarray], iterations: dict[str, np.ndarray]
) -> DriverState | QMCState:
    exact = group.get("level_exact", np.full(len(group["level_seconds"]), math.nan))
    levels = [
        LevelSums.restored(hi, lo, seconds, None if math.isnan(known) else float(known))
        for hi, lo, seconds, known in zip(
            group["level_sums_hi"], group["level_sums_lo"], group["level_seconds"], exact,
            strict=True,
        )
    ]  # fmt: skip
    alpha, beta, gamma = (float(rate) for rate in group["rates"])
    records = [
        IterationRecord(
            extra=[int(x) for x in added],
            L=int(L),
            bias=float(bias),
            variance=float(variance),
            seconds=float(seconds),
        )
        for added, L, bias, variance, seconds in zip(
            iterations["samples_added"],
            iterations["L"],
            iterations["bias_estimate"],
            iterations["variance_estimate"],
            iterations["seconds"],
            strict=True,
        )
    ]
    if "qmc_sums_hi" in group:
        return QMCState(
            [QMCLevel([], level.exact) if level.exact is not None else
             QMCLevel([LevelSums.restored(h, lo, sec) for h, lo, sec in
                       zip(hi_row, lo_row, sec_row, strict=True)])
             for level, hi_row, lo_row, sec_row in zip(levels, group["qmc_sums_hi"],
                                                       group["qmc_sums_lo"],
                                                       group["qmc_seconds"], strict=True)],
            np.asarray(group["extra"], dtype=np.int64), alpha, bool(group["converged"]),
            iterations=records,
        )  # fmt: skip
    return DriverState(
        levels=levels,
        extra=np.asarray(group["extra"], dtype=np.int64),
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        converged=bool(group["converged"]),
        iterations=records,
    )
