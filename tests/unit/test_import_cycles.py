"""No import cycles among the project's own modules.

The graph is built statically with `ast`. A module-level import runs when its module is imported, so a cycle
of those can fail at import time, depending on which module is imported first. An import inside a function,
or under `if TYPE_CHECKING:`, does not run then; a cycle through one is the same tangle with the failure
deferred, so it is refused too."""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Folder -> the package name it is imported as (constructs/ is dr_constructs, see pyproject.toml).
PACKAGES = {
    "lambdas": "lambdas",
    "drctl": "drctl",
    "localcloud": "localcloud",
    "constructs": "dr_constructs",
    "statemachines": "statemachines",
    "bench": "bench",
    "failback_client": "failback_client",
}

When = Literal["module", "function", "typing"]


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    when: When
    path: Path
    line: int

    def __str__(self) -> str:
        where = {"module": "", "function": " in a function", "typing": " under TYPE_CHECKING"}[self.when]
        path = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{self.source} -> {self.target}  ({path}:{self.line}){where}"


def project_modules(root: Path, packages: Mapping[str, str]) -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for folder, package in packages.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = [package, *path.relative_to(root / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """What the statement imports, as dotted names: `from a import b` names a.b (b may be a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def imports_of(module: str, path: Path, modules: Mapping[str, Path]) -> list[Import]:
    """The imports of project modules that `module` makes, each with when it runs. Importing a.b.c also runs
    the packages a and a.b first: those count too, except the importer's own packages (already running)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    own = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
    found: list[Import] = []

    def add(name: str, when: When, line: int) -> None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        parts = name.split(".")
        for target in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
            if target in modules and target != module and target not in own:
                found.append(Import(module, target, when, path, line))

    def visit(nodes: Iterable[ast.AST], when: When) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                visit(node.body, "typing")
                visit(node.orelse, when)
                continue
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = _imported_names(node, package)
                # `from a import b`: the module a.b if there is one, else the module a.
                if isinstance(node, ast.ImportFrom):
                    names = [n for n in names[:-1] if n in modules] or names[-1:]
                for name in names:
                    add(name, when, node.lineno)
            inner: When = "function" if when == "module" and isinstance(node, _FUNCTIONS) else when
            visit(ast.iter_child_nodes(node), inner)

    visit(ast.parse(path.read_text(), str(path)).body, "module")
    return found


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def import_graph(modules: Mapping[str, Path], counted: set[When]) -> dict[str, dict[str, Import]]:
    graph: dict[str, dict[str, Import]] = {name: {} for name in modules}
    for name, path in modules.items():
        for found in imports_of(name, path, modules):
            if found.when in counted:
                graph[name].setdefault(found.target, found)
    return graph


def cycles(graph: Mapping[str, Mapping[str, Import]]) -> list[list[Import]]:
    """One cycle for each group of modules that import each other (a strongly connected component)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in graph[node]:
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_shortest_cycle(graph, component) for component in components]


def _shortest_cycle(graph: Mapping[str, Mapping[str, Import]], component: set[str]) -> list[Import]:
    start = min(component)
    came_by: dict[str, Import] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for succ, edge in sorted(graph[node].items()):
            if succ == start:
                path = [edge]
                while path[0].source != start:
                    path.insert(0, came_by[path[0].source])
                return path
            if succ in component and succ not in came_by:
                came_by[succ] = edge
                queue.append(succ)
    raise AssertionError(f"no cycle through {start}")  # a strongly connected component has one


def describe(found: list[list[Import]]) -> str:
    return "\n\n".join("\n".join(str(edge) for edge in cycle) for cycle in found)


MODULES = project_modules(ROOT, PACKAGES)


def test_no_import_cycle_among_module_level_imports() -> None:
    found = cycles(import_graph(MODULES, {"module"}))
    if found:
        pytest.fail("import cycles:\n" + describe(found), pytrace=False)


def test_no_import_cycle_through_function_level_or_type_checking_imports() -> None:
    found = cycles(import_graph(MODULES, {"module", "function", "typing"}))
    if found:
        pytest.fail("import cycles:\n" + describe(found), pytrace=False)


def test_the_scan_covers_every_project_package() -> None:
    assert {"localcloud.cloud", "localcloud.drs.emulator", "dr_constructs.stack", "bench.__main__"} <= set(
        MODULES
    )
    assert {name.split(".")[0] for name in MODULES} == set(PACKAGES.values())
    graph = import_graph(MODULES, {"module"})
    assert "localcloud.template" in graph["localcloud.cloud"]
    assert "drctl.plugins" in graph["localcloud.cli"]


def _package(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return project_modules(tmp_path, {"pkg": "pkg"})


@pytest.mark.parametrize(
    ("b_text", "when"),
    [
        ("from pkg.a import X\n", "module"),
        ("import pkg.a\n", "module"),
        ("from .. import a\n", "module"),
        ("from ..a import X\n", "module"),
        ("try:\n    from pkg import a\nexcept ImportError:\n    a = None\n", "module"),
        ("class B:\n    from pkg.a import X\n", "module"),
        ("def f():\n    from pkg.a import X\n", "function"),
        ("class B:\n    def f(self):\n        import pkg.a\n", "function"),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import X\n", "typing"),
    ],
)
def test_the_scan_finds_a_cycle_however_it_is_written(tmp_path: Path, b_text: str, when: When) -> None:
    modules = _package(
        tmp_path,
        {"__init__.py": "", "a.py": "from pkg.sub.b import Y\n", "sub/__init__.py": "", "sub/b.py": b_text},
    )
    [cycle] = cycles(import_graph(modules, {"module", "function", "typing"}))
    assert [(e.source, e.target) for e in cycle] == [("pkg.a", "pkg.sub.b"), ("pkg.sub.b", "pkg.a")]
    assert cycle[1].when == when and cycle[1].line >= 1
    assert cycles(import_graph(modules, {"module"})) == ([] if when != "module" else [cycle])


def test_a_package_init_on_the_way_counts(tmp_path: Path) -> None:
    """Importing pkg.sub.c runs pkg/sub/__init__.py first, which here imports back the importer."""
    modules = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from pkg.sub.c import Z\n",
            "sub/__init__.py": "from pkg.a import X\n",
            "sub/c.py": "",
        },
    )
    [cycle] = cycles(import_graph(modules, {"module"}))
    assert {(e.source, e.target) for e in cycle} == {("pkg.a", "pkg.sub"), ("pkg.sub", "pkg.a")}


def test_modules_that_do_not_import_each_other_are_no_cycle(tmp_path: Path) -> None:
    modules = _package(
        tmp_path,
        {
            "__init__.py": "from pkg.a import X\n",
            "a.py": "from pkg import b\nimport os\n",
            "b.py": "from pkg.c import Z\n",
            "c.py": "",
        },
    )
    assert cycles(import_graph(modules, {"module", "function", "typing"})) == []
