"""DESIGN.md's one rule between layers, read from the source: who may import whom.

Pure logic in the middle (numbers in, decisions out), I/O at the edges, the kernel above
both, analytics and the command line on top. A module importing upwards (absolutely,
relatively or by a module name in a string), or a pure layer reaching for a database, an
exchange, a file, the network, the terminal, the environment or the clock, fails here
naming the file, the line and what it did.

The checks are functions of a package root, so ``test_layers_can_fail.py`` runs them on a
copy of the package with one violation injected at a time and sees each one caught.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "quantum_trader"
NAME = "quantum_trader"
ROOT = NAME
"""The package's own ``__init__.py``: it runs before any layer is imported, so it is held to
the strictest rules (imports nothing of ours, no I/O, no clock)."""

PURE = {"domain", "config", "indicators", "portfolio", "risk", "universe", "signals"}
HELD_PURE = PURE | {ROOT}
EDGES = {"data", "venues", "journal", "monitor"}
ALLOWED: dict[str, set[str]] = {
    ROOT: set(),
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
"""Per layer, the other layers it may import (its own modules and the package root always)."""

EDGE_LIBRARIES = {"duckdb", "sqlalchemy", "ccxt", "pyarrow", "plotly", "typer", "rich", "fastapi", "uvicorn",
                  "requests", "httpx", "urllib", "http", "socket", "sqlite3", "ray", "subprocess", "shutil",
                  "tempfile"}
"""Libraries of I/O, presentation and distribution: the pure layers never need them."""

IMPORT_CALLS = {"importlib.import_module", "__import__", "builtins.__import__", "importlib.__import__"}
RUN_TIME_CODE = {"exec", "eval", "importlib.util.spec_from_file_location", "importlib.util.module_from_spec",
                 "runpy.run_path", "runpy.run_module"}
"""Code chosen at run time: a pure layer is handed functions, it never loads them."""

CLOCK_CALLS = {"time.time", "time.time_ns", "time.monotonic", "time.monotonic_ns", "time.perf_counter",
               "time.perf_counter_ns", "time.process_time", "datetime.datetime.now", "datetime.datetime.utcnow",
               "datetime.datetime.today", "datetime.date.today", "pandas.Timestamp.now", "pandas.Timestamp.utcnow",
               "pandas.Timestamp.today"}
CLOCK_WITHOUT_ARGUMENT = {"time.localtime", "time.gmtime", "time.ctime"}
CLOCK_STRINGS = ({"pandas.Timestamp", "pandas.to_datetime", "numpy.datetime64"}, {"now", "today"})
"""``pd.Timestamp("now")`` reads the clock as surely as ``datetime.now()``."""

IO_CALLS = {"open", "print", "input", "io.open", "os.open", "os.remove", "os.unlink", "os.rename", "os.replace",
            "os.mkdir", "os.makedirs", "os.rmdir", "os.listdir", "os.scandir", "os.walk", "os.system", "os.popen",
            "os.getenv", "os.putenv", "os.path.exists", "os.path.isfile", "os.path.isdir", "os.path.getsize",
            "os.path.getmtime", "numpy.load", "numpy.save", "numpy.savez", "numpy.savez_compressed",
            "numpy.loadtxt", "numpy.savetxt", "numpy.genfromtxt", "numpy.fromfile", "numpy.memmap", "json.load",
            "json.dump", "pickle.load", "pickle.dump"}
IO_PREFIXES = ("pandas.read_", "pyarrow.", "shutil.", "tempfile.", "urllib.", "socket.", "subprocess.", "sqlite3.",
               "logging.")
IO_METHODS = {"read_text", "read_bytes", "write_text", "write_bytes", "open", "mkdir", "unlink", "rmdir", "touch",
              "iterdir", "glob", "rglob", "exists", "is_file", "is_dir", "stat", "symlink_to", "hardlink_to",
              "tofile", "to_csv", "to_parquet", "to_feather", "to_pickle", "to_hdf", "to_sql", "to_excel"}
"""Methods of ``Path``, NumPy arrays and DataFrames that touch a file, whatever object they are called on."""
IO_ATTRIBUTES = {"os.environ", "os.environb", "sys.stdin", "sys.stdout", "sys.stderr", "sys.argv"}


@dataclass(frozen=True, slots=True)
class Allowance:
    """One named, documented use of I/O in a pure layer: this file, this function, this call."""

    path: str
    function: str
    api: str
    why: str


PURE_IO_ALLOWED = (
    Allowance("config/loader.py", "default_policy_text", ".read_text",
              "the spec's numbers ship inside the package as config/default_policy.yaml; config is their reader"),
    Allowance("config/loader.py", "load_policy", ".read_bytes",
              "the user's policy file, read where it is parsed so every error names its file and line"),
    Allowance("config/loader.py", "parse_policy", "os.environ",
              "QT__ overrides of the policy (DESIGN: config holds the policy and its overrides)"),
)
"""The only I/O a pure layer does; anything else there, in config too, fails."""

RUN_TIME_ALLOWED = (
    Allowance("domain/slot_init.py", "slot_init", "exec",
              "compiles an __init__ from a frozen dataclass' own field names, as dataclasses does for its own; "
              "no text from outside the class reaches it"),
)
"""The only run-time code a pure layer makes; any other ``exec``/``eval`` there fails."""


@dataclass(frozen=True, slots=True)
class Violation:
    path: str
    line: int
    what: str
    api: str = ""
    function: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.what}"


@dataclass(frozen=True, slots=True)
class Module:
    layer: str
    rel: str
    """Path inside the package root, e.g. ``signals/model.py``."""
    name: str
    package: str
    """Where a ``from . import`` starts: the module itself for an ``__init__.py``, else its parent."""
    tree: ast.Module


@cache
def _parse(text: str) -> ast.Module:
    return ast.parse(text)


def modules(root: Path) -> list[Module]:
    """Every module of the package at ``root``, ``__init__.py`` files included."""
    out = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        is_init = path.name == "__init__.py"
        layer = parts[0] if len(parts) > 1 else ROOT if is_init else path.stem
        package = ".".join([NAME, *parts[:-1]])
        name = package if is_init else f"{package}.{path.stem}"
        out.append(Module(layer, "/".join(parts), name, name if is_init else package,
                          _parse(path.read_text(encoding="utf-8"))))
    return out


@cache
def _aliases(module: Module) -> dict[str, str]:
    """Local name -> what it names: ``pd`` -> ``pandas``, ``now`` -> ``time.time``, ``dt`` -> ``datetime.datetime``."""
    out: dict[str, str] = {}
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                head = alias.name.partition(".")[0]
                out[alias.asname or head] = alias.name if alias.asname else head
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(module, node) or ""
            for alias in node.names:
                out[alias.asname or alias.name] = f"{base}.{alias.name}"
    return out


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value, aliases)
        return None if head is None else f"{head}.{node.attr}"
    return None


def _resolve_from(module: Module, node: ast.ImportFrom) -> str | None:
    """The absolute module of ``from ... import``; None for a relative import above the package."""
    if node.level == 0:
        return node.module
    parts = module.package.split(".")
    if node.level - 1 >= len(parts):
        return None
    base = parts[: len(parts) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _static_text(node: ast.expr, module: Module) -> tuple[str, bool]:
    """What a string expression is known to start with before run time, and whether that is all of it."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value, True
    if isinstance(node, ast.Name) and node.id in ("__name__", "__package__"):
        return module.name if node.id == "__name__" else module.package, True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, complete = _static_text(node.left, module)
        if not complete:
            return left, False
        right, complete = _static_text(node.right, module)
        return left + right, complete
    if isinstance(node, ast.JoinedStr):
        text = ""
        for part in node.values:
            value = part.value if isinstance(part, ast.FormattedValue) and part.conversion == -1 else part
            sub, complete = _static_text(value, module) if isinstance(value, ast.expr) else ("", False)
            text += sub
            if not complete:
                return text, False
        return text, True
    return "", False


def _named_module(node: ast.Call, module: Module) -> str | None:
    """The module an ``import_module``/``__import__`` call names, if its layer is known before run time."""
    if not node.args:
        return None
    text, complete = _static_text(node.args[0], module)
    if text.startswith("."):
        dots = len(text) - len(text.lstrip("."))
        parts = module.package.split(".")
        text = ".".join([*parts[: len(parts) - (dots - 1)], text[dots:]]).rstrip(".")
    known = text.split(".")[: None if complete else -1]
    if not known or not known[0] or (known[0] == NAME and len(known) < 2):
        return None
    return ".".join(known)


@cache
def _imports(module: Module) -> tuple[tuple[int, str | None, str], ...]:
    """(line, imported module, how), the module None when only run time knows it (``how`` then says why)."""
    return tuple(_find_imports(module, _aliases(module)))


def _find_imports(module: Module, aliases: dict[str, str]) -> Iterator[tuple[int, str | None, str]]:
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name, "") for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve_from(module, node)
            how = f" (from {'.' * node.level}{node.module or ''})" if node.level else ""
            if target is None:
                yield node.lineno, None, f"relative import beyond the package{how}"
            elif target == NAME:
                yield from ((node.lineno, f"{NAME}.{alias.name}", how) for alias in node.names)
            else:
                yield node.lineno, target, how
        elif isinstance(node, ast.Call):
            called = _dotted(node.func, aliases)
            if called in IMPORT_CALLS:
                target = _named_module(node, module)
                yield node.lineno, target, f" by name ({called}())" if target else (
                    f"imports a module named at run time ({called}())")
            elif called in RUN_TIME_CODE and not _run_time_allowed(module, node, called):
                yield node.lineno, None, f"calls {called}(): code chosen at run time"


def _run_time_allowed(module: Module, call: ast.Call, called: str) -> bool:
    return any((a.path, a.function, a.api) == (module.rel, _function_of(module, call), called)
               for a in RUN_TIME_ALLOWED)


def _function_of(module: Module, node: ast.AST) -> str:
    """The innermost function around ``node`` ("" at module level)."""
    line = getattr(node, "lineno", 0)
    around = [f for f in ast.walk(module.tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
              and f.lineno <= line <= (f.end_lineno or f.lineno)]
    return max(around, key=lambda f: f.lineno).name if around else ""


def _layer_of(root: Path, target: str) -> str | None:
    """The layer a module of ours lives in (the package root for ``quantum_trader.__version__``); None if not ours."""
    parts = target.split(".")
    if parts[0] != NAME:
        return None
    if len(parts) == 1 or not ((root / parts[1]).is_dir() or (root / f"{parts[1]}.py").is_file()):
        return ROOT
    return parts[1]


def check_imports(root: Path, layer: str | None = None) -> list[Violation]:
    """Imports against ``ALLOWED``; edge libraries and run-time-chosen modules in the pure layers."""
    wrong = []
    for module in modules(root):
        if layer is not None and module.layer != layer:
            continue
        for line, target, how in _imports(module):
            if target is None:
                if module.layer in HELD_PURE or how.startswith("relative"):
                    wrong.append(Violation(module.rel, line, how))
                continue
            owner = _layer_of(root, target)
            if owner is None:
                if module.layer in HELD_PURE and target.partition(".")[0] in EDGE_LIBRARIES:
                    wrong.append(Violation(module.rel, line, f"imports {target} (I/O in a pure layer)"))
            elif owner not in (ROOT, module.layer) and owner not in ALLOWED.get(module.layer, set()):
                wrong.append(Violation(module.rel, line, f"imports {target}{how}"))
    return wrong


class _PureVisitor(ast.NodeVisitor):
    """Clock reads, I/O calls, the environment and ``global`` state, with the enclosing function's name."""

    def __init__(self, module: Module) -> None:
        self.module, self.aliases = module, _aliases(module)
        self.scope: list[str] = []
        self.found: list[Violation] = []

    def _add(self, node: ast.AST, what: str, api: str = "") -> None:
        self.found.append(Violation(self.module.rel, getattr(node, "lineno", 0), what, api, ".".join(self.scope)))

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._scoped(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._scoped(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scoped(node)

    def visit_Global(self, node: ast.Global) -> None:
        self._add(node, f"declares global {', '.join(node.names)} (state in a pure layer)")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = _dotted(node, self.aliases)
        if name in IO_ATTRIBUTES:
            self._add(node, f"reads {name} (I/O in a pure layer)", name)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _dotted(node.func, self.aliases)
        first = node.args[0] if node.args else None
        if name in CLOCK_CALLS or (name in CLOCK_WITHOUT_ARGUMENT and not node.args) or (
                name in CLOCK_STRINGS[0] and isinstance(first, ast.Constant) and first.value in CLOCK_STRINGS[1]):
            self._add(node, f"reads the clock: {name}()")
        elif name is not None and (name in IO_CALLS or name.startswith(IO_PREFIXES)):
            self._add(node, f"calls {name}() (I/O in a pure layer)", name)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in IO_METHODS:
            self._add(node, f"calls {ast.unparse(node.func)}() (I/O in a pure layer)", f".{node.func.attr}")
        self.generic_visit(node)


def _allowed(found: Violation) -> bool:
    return any((a.path, a.function, a.api) == (found.path, found.function, found.api) for a in PURE_IO_ALLOWED)


@cache
def _pure_findings_in(module: Module) -> tuple[Violation, ...]:
    visitor = _PureVisitor(module)
    visitor.visit(module.tree)
    return tuple(visitor.found)


def _pure_findings(root: Path, layer: str | None) -> Iterator[Violation]:
    for module in modules(root):
        if module.layer in HELD_PURE and layer in (None, module.layer):
            yield from _pure_findings_in(module)


def check_pure(root: Path, layer: str | None = None) -> list[Violation]:
    """No I/O, clock reads or globals in the pure layers and the package root, but the named allowances."""
    return [v for v in _pure_findings(root, layer) if not _allowed(v)]


def unused_allowances(root: Path) -> list[Allowance]:
    """Allowances that no longer match a call: a stale exception is a hole waiting to be used."""
    used = {(v.path, v.function, v.api) for v in _pure_findings(root, None)}
    for module in modules(root):
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call) and (called := _dotted(node.func, _aliases(module))) in RUN_TIME_CODE:
                used.add((module.rel, _function_of(module, node), called))
    return [a for a in (*PURE_IO_ALLOWED, *RUN_TIME_ALLOWED) if (a.path, a.function, a.api) not in used]


def check_package(root: Path) -> list[Violation]:
    unknown = [Violation(m.rel, 1, f"is in layer {m.layer!r}, missing from the rule table")
               for m in modules(root) if m.layer not in ALLOWED]
    return [*unknown, *check_imports(root), *check_pure(root)]


def _lines(found: list[Violation]) -> str:
    return "\n".join(map(str, found))


def test_every_layer_is_known() -> None:
    layers = {m.layer for m in modules(PACKAGE)}
    assert layers <= set(ALLOWED), f"layers missing from the rule table: {sorted(layers - set(ALLOWED))}"
    assert {ROOT, *(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())} == layers


def test_every_init_is_checked() -> None:
    checked = {m.rel for m in modules(PACKAGE)}
    assert "__init__.py" in checked and {f"{layer}/__init__.py" for layer in ALLOWED if layer != ROOT} <= checked


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_what_it_may(layer: str) -> None:
    wrong = check_imports(PACKAGE, layer)
    assert not wrong, _lines(wrong)


@pytest.mark.parametrize("layer", sorted(HELD_PURE))
def test_pure_layers_do_no_io_read_no_clock_and_keep_no_globals(layer: str) -> None:
    wrong = check_pure(PACKAGE, layer)
    assert not wrong, _lines(wrong)


def test_each_io_allowance_names_a_call_that_exists() -> None:
    assert not unused_allowances(PACKAGE), unused_allowances(PACKAGE)
