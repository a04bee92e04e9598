"""The journal's tables at the head revision: the shared metadata, the exact decimal type, and the phase tables.

SQLAlchemy Core, no ORM: plain rows in and out. These definitions are what the code reads and
writes; the migrations (``journal/migrations``) are what builds them in a database, frozen
per revision. ``tests/journal/test_migrations.py`` compares the two on SQLite and PostgreSQL,
so a column added here without a migration fails there.

Money and quantities are :class:`~decimal.Decimal` in the engine and must come back exactly
(a restored peak equity that differs in the last digit moves the drawdown trigger), so they
are stored as their decimal text: exact on every backend, with the exponent kept. The few floats
of the trading tables (an order's equity fraction, a fill's reference price) are stored as their
repr for the same reason. Times are
epoch milliseconds in 64-bit integers (a 32-bit ``INTEGER`` on PostgreSQL overflows in 1970).
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Dialect, Float, Integer, MetaData, String, Table, Text
from sqlalchemy.types import TypeDecorator

metadata = MetaData()

ACCOUNT_LEN = 64
SESSION_LEN = 128
DEFAULT_ACCOUNT = "default"


class ExactDecimal(TypeDecorator[Decimal]):
    """A finite :class:`Decimal` stored as its text (``str(d)``) and read back bit for bit."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"expected a finite Decimal, got {value!r}")
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"stored value {value!r} is not a decimal number") from None


class ExactFloat(TypeDecorator[float]):
    """A finite float stored as its shortest repr and read back bit for bit (a REAL column on SQLite folds
    ``-0.0`` into ``0.0``)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: float | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"expected a finite float, got {value!r}")
        return repr(number)

    def process_result_value(self, value: Any, dialect: Dialect) -> float | None:
        return None if value is None else float(value)


def head_metadata() -> MetaData:
    """Every table at the head revision: the trading tables register themselves when ``tables`` is imported."""
    from quantum_trader.journal import tables  # noqa: F401

    return metadata


def account_column() -> Column[str]:
    return Column("account", String(ACCOUNT_LEN), nullable=False, server_default=DEFAULT_ACCOUNT)


def session_column() -> Column[str]:
    return Column("session", String(SESSION_LEN), nullable=False, server_default="")


phase_events = Table(
    "phase_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("from_phase", Integer, nullable=True),
    Column("to_phase", Integer, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("forced", Boolean, nullable=False, default=False),
    Column("operator", String(128), nullable=False, default=""),
    Column("evidence", Text, nullable=False, default=""),
    account_column(),
)
"""One row per phase change (``promote``/``demote``/``init``) and per drill (``drill``, from = to = phase)."""

killswitch_drills = Table(
    "killswitch_drills", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", BigInteger, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("phase", Integer, nullable=False),
    Column("positions_before", Integer, nullable=False),
    Column("positions_after", Integer, nullable=False),
    Column("all_closed", Boolean, nullable=False),
    Column("tripped", Boolean, nullable=False),
    Column("trip_reason", Text, nullable=False),
    Column("equity_before", Float, nullable=False),
    Column("equity_after", Float, nullable=False),
    Column("operator", String(128), nullable=False, default=""),
    Column("details", Text, nullable=False, default="{}"),
    account_column(),
)
