"""Dependencies point one way (`cli → api → rag → embeddings`, `cli → eval → rag`) and modules form no cycles.

Read from the source with the standard library's `ast`: every import counts, also one inside a function
(a lazy import still makes the importing module depend on the imported one).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rag", "api", "eval", "embeddings", "cli")

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "rag": ("api", "eval", "cli"),
    "embeddings": ("rag", "api", "eval", "cli"),
    "eval": ("api", "cli"),
    "api": ("eval", "cli"),
}
"""Top-level package → the packages it must never import."""

KNOWN_CYCLES: dict[frozenset[str], str] = {}
"""Cycles that exist today, each with where it must be broken; the test fails when one is gone too (drop it)."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _imported(module: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """Project modules a module imports: `from package import module` names the module, not the package."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                found = next((".".join(parts[:n]) for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in modules), None)
                if found:
                    yield found
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            for alias in node.names:
                target = f"{stem}.{alias.name}"
                yield target if target in modules else stem


@cache
def import_graph() -> dict[str, frozenset[str]]:
    """Module → the project modules it imports."""
    modules = _modules()
    return {
        name: frozenset(t for t in _imported(name, path, modules) if t in modules and t != name)
        for name, path in modules.items()
    }


def _cycles(graph: dict[str, frozenset[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_the_packages() -> None:
    graph = import_graph()
    assert {"rag.pipeline", "api.app", "eval.runner", "embeddings.base", "cli.main"} <= set(graph)
    assert "rag.text.numbers" in graph["eval.answer_matching"]
    assert {"api.server", "eval.runner"} <= graph["cli.main"]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_point_one_way(package: str) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if module.split(".")[0] == package
        for target in targets
        if target.split(".")[0] in FORBIDDEN[package]
    )
    assert wrong == []


def test_no_import_cycles() -> None:
    found = {c: " → ".join(sorted(c)) for c in _cycles(import_graph())}
    new = sorted(text for c, text in found.items() if c not in KNOWN_CYCLES)
    assert new == [], "import cycles (a module importing, maybe lazily, one that imports it back)"
    gone = sorted(" → ".join(sorted(c)) for c in KNOWN_CYCLES if c not in found)
    assert gone == [], "known cycles that no longer exist: remove them from KNOWN_CYCLES"
