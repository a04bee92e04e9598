"""Every failure of a command ends as one line on stderr and exit code 2; ``--debug`` lets the traceback through.

Why one place: no command can foresee every failure (a Parquet file cut short by a full
disk, a missing database driver, a bug), and a thirty-line traceback tells an operator
nothing they can act on. The project's own errors (``PolicyError``, ``CatalogError``,
``JournalError``, ... all ``ValueError`` subclasses) are written for the user and name the
file, key or row, so they are printed as they are. Anything else keeps its type in the
line (``internal error: KeyError: ...``) so that a bug is never mistaken for bad input.

Usage errors (a wrong type, a missing option) keep Typer's own short message and exit code
2. Every message passes through :func:`redact_secrets` first: a database URL's password
must never reach a terminal or a log.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

DEBUG_ENV = "QT_DEBUG"
DEBUG_FLAG = "--debug"
EXIT_ERROR = 2
TRACEBACK_HINT = "run with --debug for the traceback"

_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]*:)(?P<password>[^@\s]+)@")
_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def redact_secrets(text: str) -> str:
    """``postgresql://user:s3cret@host/db`` -> ``postgresql://user:***@host/db``, wherever it appears in ``text``."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}***@", text)


def debug_requested() -> bool:
    """``QT_DEBUG`` set to a true value (the ``--debug`` option is read by the root command)."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def hoist_debug(args: Sequence[str]) -> list[str]:
    """Move ``--debug`` to the front, so ``quantum-trader backtest ... --debug`` works as the error line suggests."""
    items = list(args)
    cut = items.index("--") if "--" in items else len(items)
    found = [a for a in items[:cut] if a == DEBUG_FLAG]
    if not found:
        return items
    return [DEBUG_FLAG, *(a for a in items[:cut] if a != DEBUG_FLAG), *items[cut:]]


def _where(exc: BaseException) -> str:
    """The innermost frame of our own code: where a bug report has to start."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(str(_PACKAGE_DIR))]
    if not frames:
        return ""
    last = frames[-1]
    return f"{Path(last.filename).relative_to(_PACKAGE_DIR.parent)}:{last.lineno} in {last.name}"


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def describe(exc: BaseException) -> str:
    """One line for an error: what happened, where, what to do (multi-problem policy errors keep their list)."""
    kind = type(exc)
    module = kind.__module__.split(".")[0]
    if isinstance(exc, OSError) and not module.startswith(("ccxt", "sqlalchemy")):
        where = f": {exc.filename}" if exc.filename else ""
        what = exc.strerror or _first_line(str(exc)) or kind.__name__
        text = f"error: {what}{where}; check the path and its permissions"
    elif module == "ccxt":
        text = f"error: exchange error ({kind.__name__}): {_first_line(str(exc))}; re-run to resume"
    elif module == "sqlalchemy":
        orig = getattr(exc, "orig", None)
        text = f"error: database error ({kind.__name__}): {_first_line(str(orig or exc))}; check the journal URL"
    elif isinstance(exc, ValueError):
        text = f"error: {str(exc).strip() or kind.__name__}"
    else:
        where = _where(exc)
        text = (f"internal error: {kind.__name__}: {_first_line(str(exc))}"
                f"{f' ({where})' if where else ''}; this is a bug, please report it")
    return redact_secrets(f"{text}; {TRACEBACK_HINT}")


_ODD_BREAKS = str.maketrans({c: repr(c)[1:-1] for c in "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})
"""Characters a terminal or ``str.splitlines`` takes as a line break, but ``\\n``: written as their escapes, so a
name holding one (a path, a symbol) cannot split an error line (a policy error's list keeps its own ``\\n``)."""


def say_error(message: str) -> None:
    """Print an error line on stderr, not re-wrapped, never read as markup (a message may hold ``[...]``)."""
    from rich.console import Console
    from rich.markup import escape

    line = redact_secrets(message).translate(_ODD_BREAKS)
    head, sep, rest = line.partition(": ")
    styled = f"[bold red]{escape(head)}[/]{sep}{escape(rest)}" if sep else escape(line)
    Console(stderr=True, soft_wrap=True, highlight=False).print(styled)


def fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    """``raise fail("...")``: one ``error: ...`` line and the exit code (2: bad input; 1: refused)."""
    say_error(f"error: {message}")
    return typer.Exit(code=code)


class ErrorLineGroup(TyperGroup):
    """The root command group: catches what a command did not, and honours ``--debug`` anywhere."""

    def main(self, args: Sequence[str] | None = None, *extra_args: Any, **extra: Any) -> Any:
        given = sys.argv[1:] if args is None else list(args)
        return super().main(hoist_debug(given), *extra_args, **extra)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (TyperException, typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            if ctx.params.get("debug") or debug_requested():
                raise
            say_error(describe(exc))
            raise typer.Exit(code=EXIT_ERROR) from None
