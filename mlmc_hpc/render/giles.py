"""Giles' ``mlmc_test`` text layout of a test result (convergence, rates, complexity)."""

from __future__ import annotations

import math

from ..io.test_result import TestResult


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
              f" level 0: {result.level0_method}", "",
              "   eps       value    mlmc_cost   std_cost  savings  level0     N_l",
              "-" * 68]  # fmt: skip
    for i in range(len(x["eps"])):
        counts = " ".join(str(int(n)) for n in x["N_l"][i][: int(x["L"][i]) + 1])
        level0 = x["level0_savings"][i] if "level0_savings" in x else 1.0
        lines.append(
            f"{x['eps'][i]:.3e}  {x['value'][i]:.4e}  {x['mlmc_cost'][i]:.3e}  "
            f"{x['std_cost'][i]:.3e}  {x['savings'][i]:7.2f}  {level0:6.1f}  {counts}"
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
