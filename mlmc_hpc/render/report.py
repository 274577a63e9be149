"""The ``report`` text: one table per run, side-by-side tables for several runs, and test
files in Giles' layout."""

from __future__ import annotations

from ..io.run_result import RunResult
from ..io.test_result import TestResult
from .giles import giles_layout
from .tables import level_table, run_header, side_by_side


def report_text(runs: list[tuple[str, RunResult]], tests: list[TestResult]) -> str:
    """Every table the inputs allow, separated by blank lines."""
    blocks = [run_header(path, result) + "\n" + level_table(result) for path, result in runs]
    if len(runs) > 1:
        blocks.append(side_by_side(runs, "compute_time_s", "Per-level runtime (s)", ".3f"))
        blocks.append(side_by_side(runs, "timesteps", "Per-level timesteps", ".4e"))
    blocks += [giles_layout(test) for test in tests]
    return "\n\n".join(blocks)
