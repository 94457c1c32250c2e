"""The package's shape is checked, not only described: imports point one way (import-linter contracts
in pyproject.toml), no import cycle in either package, no module imports another module's private
names, and no module grows past 1,000 lines unless it says it is one homogeneous catalogue."""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("spucircuit", "tngd")
MAX_LINES = 1000


def modules(pkg: str) -> dict:
    """{module name: path} of every module of a package."""
    out = {}
    for p in sorted((ROOT / pkg).rglob("*.py")):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def imports_of(path: Path, name: str, known: set) -> set:
    """Modules of ``known`` that ``path`` imports anywhere (top level or inside functions)."""
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


@pytest.mark.parametrize("pkg", PACKAGES)
def test_no_import_cycle(pkg):
    mods = modules(pkg)
    g = nx.DiGraph()
    for name, path in mods.items():
        g.add_node(name)
        for dep in imports_of(path, name, set(mods)):
            g.add_edge(name, dep)
    cycles = list(nx.simple_cycles(g))
    assert not cycles, f"import cycles in {pkg}: {cycles[:5]}"


def test_cycle_check_can_fail(tmp_path):
    """The cycle finder sees a cycle hidden in a function-local import."""
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from a import x\n")
    assert "b" in imports_of(tmp_path / "a.py", "a", {"a", "b"})
    assert "a" in imports_of(tmp_path / "b.py", "b", {"a", "b"})


def private_imports(path: Path) -> list:
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
            bad += [f"{path.relative_to(ROOT)}:{node.lineno} {node.module}.{a.name}" for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")]
    return bad


def test_no_module_imports_private_names_of_another():
    bad = []
    for d in (*PACKAGES, "tests", "benchmarks", "examples"):
        for p in sorted((ROOT / d).rglob("*.py")):
            bad += private_imports(p)
    assert not bad, "imports of another module's private names:\n" + "\n".join(bad)


@pytest.mark.parametrize("pkg", PACKAGES)
def test_modules_are_small_unless_a_catalogue(pkg):
    big = []
    for name, path in modules(pkg).items():
        text = path.read_text()
        doc = ast.get_docstring(ast.parse(text)) or ""
        if text.count("\n") > MAX_LINES and "catalogue" not in doc.lower():
            big.append(f"{name}: {text.count(chr(10))} lines")
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_every_module_has_a_docstring():
    missing = [name for pkg in PACKAGES for name, path in modules(pkg).items()
               if not ast.get_docstring(ast.parse(path.read_text()))]
    assert not missing, f"modules without a docstring: {missing}"


def test_import_contracts_hold():
    """lint-imports on the contracts in pyproject.toml (layers in pipeline order, a pure core,
    spucircuit never importing tngd)."""
    cli = pytest.importorskip("importlinter.cli", reason="import-linter is in the dev extra")
    assert cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0
