"""The phase-state store: phase changes and kill-switch drills, in SQLite by default or PostgreSQL by URL.

The current phase decides the tradable universe, so it must survive restarts and be
auditable: it is never stored as a bare number, only as the last row of an append-only
table of changes (time, from, to, reason, forced flag, operator). A promotion forced
past a failing gate stays visibly forced forever. Kill-switch drills are gate evidence
("kill switch tested") and get their own table with what was open and what was closed.

The tables are in ``schema.py``, the connection, URL redaction and errors in ``database.py``;
rows carry the account (``journal/<account>.sqlite`` by default, see ``accounts.py``). A
journal made before migrations (no ``account`` column) is read as it is, all its rows being
the default account's, and upgraded in place by its next write.

A URL's password is a secret: ``Journal.url`` and every message show it as ``***``
(``postgresql://user:***@host/db``), so it reaches neither a terminal nor the evidence
stored with a phase change. Reading never creates anything (``phase show`` on a fresh
machine leaves no empty journal behind); the first write creates the tables at the head revision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, func, insert, select, true

from quantum_trader.journal.accounts import JOURNAL_ENV, check_account, default_journal
from quantum_trader.journal.database import Database, JournalError, journal_url, redact_text, redact_url
from quantum_trader.journal.schema import DEFAULT_ACCOUNT, killswitch_drills, metadata, phase_events

__all__ = ["DEFAULT_JOURNAL", "JOURNAL_ENV", "DrillRecord", "Journal", "JournalError", "PhaseChange",
           "PhaseEventKind", "journal_url", "killswitch_drills", "metadata", "phase_events", "redact_text",
           "redact_url"]

DEFAULT_JOURNAL = default_journal(DEFAULT_ACCOUNT)


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


class Journal:
    """Append-only phase and drill records of one account, in the SQLite file or database ``Journal(path_or_url)``
    names."""

    def __init__(self, target: str | Path | Database, *, account: str = DEFAULT_ACCOUNT,
                 create_folder: bool = False) -> None:
        self.db = target if isinstance(target, Database) else Database(target, create_folder=create_folder)
        self.url = self.db.url
        """The URL as it may be shown or stored: the password replaced by ``***``."""
        self.engine = self.db.engine
        self.account = check_account(account)
        self._scoped: bool | None = None

    def __repr__(self) -> str:
        return f"Journal({self.url!r})"

    def close(self) -> None:
        self.db.close()

    def _has_tables(self) -> bool:
        """False for a SQLite file that does not exist: it is not created by looking at it."""
        return self.db.has_table(phase_events.name)

    def _mine(self, table: Table) -> ColumnElement[bool]:
        """This account's rows; every row of a journal made before accounts (it has no ``account`` column)."""
        if self._scoped is None:
            self._scoped = "account" in self.db.columns(table.name)
        return table.c.account == self.account if self._scoped else true()

    def _select(self, table: Table, con: Connection) -> list[dict[str, Any]]:
        mine = self._mine(table)
        columns = [c for c in table.c if self._scoped or c.name != "account"]
        query = select(*columns).where(mine).order_by(table.c.id)
        return [dict(r) for r in con.execute(query).mappings()]

    # ----------------------------------------------------------------- phase
    def phase_history(self) -> list[PhaseChange]:
        if not self._has_tables():
            return []
        with self.db.read() as con:
            rows = self._select(phase_events, con)
        return [
            PhaseChange(int(r["ts"]), PhaseEventKind(r["kind"]), r["from_phase"], int(r["to_phase"]), r["reason"],
                        bool(r["forced"]), r["operator"], r["evidence"], int(r["id"]))
            for r in rows
        ]

    def last_change_id(self) -> int:
        """The id of the account's latest phase row (0: none): one indexed read, so a running session can ask at
        every decision whether the phase changed and read the history only when it did."""
        if not self._has_tables():
            return 0
        with self.db.read() as con:
            found = con.execute(select(func.max(phase_events.c.id)).where(self._mine(phase_events))).scalar()
        return int(found or 0)

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
        with self.db.write() as con:
            new_id = con.execute(insert(phase_events).values(**values, account=self.account)).inserted_primary_key
        self._scoped = True
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
        with self.db.write() as con:
            key = con.execute(insert(killswitch_drills).values(**values, account=self.account)).inserted_primary_key
            con.execute(insert(phase_events).values(
                ts=drill.ts, kind=PhaseEventKind.DRILL.value, from_phase=drill.phase, to_phase=drill.phase,
                reason=f"kill-switch drill ({drill.mode}) {verdict}: {drill.positions_before} positions open, "
                       f"{drill.positions_after} left", forced=False, operator=drill.operator,
                evidence=json.dumps({"drill_id": int(key[0]) if key else None}), account=self.account,
            ))
        self._scoped = True
        return DrillRecord(**{**values, "id": int(key[0]) if key else None})

    def drills(self) -> list[DrillRecord]:
        if not self.db.has_table(killswitch_drills.name):
            return []
        with self.db.read() as con:
            rows = self._select(killswitch_drills, con)
        return [DrillRecord(**{k: v for k, v in r.items() if k != "account"}) for r in rows]
