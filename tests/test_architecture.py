"""The package reads top to bottom: each module imports only modules of its own or a lower layer,
there is no import cycle, and azlib modules are imported at the top of a module (only the
command line defers them, for start-up time)."""

from __future__ import annotations

import ast

from azlib.config import REPO_ROOT

PACKAGE = REPO_ROOT / "azlib"
#: the layers, bottom first (the README's architecture section lists the same order)
LAYERS = [
    {"errors", "files", "settings", "provenance", "parallel", "stats", "paper"},
    {"codec"},
    {"extraction"},
    {"store"},
    {"datasets", "datasets.splits", "datasets.synthetic"},
    {"config"},
    {"datasets.check", "datasets.clips", "models", "models.zoom", "models.lnet", "models.backbones",
     "models.az", "models.cost"},
    {"records"},
    {"training", "training.distributed", "training.state", "training.evaluate", "training.fit",
     "training.run"},
    {"grid"},
    {"runner"},
    {"tables", "tuning"},
    {"claims", "calibration", "viz", "report", "reproduction", "front"},
    {"notebook", "book"},
    {"cli", "__main__", "__init__"},
]
DEFERRED_IMPORTS_ALLOWED = {"cli"}  # says so in its docstring: commands import what they run


def _module_name(path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path):
    """(azlib modules imported at module level, azlib modules imported inside functions)."""
    tree = ast.parse(path.read_text())
    top, deferred = set(), set()

    def names(node):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("azlib"):
            base = node.module[len("azlib."):] if node.module != "azlib" else ""
            if base:
                yield base
            else:  # from azlib import records, grid
                yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (a.name[len("azlib."):] for a in node.names if a.name.startswith("azlib."))

    for node in tree.body:
        top.update(names(node))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                deferred.update(names(inner))
    return top, deferred


def _graph():
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        graph[_module_name(path)] = _imports(path)
    return graph


def _layer(module: str) -> int:
    for index, layer in enumerate(LAYERS):
        if module in layer:
            return index
    raise AssertionError(f"azlib/{module}: not in any layer of tests/test_architecture.py; place it")


def test_every_module_imports_only_its_layer_or_below():
    for module, (top, deferred) in _graph().items():
        for imported in top | deferred:
            assert _layer(imported) <= _layer(module), f"{module} imports {imported}, a layer above it"


def test_no_import_cycle():
    graph = {module: top for module, (top, _) in _graph().items()}
    state: dict[str, int] = {}

    def visit(module, path):
        if state.get(module) == 1:
            raise AssertionError(f"import cycle: {' -> '.join(path + [module])}")
        if state.get(module) == 2:
            return
        state[module] = 1
        for imported in sorted(graph.get(module, ())):
            visit(imported, path + [module])
        state[module] = 2

    for module in graph:
        visit(module, [])


def test_azlib_modules_are_imported_at_the_top():
    for module, (_, deferred) in _graph().items():
        if module not in DEFERRED_IMPORTS_ALLOWED:
            assert not deferred, f"azlib/{module}: imports {sorted(deferred)} inside a function"
