"""The package layout: layers by concept, every import pointing down, no cycle.

Layers, bottom to top (a module may import its own layer and the ones below):
errors < config < core < models < parallel < io < render < pricing < commands < cli < entry.
Also: ``core`` uses NumPy alone (no files, MPI, GPUs or option types); only ``io`` opens
h5py; nothing but the entry point imports the CLI; no module over 300 lines; importing
the package does not import NumPy (so the entry point can cap BLAS threads first).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mlmc_hpc"
LAYERS = ["errors", "config", "core", "models", "parallel", "io", "render", "pricing",
          "commands", "cli", "entry"]  # fmt: skip
SAME_AS = {"_version": "errors", "__main__": "entry", "": "entry"}  # "" = mlmc_hpc/__init__
MAX_LINES = 300


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, at any depth (function-level
    imports included); ``from X import name`` also yields X.name (it may be a module)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def layer(module: str, root_name: str) -> int:
    inner = module[len(root_name) + 1 :] if module != root_name else ""
    top = inner.split(".")[0]
    return LAYERS.index(SAME_AS.get(top, top))


def graph(root: Path) -> dict[str, set[str]]:
    """Module -> package modules it imports (only names that are modules of the package)."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in files.items():
        edges[name] = {t for _, t in imports(path, root) if t in files and t != name}
    return edges


def layering_problems(root: Path) -> list[str]:
    """Upward imports, imports of the CLI, and cycles; empty when the layout holds."""
    problems = []
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    for name, path in sorted(files.items()):
        for line, target in imports(path, root):
            if target not in files:
                continue
            if layer(target, root.name) > layer(name, root.name):
                problems.append(f"{path.name}:{line} {name} imports upward: {target}")
    problems += [f"cycle: {' -> '.join(c)}" for c in cycles(graph(root))]
    return problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def third_party(root: Path, sub: str) -> dict[str, set[str]]:
    """Top-level non-package modules imported by the files of ``root/sub``."""
    used: dict[str, set[str]] = {}
    for path in (root / sub).rglob("*.py") if (root / sub).is_dir() else [root / f"{sub}.py"]:
        for _, target in imports(path, root):
            top = target.split(".")[0]
            if top and top != root.name:
                used.setdefault(top, set()).add(path.name)
    return used


# ----------------------------------------------------------------------------- the package


def test_every_import_points_down_and_there_is_no_cycle():
    assert layering_problems(PACKAGE) == []


def test_every_module_belongs_to_a_layer():
    for path in PACKAGE.rglob("*.py"):
        layer(module_name(path, PACKAGE), PACKAGE.name)  # raises ValueError if not


def test_core_is_numpy_only_and_knows_no_options_mpi_or_files():
    allowed = {"numpy", "math", "time", "dataclasses", "collections", "typing", "__future__"}
    assert set(third_party(PACKAGE, "core")) <= allowed
    for path in (PACKAGE / "core").rglob("*.py"):
        for _, target in imports(path, PACKAGE):
            if target.startswith("mlmc_hpc.") and not target.startswith("mlmc_hpc.core"):
                assert target.startswith(("mlmc_hpc.errors", "mlmc_hpc.config.schema")), target


@pytest.mark.parametrize(
    "library,homes",
    [("h5py", {"io"}), ("mpi4py", {"parallel"}), ("matplotlib", {"render"}),
     ("cupy", {"models", "config", "parallel"})],
)  # fmt: skip
def test_third_party_libraries_have_one_home(library, homes):
    for sub in LAYERS[:-2]:
        if library in third_party(PACKAGE, sub):
            assert sub in homes, f"{library} imported in {sub}: {third_party(PACKAGE, sub)}"


def test_nothing_imports_the_cli_but_the_entry_point():
    for name, targets in graph(PACKAGE).items():
        if "mlmc_hpc.cli" in targets:
            assert name == "mlmc_hpc.entry", name


def test_no_module_over_300_lines():
    long = {
        p.name: n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_importing_the_package_does_not_import_numpy():
    code = "import sys, mlmc_hpc; print('numpy' in sys.modules, mlmc_hpc.__version__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split()[0] == "False"


# ----------------------------------------------------------------------------- the checker


def fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "mlmc_hpc"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_checker_flags_an_upward_import(tmp_path):
    root = fake_package(tmp_path, {
        "__init__.py": "", "errors.py": "", "core/__init__.py": "",
        "core/driver.py": "def f():\n    from ..io.files import save\n",
        "io/__init__.py": "", "io/files.py": "from ..core.driver import f\n",
    })  # fmt: skip
    problems = layering_problems(root)
    assert any("imports upward: mlmc_hpc.io.files" in p for p in problems)
    assert any(p.startswith("cycle: mlmc_hpc.core.driver -> mlmc_hpc.io.files") for p in problems)


def test_checker_accepts_downward_imports(tmp_path):
    root = fake_package(tmp_path, {
        "__init__.py": "", "errors.py": "", "config/__init__.py": "from ..errors import E\n",
        "core/__init__.py": "", "core/sums.py": "from ..config import x\nfrom . import driver\n",
        "core/driver.py": "import numpy\n",
    })  # fmt: skip
    assert layering_problems(root) == []
