"""The import graph runs one way: data types, io, acquisition and the numerical core below the methods; the CLI
on top; a method may build on another's steps but never the reverse; no method imports the metrics."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "pointillist"


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every pointillist module ``path`` imports (relative imports resolved; also inside functions)."""
    here = _module(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + (node.module.split(".") if node.module else []))
            if not node.level and not target.startswith("pointillist"):
                continue
            out.add(target)
            out.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("pointillist"))
    return out


MODULES = {_module(p): _imports(p) for p in SRC.rglob("*.py")}


def _offenders(sources: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f"{m} imports {t}" for m, targets in MODULES.items() if m.startswith(sources)
                  for t in targets if t.startswith(forbidden))


@pytest.mark.parametrize("lower", [
    "pointillist.io", "pointillist.acquisition", "pointillist.tiles", "pointillist.scheduler", "pointillist.tirf",
    "pointillist.result",
    "pointillist.localizations", "pointillist.optics", "pointillist.operators", "pointillist.penalties",
    "pointillist.solvers", "pointillist.covariance", "pointillist.denoisers", "pointillist.detection",
    "pointillist.metrics", "pointillist.simulate", "pointillist.training", "pointillist.progress",
    "pointillist.postprocess",
])
def test_lower_layers_never_import_the_methods_or_the_cli(lower):
    assert not _offenders(lower, ("pointillist.methods", "pointillist.cli", "pointillist.napari"))


_GUI = ("napari", "magicgui", "qtpy", "PyQt6", "PyQt5", "PySide6", "superqt", "vispy")


def _third_party(path: Path) -> set[str]:
    """Top-level names of the non-pointillist modules ``path`` imports (also inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
    return out


def test_only_the_napari_plugin_imports_qt_or_napari():
    # the core install (no [napari] extra) must work without Qt
    offenders = sorted(f"{_module(p)} imports {name}" for p in SRC.rglob("*.py")
                       if not _module(p).startswith("pointillist.napari") for name in _third_party(p) & set(_GUI))
    assert not offenders
    assert "qtpy" in _third_party(SRC / "napari" / "widgets.py")  # the check reads imports
    assert not _offenders("pointillist.cli", ("pointillist.napari",))


def test_methods_never_import_the_metrics_or_the_cli():
    assert not _offenders("pointillist.methods", ("pointillist.metrics", "pointillist.cli"))


def test_colorme_knows_nothing_of_the_methods_built_on_it():
    assert not _offenders("pointillist.methods.colorme", ("pointillist.methods.pnp", "pointillist.methods.smlm",
                                                          "pointillist.methods.baselines"))


def test_the_graph_is_read():
    # the check above would pass vacuously if imports were not found
    assert "pointillist.methods.colorme.tiled" in MODULES["pointillist.methods.pnp.api"]
    assert "pointillist.acquisition" in MODULES["pointillist.methods.colorme.api"]
