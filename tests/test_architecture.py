"""No import circles among the project's modules, function-level imports included.

import-linter (`make check`, contracts in pyproject.toml) checks the layers and, with its
acyclic_siblings contract, that the children of each package import one way. This check runs in
the pytest suite itself, on grimp's graph (import-linter's engine), and names the modules of each
circle. Imports under `if TYPE_CHECKING:` do not count: they never run.
"""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import grimp

from tests.conftest import ROOT

PACKAGES = ("dictation", "api", "review_ui")
# Where the process starts: the only places that read settings from the environment. Everything
# below them takes `settings` as an argument (a test or a second app can then pass its own).
COMPOSITION_ROOTS = ("dictation/cli/", "api/app.py", "review_ui/app.py")


def import_circles(*packages: str, root: Path) -> list[list[str]]:
    """The strongly connected groups of modules, each sorted, of the packages found under `root`.

    A package's `__init__` importing its own submodules is how a package is assembled, not a
    circle, so those edges are left out; a submodule importing its package's `__init__` counts.
    """
    graph = grimp.build_graph(*packages, exclude_type_checking_imports=True, cache_dir=None)

    def is_package(module: str) -> bool:
        return (root / module.replace(".", "/") / "__init__.py").exists()

    edges = {
        module: {
            target
            for target in graph.find_modules_directly_imported_by(module)
            if not (is_package(module) and target.startswith(module + "."))
        }
        for module in graph.modules
    }
    return _strongly_connected(edges)


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    # Tarjan's algorithm, iterative: the import graph is deep enough to worry the recursion limit.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(edges.get(target, ())))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return sorted(groups)


def test_find_no_import_circles_in_project():
    circles = import_circles(*PACKAGES, root=ROOT)
    assert not circles, "import circles (each line: modules importing each other):\n" + "\n".join(
        " <-> ".join(group) for group in circles
    )


def _write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_find_import_circles_function_level_counts_type_checking_not(tmp_path, monkeypatch):
    # A throwaway package on disk, read by the same grimp call as the project.
    _write_package(tmp_path, {
        # A package importing its own submodules is how it is assembled: no circle with them.
        "circ/__init__.py": "from circ.a import THING\n",
        "circ/a.py": "import circ.b\n\nTHING = 1\n",
        "circ/b.py": """
            def later():
                from circ import c  # a function-level import still ties b to c
            """,
        "circ/c.py": "import circ.a\n",
        "circ/d.py": "import circ.e\n",
        "circ/e.py": """
            from typing import TYPE_CHECKING

            if TYPE_CHECKING:
                import circ.d
            """,
    })
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "circ", raising=False)

    assert import_circles("circ", root=tmp_path) == [["circ.a", "circ.b", "circ.c"]]


def modules_fetching_settings(root: Path) -> list[str]:
    """Files that import `get_settings` from dictation.settings, function-level imports included."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if any(
                isinstance(node, ast.ImportFrom) and node.module == "dictation.settings"
                and any(alias.name == "get_settings" for alias in node.names)
                for node in ast.walk(tree)
            ):
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


def test_fetch_settings_only_in_composition_roots():
    elsewhere = [name for name in modules_fetching_settings(ROOT) if not name.startswith(COMPOSITION_ROOTS)]
    assert elsewhere == [], "these modules read the global settings instead of taking them as an argument"


def test_find_settings_fetch_inside_function(tmp_path):
    _write_package(tmp_path, {
        "dictation/settings.py": "def get_settings(): ...\n",
        "dictation/store.py": """
            def open_store(settings=None):
                from dictation.settings import get_settings
                return settings or get_settings()
            """,
        "api/app.py": "from dictation.settings import get_settings\n",
    })
    assert modules_fetching_settings(tmp_path) == ["api/app.py", "dictation/store.py"]
