"""Text tables of run results: the one per-level table and the side-by-side comparison.

``run`` prints :func:`level_table` after a run; ``report`` prints it for each file, with a
header, and :func:`side_by_side` across runs (the study's per-level runtime and timestep
tables). Nothing is computed here beyond shares and totals of stored columns.
"""

from __future__ import annotations

import numpy as np

from ..io.run_result import RunResult


def level_table(result: RunResult) -> str:
    """One row per level: N_l, mean of Pf - Pc, variance, cost per sample, timesteps,
    compute seconds and share of the compute time; then the totals. An exact level 0
    shows ``exact`` for N_l and its known mean."""
    lv = result.levels
    seconds = np.asarray(lv["compute_time_s"], dtype=float)
    total_s = float(seconds.sum())
    lines = [
        f"{'level':>5} {'N_l':>12} {'mean Pf-Pc':>13} {'variance':>10} {'cost':>8} "
        f"{'timesteps':>11} {'seconds':>9} {'share':>6}"
    ]
    for level in range(len(lv["n_samples"])):
        share = f"{100 * seconds[level] / total_s:5.1f}%" if total_s else ""
        if level == 0 and result.level0 == "exact" and result.method != "mc":
            lines.append(f"{0:5d} {'exact':>12} {lv['mean'][0]:13.6e} {0.0:10.3e} {'-':>8} "
                         f"{0.0:11.4e} {seconds[0]:9.3f} {share:>6}")  # fmt: skip
            continue
        lines.append(
            f"{level:5d} {int(lv['n_samples'][level]):12d} {lv['mean'][level]:13.6e} "
            f"{lv['variance'][level]:10.3e} {int(lv['cost_per_sample'][level]):8d} "
            f"{float(lv['timesteps'][level]):11.4e} {seconds[level]:9.3f} {share:>6}"
        )
    lines.append(
        f"{'total':>5} {int(lv['n_samples'].sum()):12d} {'':>13} {'':>10} {'':>8} "
        f"{float(lv['timesteps'].sum()):11.4e} {total_s:9.3f} {'100.0%' if total_s else '':>6}"
    )
    return "\n".join(lines)


def run_label(result: RunResult) -> str:
    """Short column label of a run: name, eps, workers."""
    return f"{result.name} eps={result.eps:g} w={result.n_workers}"


def run_header(path: str, result: RunResult) -> str:
    """Two lines naming a run's file, price and settings (the report's per-run heading)."""
    state = "" if result.finished else "  (UNFINISHED: resume with --resume)"
    return (
        f"== {result.name}  {path}{state}\n"
        f"   price {result.price:.6f} +- {result.std_error:.6f}  eps {result.eps:g}  "
        f"L {result.L}  {result.method}  backend {result.backend}  workers {result.n_workers}  "
        f"wall {result.wall_time_s:.2f} s"
    )


def side_by_side(runs: list[tuple[str, RunResult]], column: str, title: str, fmt: str) -> str:
    """Rows = levels, columns = runs (the study's per-level runtime/timestep tables)."""
    labels = [run_label(r) for _, r in runs]
    width = max(14, *(len(label) for label in labels))
    depth = max(len(r.levels[column]) for _, r in runs)
    lines = [title, f"{'level':>5} " + " ".join(f"{label:>{width}}" for label in labels)]
    for level in range(depth):
        cells = []
        for _, r in runs:
            values = r.levels[column]
            cells.append(format(float(values[level]), fmt) if level < len(values) else "-")
        lines.append(f"{level:5d} " + " ".join(f"{c:>{width}}" for c in cells))
    totals = [format(float(np.sum(r.levels[column])), fmt) for _, r in runs]
    lines.append(f"{'total':>5} " + " ".join(f"{c:>{width}}" for c in totals))
    return "\n".join(lines)
