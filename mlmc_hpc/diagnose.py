"""The ``test`` command: Giles' convergence and complexity tests, printed in his layout
and saved to HDF5 (root attrs alpha, beta, gamma; groups convergence, complexity and,
with --repeat, repeat). Runs on one process or, under mpiexec, on all workers."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .app import resolved
from .backend import resolve_backend
from .cli import EXIT_OK, check_output_path, config_from_args
from .config import Config, ConfigError
from .diagnostics import (
    CONVERGENCE_COLUMNS,
    ComplexityRow,
    complexity_test,
    convergence_test,
    repeat_summary,
)
from .options import reference_price
from .results import read_hdf5, write_hdf5

TEST_GROUPS = ("convergence", "complexity", "repeat")


@dataclass
class TestResult:
    """In memory and on disk (same interface as :class:`~mlmc_hpc.results.RunResult`)."""

    __test__ = False  # not a pytest class

    name: str
    config: str
    alpha: float
    beta: float
    gamma: float
    beta_std_error: float
    N: int
    L: int
    M: int
    theta: float
    reference_price: float
    backend: str
    n_workers: int
    repeat: int
    wall_time_s: float
    warnings: str = ""
    created: str = ""
    package_version: str = __version__
    convergence: dict[str, np.ndarray] = field(default_factory=dict)
    complexity: dict[str, np.ndarray] = field(default_factory=dict)
    repeat_runs: dict[str, np.ndarray] = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        attrs = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _GROUP_FIELDS}
        groups = {"convergence": self.convergence, "complexity": self.complexity}
        if self.repeat_runs:
            groups["repeat"] = self.repeat_runs
        return write_hdf5(path, attrs, groups)

    @classmethod
    def load(cls, path: str | Path) -> TestResult:
        attrs, groups = read_hdf5(path)
        values: dict[str, Any] = {k: v for k, v in attrs.items() if k in _ATTR_NAMES}
        values.update(convergence=groups.get("convergence", {}),
                      complexity=groups.get("complexity", {}),
                      repeat_runs=groups.get("repeat", {}))  # fmt: skip
        return cls(**values)


_GROUP_FIELDS = ("convergence", "complexity", "repeat_runs")
_ATTR_NAMES = {f.name for f in fields(TestResult)} - set(_GROUP_FIELDS)


def complexity_group(rows: list[ComplexityRow]) -> dict[str, np.ndarray]:
    width = max(len(row.N_l) for row in rows)
    counts = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        counts[i, : len(row.N_l)] = row.N_l
    return {
        "eps": np.array([r.eps for r in rows]), "value": np.array([r.value for r in rows]),
        "mlmc_cost": np.array([r.mlmc_cost for r in rows]),
        "std_cost": np.array([r.std_cost for r in rows]),
        "savings": np.array([r.savings for r in rows]),
        "L": np.array([r.L for r in rows], dtype=np.int64), "N_l": counts,
    }  # fmt: skip


def repeat_group(rows: list[ComplexityRow], reference: float) -> dict[str, np.ndarray]:
    summaries = [repeat_summary(row, reference) for row in rows]
    return {
        "eps": np.array([r.eps for r in rows]),
        "rms_error": np.array([s[0] for s in summaries]),
        "within_eps": np.array([s[1] for s in summaries]),
        "mean_cost": np.array([np.mean(r.costs) for r in rows]),
        "prices": np.array([r.prices for r in rows]),  # eps x repeat
    }


def giles_layout(result: TestResult) -> str:
    """The text ``mlmc_test`` prints: convergence table, rates, complexity table."""
    c, x = result.convergence, result.complexity
    rule = "*" * 58
    lines = [rule, "*** Convergence tests, kurtosis, telescoping sum check ***",
             f"*** using N = {result.N:8d} samples" + " " * 23 + "***", rule, "",
             " l   ave(Pf-Pc)    ave(Pf)   var(Pf-Pc)    var(Pf)    kurtosis     check"
             "        cost", "-" * 87]  # fmt: skip
    for i in range(len(c["level"])):
        check = 0.0 if math.isnan(c["check"][i]) else c["check"][i]
        lines.append(
            f"{int(c['level'][i]):2d}  {c['ave_pf_pc'][i]:11.4e} {c['ave_pf'][i]:11.4e} "
            f"{c['var_pf_pc'][i]:10.3e} {c['var_pf'][i]:10.3e} {c['kurtosis'][i]:10.3e} "
            f"{check:10.3e}  {c['cost'][i]:9.2e}"
        )
    lines += ["", *(f"WARNING: {w}" for w in result.warnings.splitlines() if w)]
    lines += ["", "*" * 52, "*** Linear regression estimates of MLMC parameters ***", "*" * 52,
              "", f" alpha = {result.alpha:f}  (exponent for MLMC weak convergence)",
              f" beta  = {result.beta:f}  (exponent for MLMC variance, std error "
              f"{result.beta_std_error:.3f})",
              f" gamma = {result.gamma:f}  (exponent for MLMC cost)", "",
              "*" * 29, "*** MLMC complexity tests ***", "*" * 29, "",
              "   eps       value    mlmc_cost   std_cost  savings     N_l", "-" * 60]  # fmt: skip
    for i in range(len(x["eps"])):
        counts = " ".join(str(int(n)) for n in x["N_l"][i][: int(x["L"][i]) + 1])
        lines.append(
            f"{x['eps'][i]:.3e}  {x['value'][i]:.4e}  {x['mlmc_cost'][i]:.3e}  "
            f"{x['std_cost'][i]:.3e}  {x['savings'][i]:7.2f}  {counts}"
        )
    if result.repeat_runs:
        r = result.repeat_runs
        lines += ["", f"*** {result.repeat} independent runs per eps "
                  f"(reference {result.reference_price:.6f}) ***", "",
                  "   eps      rms error  rms/eps  within eps  mean cost", "-" * 52]  # fmt: skip
        for i in range(len(r["eps"])):
            ratio = r["rms_error"][i] / r["eps"][i]
            lines.append(f"{r['eps'][i]:.3e}  {r['rms_error'][i]:.3e}  {ratio:7.3f}  "
                         f"{100 * r['within_eps'][i]:9.1f}%  {r['mean_cost'][i]:.3e}")  # fmt: skip
    return "\n".join(lines)


def positive_int(flag: str, text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low:
        raise ConfigError(f"{flag} must be an integer >= {low}, got {text!r}")
    return value


def eps_values(text: str) -> list[float]:
    try:
        values = [float(item) for item in text.split(",") if item.strip()]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise ConfigError(f"--eps-list must be positive numbers separated by commas "
                          f"(e.g. 0.005,0.01,0.02), got {text!r}")  # fmt: skip
    return values


def prepare_test(args: argparse.Namespace) -> tuple[Config, dict]:
    """Validated config and test parameters; every mistake is a one-line ConfigError."""
    plan = {
        "N": positive_int("--samples", args.samples, 2),
        "L": positive_int("--levels", args.levels, 2),
        "eps_list": eps_values(args.eps_list),
        "repeat": positive_int("--repeat", args.repeat, 1),
    }
    config = config_from_args(args)
    if config.mlmc.method != "mlmc":
        raise ConfigError("the test command needs mlmc.method mlmc (it measures MLMC levels), "
                          f"got {config.mlmc.method}")  # fmt: skip
    config = resolved(config, resolve_backend(config))
    output = args.output or str(Path(config.run.output).with_name(f"{config.name}-test.h5"))
    check_output_path(output)
    plan["output"] = output
    return config, plan


def test_job(args, config: Config, plan: dict, executor, world_size: int, mpi_version: str) -> int:
    started = time.perf_counter()
    say = (lambda text: None) if args.quiet else (lambda text: print(text, file=sys.stderr))
    say(f"convergence test: {plan['N']} samples on levels 0..{plan['L']}")
    cost = config.mlmc.timesteps
    table = convergence_test(executor, plan["N"], plan["L"], cost)
    rows = complexity_test(executor, config.mlmc, plan["eps_list"], table, cost,
                           plan["repeat"], say)  # fmt: skip
    reference = reference_price(config.option)
    result = TestResult(
        name=config.name, config=config.to_yaml(), alpha=table.alpha, beta=table.beta,
        gamma=table.gamma, beta_std_error=table.beta_std_error, N=plan["N"], L=plan["L"],
        M=config.mlmc.M, theta=config.mlmc.theta, reference_price=reference,
        backend=config.run.backend, n_workers=executor.n_workers, repeat=plan["repeat"],
        wall_time_s=time.perf_counter() - started, warnings="\n".join(table.warnings),
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        convergence={name: table.columns[name] for name in CONVERGENCE_COLUMNS},
        complexity=complexity_group(rows),
        repeat_runs=repeat_group(rows, reference) if plan["repeat"] > 1 else {},
    )  # fmt: skip
    result.save(plan["output"])
    print(giles_layout(result))
    print(f"\nresult     {plan['output']}  ({result.wall_time_s:.1f} s, "
          f"{executor.n_workers} workers)")  # fmt: skip
    return EXIT_OK


def test_command(args: argparse.Namespace) -> int:
    from .launch import with_executor

    return with_executor(args, prepare_test, test_job)
