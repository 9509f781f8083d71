"""The package's import structure: no cycles, and imports run down the layers (one named exception).

The graph is read from the source with `ast`: every `import` and `from ... import`, at module
level, inside functions and under `if TYPE_CHECKING:` alike (a deferred import is still a
dependency). `from pkg import name` counts as an import of `pkg.name` when that is a module,
else of `pkg`; a package's `__init__` counts only when it is imported by name.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import slmbench

PACKAGE = Path(slmbench.__file__).parent

# Bottom first. A module imports from its own layer or below; report sits under results because
# it reads run files, not these modules, while results.md borrows its paired-comparison table.
LAYERS: list[tuple[str, ...]] = [
    (
        "_version",
        "errors",
        "paths",
        "sentences",
        "verdicts",
        "markdown",
        "sse",
        "metrics",
        "sandbox",
        "client",
        "serving.http",
        "serving.base",
    ),
    # The task contract and the registry (it imports the task modules it finds, by file name):
    # config resolves task names and the default suite through it.
    ("tasks.base", "tasks.registry"),
    ("profiles", "plan", "config", "resolve"),
    ("serving", "store", "progress", "runs"),
    ("tasks",),
    ("longdoc",),
    ("report",),
    ("results",),
    ("runner", "perf"),
    ("__init__", "api", "cli", "cli_support", "cli_longdoc", "show", "chat", "testing"),
]
# The one import that runs back up: a model spec names its GGUF file, which the embedded
# models' module finds (deferred, inside ModelSpec.model_file).
UPWARD_ALLOWED = {("slmbench.config", "slmbench.serving.models")}


def module_names(root: Path) -> dict[str, Path]:
    names = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the package's modules it imports."""
    modules = module_names(root)
    top = root.name
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    targets.add(submodule if submodule in modules else source)
        graph[name] = {t for t in targets if t in modules and t != name and t.split(".")[0] == top}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a -> ... -> a) per strongly connected component of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm; the package is far too shallow to recurse too deep
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
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_in(graph, component) for component in components]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first, inside the component)."""
    start = min(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if w not in came_from:
                    came_from[w] = v
                    following.append(w)
        frontier = following
    raise AssertionError(f"no cycle through {start}")


def layer_of(module: str) -> int | None:
    """The layer of the longest prefix in LAYERS that names the module (or its package)."""
    relative = module.partition(".")[2] or "__init__"
    best: tuple[int, int] | None = None
    for number, names in enumerate(LAYERS):
        for prefix in names:
            if (relative == prefix or relative.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (number, len(prefix))
    return best[0] if best else None


def test_no_import_cycles() -> None:
    graph = import_graph(PACKAGE)
    found = cycles(graph)
    assert not found, "import cycles (one per tangle; fixing it may reveal another in the same tangle):\n" + "\n".join(
        " -> ".join(c) for c in found
    )


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(m for m in import_graph(PACKAGE) if layer_of(m) is None)
    assert not unplaced, f"modules in no layer (add them to LAYERS in {Path(__file__).name}): {unplaced}"


def test_imports_run_down_the_layers() -> None:
    graph = import_graph(PACKAGE)
    upward = sorted(
        (a, b) for a, targets in graph.items() for b in targets
        if None not in (layer_of(a), layer_of(b)) and layer_of(b) > layer_of(a)
    )  # fmt: skip
    assert set(upward) <= UPWARD_ALLOWED, "imports that run back up the layers:\n" + "\n".join(
        f"{a} (layer {layer_of(a)}) -> {b} (layer {layer_of(b)})" for a, b in upward if (a, b) not in UPWARD_ALLOWED
    )
    assert len(UPWARD_ALLOWED) <= 1


def test_the_graph_reads_deferred_and_type_checking_imports(tmp_path: Path) -> None:
    """A cycle closed only by a function-level or a TYPE_CHECKING import is still found."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import g\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\ndef g(): ...\n"
    )
    (pkg / "d.py").write_text("import pkg.c\nfrom pkg import sub\n")
    graph = import_graph(pkg)
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.c"} and graph["pkg.c"] == {"pkg.a"}
    assert graph["pkg.d"] == {"pkg.c", "pkg.sub"}
    assert cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]]
    (pkg / "c.py").write_text("def g(): ...\n")
    assert cycles(import_graph(pkg)) == []


def test_the_real_graph_holds_the_deferred_imports() -> None:
    graph = import_graph(PACKAGE)
    assert "slmbench.serving.models" in graph["slmbench.config"]  # inside ModelSpec.model_file
    assert "slmbench.runner" in graph["slmbench.api"]  # inside evaluate()


def test_llama_server_build_needs_only_pydantic():
    # `make setup` builds llama-server through serving.build while pip is still installing
    # everything else: importing it must need the standard library and pydantic only.
    code = """
import sys
allowed = set(sys.stdlib_module_names) | {"slmbench", "pydantic", "pydantic_core", "typing_extensions",
                                          "annotated_types", "typing_inspection", "_distutils_hack"}
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in allowed and not name.startswith("_sysconfigdata"):
            raise ImportError(f"{name} is not installed yet")
sys.meta_path.insert(0, Refuse())
from slmbench.serving.build import find_llama_server
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
