"""DESIGN.md's one rule between layers, read from the source: who may import whom.

Pure logic in the middle (numbers in, decisions out), I/O at the edges, the kernel above
both, analytics and the command line on top. A module importing upwards, or a pure layer
reaching for a database, an exchange, the network, the terminal or the clock, fails here
naming the file and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "quantum_trader"

PURE = {"domain", "config", "indicators", "portfolio", "risk", "universe", "signals"}
EDGES = {"data", "venues", "journal", "monitor"}
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "config": {"domain"},
    "indicators": {"domain"},
    "portfolio": {"domain", "config"},
    "risk": {"domain", "config", "portfolio"},
    "universe": {"domain", "config", "indicators"},
    "signals": {"domain", "config", "indicators", "universe"},
    **{edge: PURE for edge in EDGES},
    "engine": PURE | EDGES,
    "analytics": PURE | EDGES | {"engine", "research"},
    "research": PURE | EDGES | {"engine", "analytics"},
    "testkit": PURE | EDGES | {"engine", "analytics"},
    "cli": PURE | EDGES | {"engine", "analytics", "research", "testkit"},
}
"""Per layer, the other layers it may import (its own modules always)."""

EDGE_LIBRARIES = {"duckdb", "sqlalchemy", "ccxt", "pyarrow", "plotly", "typer", "rich", "fastapi", "uvicorn",
                  "requests", "httpx", "urllib", "socket", "sqlite3", "ray", "subprocess"}
"""Libraries of I/O, presentation and distribution: the pure layers never need them."""

CLOCK_CALLS = {("time", "time"), ("time", "time_ns"), ("datetime", "now"), ("datetime", "utcnow"),
               ("date", "today")}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) > 1:
            out.append((parts[0], path))
    return out


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def test_every_layer_is_known() -> None:
    layers = {layer for layer, _ in _modules()}
    assert layers <= set(ALLOWED), f"layers missing from the rule table: {sorted(layers - set(ALLOWED))}"


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_what_it_may(layer: str) -> None:
    wrong = []
    for owner, path in _modules():
        if owner != layer:
            continue
        for line, module in _imports(path):
            parts = module.split(".")
            if parts[0] == "quantum_trader" and len(parts) > 1:
                target = parts[1]
                if target != layer and target not in ALLOWED[layer]:
                    wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
            elif layer in PURE - {"config"} and parts[0] in EDGE_LIBRARIES:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports {module} (I/O in a pure layer)")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("layer", sorted(PURE))
def test_pure_layers_never_read_the_clock(layer: str) -> None:
    wrong = []
    for owner, path in _modules():
        if owner != layer:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                base = node.func.value
                name = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else ""
                if (name, node.func.attr) in CLOCK_CALLS:
                    wrong.append(f"{path.relative_to(PACKAGE)}:{node.lineno} calls {name}.{node.func.attr}()")
    assert not wrong, "\n".join(wrong)
