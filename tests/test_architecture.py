"""The package's shape: no import cycle anywhere (function-level imports included; imports only
for type checkers are not run, so they do not count), and nothing outside the CLI imports it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent / "conformance"


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports() -> dict[str, set[str]]:
    """Each module of the package, and the modules of the package it imports when it runs."""
    modules = {_module(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        skip = {
            id(n)
            for t in ast.walk(ast.parse(path.read_text()))
            if _type_checking(t)
            for n in ast.walk(t)
        }
        for node in ast.walk(ast.parse(path.read_text())):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                found |= {base} | {f"{base}.{a.name}" for a in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_import_cycle() -> None:
    graph = imports()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append([*stack[stack.index(n) :], n])
            elif n not in state:
                visit(n, [*stack, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles[:10])


def test_nothing_outside_the_cli_imports_it() -> None:
    cli = ("conformance.cli", "conformance.cli.")
    outside = {m: sorted(i for i in deps if i == cli[0] or i.startswith(cli[1]))
               for m, deps in imports().items() if not m.startswith("conformance.cli")}  # fmt: skip
    assert {m: i for m, i in outside.items() if i} == {}
