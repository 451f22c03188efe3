"""No two modules import each other, however indirectly, and the import path is the file path.

The layers are checked by import-linter in .ci/run (pyproject.toml, [tool.importlinter]);
a cycle inside one layer is not a layering breach, so it is checked here, on the same
graph import-linter builds (grimp), TYPE_CHECKING and function-level imports included.
"""
from __future__ import annotations

import grimp


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that reach one another."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
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
                groups.append(sorted(group))
    return groups


def test_the_finder_sees_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.z")
    graph.add_import(importer="a.z", imported="a.x")
    assert [group for group in strongly_connected(graph) if len(group) > 1] == [["a.x", "a.y", "a.z"]]


def test_no_import_cycle() -> None:
    graph = grimp.build_graph("clinicsync", cache_dir=None)
    cycles = [group for group in strongly_connected(graph) if len(group) > 1]
    assert cycles == []


def test_the_import_path_is_the_file_path() -> None:
    """Every module lives in a real file under clinicsync/ at its dotted path, and no folder in
    it is a link: a tool that draws imports from the repository's root (an IDE, coverage, a code
    map) finds each ``clinicsync.x.y`` at ``clinicsync/x/y.py`` and so sees every edge."""
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "clinicsync"
    links = [str(p.relative_to(package)) for p in package.rglob("*") if p.is_symlink()]
    assert links == []
    graph = grimp.build_graph("clinicsync", cache_dir=None)
    missing = []
    for module in sorted(graph.modules):
        relative = Path(*module.split(".")[1:])
        here = package / relative
        if not (here.with_suffix(".py").is_file() or (here / "__init__.py").is_file()):
            missing.append(module)
    assert missing == []
    # every edge between our modules resolves to files under the same tree
    edges = [(a, b) for a in graph.modules for b in graph.find_modules_directly_imported_by(a)]
    assert len(edges) > 1000


def test_the_top_level_folders_are_links_into_the_package() -> None:
    """The design card's folders stay visible at the top as links to the one tree."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for name in ("connectors", "mappings", "notifiers", "sync"):
        top = root / name
        assert top.is_symlink() and top.resolve() == (root / "clinicsync" / name).resolve()
