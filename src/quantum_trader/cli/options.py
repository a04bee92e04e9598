"""Option values as a user types them, turned into engine values; every error names the option and the value.

A bare ``month must be in 1..12`` does not say which of ``--start`` and ``--end`` was wrong;
``--start '2025-13-01': ...`` does. The heavy modules (the catalog, the policy) are imported
inside the functions, so that importing a command module stays cheap (``--help`` in well
under a second).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from quantum_trader.cli.errors import fail
from quantum_trader.domain.symbols import SymbolError, unified_perp, unified_perps

if TYPE_CHECKING:
    from quantum_trader.config import Policy

DEFAULT_EXCHANGE = "binanceusdm"
"""The catalog's default exchange folder (``data.catalog.DEFAULT_EXCHANGE``, kept here so that
``--help`` need not import the catalog; a test keeps the two equal)."""
TIME_FORMS = "use ISO-8601 UTC such as 2025-01-31 or 2025-01-31T12:00"


def time_option(option: str, value: str) -> int:
    """Epoch ms of an ISO-8601 date or time (UTC unless an offset is given)."""
    from quantum_trader.domain.time import parse_time

    try:
        return parse_time(value)
    except ValueError as exc:
        raise fail(f"{option} {value!r}: not a date or time ({exc}); {TIME_FORMS}") from None


def optional_time(option: str, value: str | None) -> int | None:
    return None if value is None else time_option(option, value)


def symbols_option(option: str, value: str) -> tuple[str, ...]:
    """Comma-separated symbols in any form (``BTC``, ``BTCUSDT``, ``BTC/USDT:USDT``) as unified perpetuals."""
    try:
        return unified_perps(value)
    except SymbolError as exc:
        raise fail(f"{option}: {exc}") from None


def symbol_option(option: str, value: str) -> str:
    try:
        return unified_perp(value)
    except SymbolError as exc:
        raise fail(f"{option}: {exc}") from None


def timeframe_option(option: str, value: str) -> str:
    from quantum_trader.domain.time import timeframe_ms

    try:
        timeframe_ms(value)
    except ValueError as exc:
        raise fail(f"{option}: {exc}") from None
    return value.strip()


def catalog_root(catalog: Path | None, *, must_exist: bool = True) -> Path:
    """``--catalog``, else ``$QT_CATALOG``, else ./catalog; a folder that is not there is an error, not "empty"."""
    from quantum_trader.data.catalog import default_catalog_root

    root = catalog if catalog is not None else default_catalog_root()
    how = "--catalog" if catalog is not None else "the default catalog (set --catalog or $QT_CATALOG)"
    if root.exists() and not root.is_dir():
        raise fail(f"catalog {root} is a file, not a folder ({how})")
    if must_exist and not root.is_dir():
        raise fail(f"catalog {root} does not exist ({how}); fill it with `quantum-trader data ingest|download|synth`")
    return root


def output_dir(option: str, path: Path) -> Path:
    """A folder a command will write into: refused at once if a file is in the way (not after minutes of work)."""
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                raise fail(f"{option} {path}: {part} is a file, not a folder")
            break
    return path


def load_policy_or_exit(path: Path | None, env: dict[str, str] | None = None) -> Policy:
    """The policy (defaults, ``path``, ``QT__`` overrides), or one line per problem and exit code 2."""
    from quantum_trader.config import PolicyError, load_policy

    try:
        return load_policy(path) if env is None else load_policy(path, env=env)
    except PolicyError as exc:
        raise fail(f"invalid policy {policy_problem(str(exc))}") from None


def policy_problem(message: str) -> str:
    """A policy error as printed: one line per problem; a YAML parser's message, which spans several
    lines (the offending text with a caret under the column), folded into its one line."""
    head, sep, rest = message.partition("not valid YAML:")
    if not sep:
        return message
    return f"{head}{sep} " + " ".join(word for word in rest.split() if word != "^")
