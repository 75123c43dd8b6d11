"""The import graph of profilemock against the layers table of ARCHITECTURE.md: a module
imports its own layer and the layers below it, never one above."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "profilemock"
ARCHITECTURE = ROOT / "ARCHITECTURE.md"


def layers_table(text: str) -> list[tuple[str, list[str]]]:
    """(layer, module names) from the table under "## Layers", bottom layer first.

    Modules are the backticked names of the second column: ``timeutil`` is
    ``profilemock.timeutil``, ``store/`` every module of ``profilemock.store``, ``__init__``
    the package itself."""
    section = text.split("## Layers", 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0] in ("layer", "") or set(cells[0]) <= {"-", " "}:
            continue
        names = re.findall(r"`([\w/.]+)`", cells[1])
        rows.append((cells[0], [_module(name) for name in names]))
    return rows


def _module(listed: str) -> str:
    """``store/`` -> ``profilemock.store``; ``__init__`` -> ``profilemock`` (the package)."""
    if listed == "__init__":
        return "profilemock"
    return "profilemock." + listed.rstrip("/").replace("/", ".")


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The profilemock modules ``name`` imports, anywhere in it (functions included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                # `from profilemock import __version__` reads the distribution's metadata.
                if alias.name == "__version__":
                    continue
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return {m for m in found if m == "profilemock" or m.startswith("profilemock.")}


def layer_of(module: str, table: list[tuple[str, list[str]]]) -> int | None:
    """The index of the layer listing ``module`` (or the package holding it)."""
    best: tuple[int, int] | None = None
    for index, (_, names) in enumerate(table):
        for listed in names:
            inside = listed != "profilemock" and module.startswith(listed + ".")
            if (module == listed or inside) and (best is None or len(listed) > best[1]):
                best = (index, len(listed))
    return None if best is None else best[0]


def violations(
    table: list[tuple[str, list[str]]], replaced: dict[str, Path] | None = None
) -> list[str]:
    """Every upward import, and every module no layer lists; ``replaced`` reads some
    modules from other files."""
    found = {**modules(), **(replaced or {})}
    problems = []
    for name, path in found.items():
        own = layer_of(name, table)
        if own is None:
            problems.append(f"{name} is in no layer of ARCHITECTURE.md")
            continue
        for target in sorted(imports(name, path, set(found))):
            theirs = layer_of(target, table)
            if theirs is not None and theirs > own:
                problems.append(
                    f"{name} ({table[own][0]}) imports {target} ({table[theirs][0]}), a layer above"
                )
    return problems


@pytest.fixture(scope="module")
def table() -> list[tuple[str, list[str]]]:
    return layers_table(ARCHITECTURE.read_text(encoding="utf-8"))


def test_architecture_lists_the_layers_bottom_first(table: list[tuple[str, list[str]]]) -> None:
    assert [layer for layer, _ in table] == [
        "basics",
        "store",
        "schemas",
        "faults",
        "fixtures",
        "server",
        "tools",
        "entry points",
    ]


def test_every_module_imports_only_its_layer_and_below(
    table: list[tuple[str, list[str]]],
) -> None:
    assert violations(table) == []


def test_an_upward_import_is_reported(table: list[tuple[str, list[str]]], tmp_path: Path) -> None:
    text = (PACKAGE / "timeutil.py").read_text(encoding="utf-8")
    upward = _written(tmp_path, text + "\nfrom profilemock.mockserver import app\n")
    assert violations(table, {"profilemock.timeutil": upward}) == [
        "profilemock.timeutil (basics) imports profilemock.mockserver.app (server), a layer above"
    ]


def test_relative_imports_resolve_to_their_package(tmp_path: Path) -> None:
    path = _written(tmp_path, "from . import wire\nfrom ..api import ENDPOINTS\n")
    known = set(modules())
    assert imports("profilemock.store.model", path, known) == {
        "profilemock.store.wire",
        "profilemock.api",
    }


def test_a_module_in_no_layer_is_reported() -> None:
    assert "profilemock.timeutil is in no layer of ARCHITECTURE.md" in violations(
        [("basics", ["profilemock.clock"])]
    )


def _written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "module.py"
    path.write_text(text, encoding="utf-8")
    return path
