"""The import graph of the package, read from the source with ``ast``: no cycle anywhere
(function-level and TYPE_CHECKING imports count too), and the core never imports a plug-in folder."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Installed package name -> source folder (pyproject.toml's package-dir).
PACKAGES = {"ambient_bench": ROOT / "ambient_bench", "ambient_bench.envs": ROOT / "envs",
            "ambient_bench.datagen": ROOT / "datagen", "ambient_bench.baselines": ROOT / "baselines"}
PLUGINS = ("ambient_bench.envs", "ambient_bench.datagen", "ambient_bench.baselines")


def module_files() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package is its __init__)."""
    modules = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts))
            modules[name.removesuffix(".__init__")] = path
    return modules


def imported_names(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Absolute names this module imports: ``import a.b``, ``from a import b`` (a.b if b is a
    module, else a) and relative forms."""
    package = module if is_package else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        graph[name] = {n for n in imported_names(tree, name, path.name == "__init__.py") if n in modules and n != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None; depth-first search."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_detects_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_imported_names_resolve_relative_imports():
    tree = ast.parse("from .x import y\nfrom .. import z\nimport a.b\ndef f():\n    from .w import v\n")
    names = imported_names(tree, "pkg.sub.mod", is_package=False)
    assert {"pkg.sub.x", "pkg.sub.x.y", "pkg", "pkg.z", "a.b", "pkg.sub.w", "pkg.sub.w.v"} <= names


def test_no_import_cycle():
    graph = import_graph(module_files())
    assert len(graph) > 40  # the whole package was read
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


@pytest.mark.parametrize("plugin", PLUGINS)
def test_core_never_imports_a_plugin_folder(plugin):
    graph = import_graph(module_files())
    core = [m for m in graph if not m.startswith(PLUGINS)]
    offenders = {m: sorted(n for n in graph[m] if n == plugin or n.startswith(plugin + ".")) for m in core}
    assert not {m: n for m, n in offenders.items() if n}


# The pipeline's stages, lowest first: a module may import its own stage or a lower one only.
# (The suite API at the top of the package, registry, task, metrics, seeds, data, logs and config are the base.)
STAGES = ["base", "policy", "evaluation", "classifier", "jobs", "report", "pipeline", "cli", "entry"]
ENTRY_MODULES = ("run", "bench", "compare", "spectrum", "sensitivity", "datasets")  # ``python -m ambient_bench.<name>``


def stage_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("registry", "task", "metrics", "seeds", "data", "interop", "config", "logs"):
        return "base"
    if len(parts) == 2 and parts[1] in ENTRY_MODULES:
        return "entry"
    return parts[1]


def test_stages_only_import_lower_stages():
    graph = import_graph(module_files())
    core = [m for m in graph if not m.startswith(PLUGINS)]
    assert {stage_of(m) for m in core} == set(STAGES)  # every module belongs to a known stage
    upward = {m: sorted(n for n in graph[m] if STAGES.index(stage_of(n)) > STAGES.index(stage_of(m)))
              for m in core}
    assert not {m: n for m, n in upward.items() if n}
