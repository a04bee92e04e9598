"""The phase-state store: phase changes and kill-switch drills, in SQLite by default or PostgreSQL by URL.

The current phase decides the tradable universe, so it must survive restarts and be
auditable: it is never stored as a bare number, only as the last row of an append-only
table of changes (time, from, to, reason, forced flag, operator). A promotion forced
past a failing gate stays visibly forced forever. Kill-switch drills are gate evidence
("kill switch tested") and get their own table with what was open and what was closed.

SQLAlchemy Core, no ORM: two small tables, plain rows in and out. A path (or a URL
without ``://``) means a SQLite file; anything with ``://`` is passed to SQLAlchemy as is
(``postgresql+psycopg://user@host/db``).

A URL's password is a secret: ``Journal.url`` and every message show it as ``***``
(``postgresql://user:***@host/db``), so it reaches neither a terminal nor the evidence
stored with a phase change. Reading never creates anything (``phase show`` on a fresh
machine leaves no empty ``journal.sqlite`` behind); the tables are created by the first write.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

JOURNAL_ENV = "QT_JOURNAL"
DEFAULT_JOURNAL = Path("journal.sqlite")

metadata = MetaData()

phase_events = Table(
    "phase_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("from_phase", Integer, nullable=True),
    Column("to_phase", Integer, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("forced", Boolean, nullable=False, default=False),
    Column("operator", String(128), nullable=False, default=""),
    Column("evidence", Text, nullable=False, default=""),
)
"""One row per phase change (``promote``/``demote``/``init``) and per drill (``drill``, from = to = phase)."""

killswitch_drills = Table(
    "killswitch_drills", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Integer, nullable=False),
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
)


class JournalError(ValueError):
    """A journal that cannot be opened or read; the message names the URL."""


class PhaseEventKind(StrEnum):
    INIT = "init"
    PROMOTE = "promote"
    DEMOTE = "demote"
    DRILL = "drill"


@dataclass(frozen=True, slots=True)
class PhaseChange:
    ts: int
    kind: PhaseEventKind
    from_phase: int | None
    to_phase: int
    reason: str
    forced: bool
    operator: str
    evidence: str = ""
    id: int | None = None


@dataclass(frozen=True, slots=True)
class DrillRecord:
    """One kill-switch drill: the switch tripped deliberately and every position had to close."""

    ts: int
    mode: str
    phase: int
    positions_before: int
    positions_after: int
    all_closed: bool
    tripped: bool
    trip_reason: str
    equity_before: float
    equity_after: float
    operator: str = ""
    details: str = "{}"
    id: int | None = None

    @property
    def passed(self) -> bool:
        """A drill proves the switch only if it tripped and closed a book that had positions."""
        return self.tripped and self.all_closed and self.positions_before > 0 and self.positions_after == 0


def journal_url(target: str | Path) -> str:
    text = str(target)
    return text if "://" in text else f"sqlite:///{Path(text).expanduser()}"


_PASSWORD_IN_URL = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]*:)[^@\s]+@")


def redact_url(url: str) -> str:
    """``postgresql://user:s3cret@host/db`` -> ``postgresql://user:***@host/db``; a URL SQLAlchemy cannot
    parse is masked by pattern, so a typo in a URL cannot print its password either."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError, TypeError):
        return redact_text(url)


def redact_text(text: str, secret: str | None = None) -> str:
    """Every ``scheme://user:password@`` in ``text`` with ``***`` for the password (and ``secret`` wherever it is)."""
    if secret:
        text = text.replace(secret, "***")
    return _PASSWORD_IN_URL.sub(lambda m: f"{m.group('head')}***@", text)


class Journal:
    """Append-only phase and drill records, in the SQLite file or database ``Journal(path_or_url)`` names."""

    def __init__(self, target: str | Path) -> None:
        raw = journal_url(target)
        self.url = redact_url(raw)
        """The URL as it may be shown or stored: the password replaced by ``***``."""
        self._password = _password_of(raw)
        try:
            parsed = make_url(raw)
            self._sqlite_file = (Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database
                                 and parsed.database != ":memory:" else None)
            self.engine: Engine = create_engine(raw)
        except ModuleNotFoundError as exc:
            raise JournalError(f"journal {self.url}: cannot open (its database driver is not installed: {exc}; "
                               f"install it, e.g. pip install {exc.name})") from None
        except (SQLAlchemyError, ValueError) as exc:
            detail = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            raise JournalError(f"journal {self.url}: cannot open ({redact_text(detail, self._password)})") from None
        self._tables_ready = False

    def __repr__(self) -> str:
        return f"Journal({self.url!r})"

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _database(self, action: str) -> Iterator[None]:
        """Database errors as one ``JournalError`` naming the (redacted) URL."""
        try:
            yield
        except SQLAlchemyError as exc:
            detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise JournalError(f"journal {self.url}: cannot {action} ({redact_text(detail, self._password)})"
                               ) from None

    def _has_tables(self) -> bool:
        """False for a SQLite file that does not exist: it is not created by looking at it."""
        if self._tables_ready:
            return True
        if self._sqlite_file is not None and not self._sqlite_file.exists():
            return False
        with self._database("read"):
            return bool(inspect(self.engine).has_table(phase_events.name))

    def _create_tables(self) -> None:
        if not self._tables_ready:
            with self._database("create its tables"):
                metadata.create_all(self.engine)
            self._tables_ready = True

    # ----------------------------------------------------------------- phase
    def phase_history(self) -> list[PhaseChange]:
        if not self._has_tables():
            return []
        with self._database("read"), self.engine.connect() as con:
            rows = con.execute(select(phase_events).order_by(phase_events.c.id)).mappings().all()
        return [
            PhaseChange(int(r["ts"]), PhaseEventKind(r["kind"]), r["from_phase"], int(r["to_phase"]), r["reason"],
                        bool(r["forced"]), r["operator"], r["evidence"], int(r["id"]))
            for r in rows
        ]

    def current_phase(self, default: int) -> int:
        """The ``to`` of the last change; ``default`` (the policy's start phase) when none is recorded."""
        changes = [c for c in self.phase_history() if c.kind is not PhaseEventKind.DRILL]
        return changes[-1].to_phase if changes else default

    def record_phase_change(self, change: PhaseChange) -> PhaseChange:
        if not 0 <= change.to_phase <= 3:
            raise JournalError(f"journal {self.url}: phase {change.to_phase} is not one of 0, 1, 2, 3")
        values: dict[str, Any] = {
            "ts": change.ts, "kind": change.kind.value, "from_phase": change.from_phase,
            "to_phase": change.to_phase, "reason": change.reason, "forced": change.forced,
            "operator": change.operator, "evidence": change.evidence,
        }
        self._create_tables()
        with self._database("write"), self.engine.begin() as con:
            new_id = con.execute(insert(phase_events).values(**values)).inserted_primary_key
        return PhaseChange(**{**values, "kind": change.kind, "id": int(new_id[0]) if new_id else None})

    # ----------------------------------------------------------------- drills
    def record_drill(self, drill: DrillRecord) -> DrillRecord:
        """Store the drill and its line in the phase table, in one transaction."""
        values: dict[str, Any] = {
            "ts": drill.ts, "mode": drill.mode, "phase": drill.phase, "positions_before": drill.positions_before,
            "positions_after": drill.positions_after, "all_closed": drill.all_closed, "tripped": drill.tripped,
            "trip_reason": drill.trip_reason, "equity_before": drill.equity_before,
            "equity_after": drill.equity_after, "operator": drill.operator, "details": drill.details,
        }
        verdict = "passed" if drill.passed else "FAILED"
        self._create_tables()
        with self._database("write"), self.engine.begin() as con:
            key = con.execute(insert(killswitch_drills).values(**values)).inserted_primary_key
            con.execute(insert(phase_events).values(
                ts=drill.ts, kind=PhaseEventKind.DRILL.value, from_phase=drill.phase, to_phase=drill.phase,
                reason=f"kill-switch drill ({drill.mode}) {verdict}: {drill.positions_before} positions open, "
                       f"{drill.positions_after} left", forced=False, operator=drill.operator,
                evidence=json.dumps({"drill_id": int(key[0]) if key else None}),
            ))
        return DrillRecord(**{**values, "id": int(key[0]) if key else None})

    def drills(self) -> list[DrillRecord]:
        if not self._has_tables():
            return []
        with self._database("read"), self.engine.connect() as con:
            rows = con.execute(select(killswitch_drills).order_by(killswitch_drills.c.id)).mappings().all()
        return [DrillRecord(**{k: r[k] for k in r}) for r in rows]


def _password_of(url: str) -> str | None:
    """The password of a URL SQLAlchemy may not parse (then anything between ``user:`` and ``@``)."""
    match = re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]*:([^@\s]+)@", url)
    return match.group(1) if match else None
