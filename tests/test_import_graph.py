"""The core's modules import one way: errors at the bottom, no cycles, no inner module importing the package's
public API (``medzoo/__init__``). Read from the source with ``ast``: module-level imports only (imports inside
functions are deferred on purpose, to keep ``import medzoo`` light)."""

from __future__ import annotations

import ast
from pathlib import Path

import medzoo

SRC = Path(medzoo.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def _top_level_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """medzoo modules imported at module level (``if TYPE_CHECKING:`` blocks excluded)."""
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "medzoo"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "medzoo":
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.add(sub if sub in modules else node.module)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _top_level_imports(path, modules) - {name} for name, path in modules.items()}


def test_no_import_cycles() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if dep == "medzoo" and node != "medzoo":
                continue  # checked by the next test
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(dep):] + [dep]))
            if dep in graph and state.get(dep) is None:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state.get(node) is None:
            visit(node)


def test_inner_modules_do_not_import_the_public_api() -> None:
    offenders = sorted(name for name, deps in _graph().items()
                       if name not in ("medzoo", "medzoo.cli") and "medzoo" in deps)
    assert offenders == [], f"import medzoo's submodules, not its __init__: {offenders}"


def test_errors_sit_at_the_bottom() -> None:
    graph = _graph()
    assert graph["medzoo.errors"] == set()
    assert graph["medzoo.specs"] <= {"medzoo.errors"}
