"""The layers, lowest first: core ← engines ← streams, vpn ← playback ← panel ← orchestrator_site.
An app never imports one above it, nor one beside it (where a lower app needs an upper one, the
upper registers a hook or a signal receiver in its AppConfig.ready()). Read from the source, so a
new import that breaks the order fails here."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LEVELS = {"core": 0, "engines": 1, "streams": 2, "vpn": 2, "playback": 3, "panel": 4,
          "orchestrator_site": 5}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(LEVELS)


def edges() -> list[tuple[str, str, str]]:
    """(importing package, imported package, file) for imports between our packages."""
    found = []
    for package in LEVELS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for imported in imported_packages(path) - {package}:
                found.append((package, imported, str(path.relative_to(ROOT))))
    return found


def test_every_package_exists_or_is_planned():
    present = {package for package in LEVELS if (ROOT / package).is_dir()}
    assert {"core", "engines", "streams", "vpn", "panel", "orchestrator_site"} <= present


@pytest.mark.parametrize("package", sorted(LEVELS))
def test_no_import_goes_up_or_sideways(package):
    wrong = [f"{where}: {importer} imports {imported}" for importer, imported, where in edges()
             if importer == package and LEVELS[imported] >= LEVELS[importer]]
    assert not wrong, "\n".join(wrong)


def test_the_import_graph_has_no_circle():
    graph: dict[str, set[str]] = {}
    for importer, imported, _ in edges():
        graph.setdefault(importer, set()).add(imported)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(step == goal or (step not in seen and reaches(step, goal, seen | {step}))
                   for step in graph.get(start, ()))

    circles = sorted(package for package in graph if reaches(package, package, {package}))
    assert not circles, circles
