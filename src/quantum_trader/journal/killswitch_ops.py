"""The operator's view of the stored kill switch: how far each trigger is, and when a reset is allowed.

"Stays tripped until an operator resets it" must mean something: a reset is refused while the
condition that tripped the switch still holds, measured on the last equity the journal has:

* drawdown: equity still at or beyond the policy's drawdown from peak equity;
* daily loss: on the same UTC day as the day-start equity, equity still at or beyond the daily
  loss from it (on a later day the daily trip re-arms by itself, so nothing holds it).

``force`` overrides on record. A reset that would trip again at the next mark is made to stick
the way :func:`quantum_trader.risk.kill_switch.reset_drawdown` does: a drawdown reset rebases the
peak to the last equity, a forced daily reset rebases day-start equity to it.

A running session learns of an operator's trip or reset from two reads (``engine.operator_switch``):
``ChangeWatch.latest``, the newest change's id asked at every bar, and ``changes_after``, read only when it
moved.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from quantum_trader.domain.time import format_time, utc_day_start
from quantum_trader.journal.database import Database, JournalError
from quantum_trader.journal.records import EquitySnapshot, KillSwitchChange, KillSwitchRecord
from quantum_trader.journal.tables import killswitch_events
from quantum_trader.risk.events import EventKind


@dataclass(frozen=True, slots=True)
class Trigger:
    """One trigger measured on the last equity: ``loss`` and ``limit`` are fractions of ``base``."""

    name: str
    base: Decimal
    """Peak equity (drawdown) or day-start equity (daily loss)."""
    loss: float
    limit: float
    trigger_equity: Decimal
    """The equity at or below which the trigger fires."""
    current: bool = True
    """False for the daily trigger when the equity is of another UTC day than its day-start equity."""

    @property
    def hit(self) -> bool:
        return self.current and self.loss >= self.limit

    def describe(self, equity: Decimal) -> str:
        what = f"{self.name} {self.loss:.2%} of {self.base:,.2f}, limit {self.limit:.2%}"
        if not self.current:
            return f"{what} (day-start equity is of another UTC day: not measured today)"
        if self.hit:
            return f"{what}: beyond the limit (fires at equity {self.trigger_equity:,.2f} or below)"
        room = equity - self.trigger_equity
        return (f"{what}: {self.limit - self.loss:.2%} to go "
                f"({room:,.2f} above the trigger at {self.trigger_equity:,.2f})")


def _loss(base: Decimal, equity: Decimal) -> float:
    return float((base - equity) / base) if base > 0 else 0.0


def _trigger_equity(base: Decimal, limit: float) -> Decimal:
    return base * (1 - Decimal(repr(limit)))


def drawdown_trigger(record: KillSwitchRecord, equity: Decimal, limit: float) -> Trigger:
    return Trigger("drawdown from peak", record.peak_equity, _loss(record.peak_equity, equity), limit,
                   _trigger_equity(record.peak_equity, limit))


def daily_trigger(record: KillSwitchRecord, equity: EquitySnapshot, limit: float) -> Trigger:
    base = record.day_start_equity
    return Trigger("loss since day start", base, _loss(base, equity.equity), limit, _trigger_equity(base, limit),
                   current=utc_day_start(equity.ts) == record.equity_day)


def what_tripped(record: KillSwitchRecord) -> str:
    parts = [kind for kind, on in (("daily loss", record.state.daily_tripped),
                                   ("drawdown", record.state.drawdown_tripped)) if on]
    return " and ".join(parts) if parts else "armed"


def reset_refusal(record: KillSwitchRecord, equity: EquitySnapshot | None, *, drawdown_limit: float,
                  daily_limit: float, now: int) -> str | None:
    """Why a reset is refused now (one line), or None when the conditions that tripped the switch are gone."""
    state = record.state
    if not state.tripped:
        return "the kill switch is not tripped (armed): nothing to reset"
    if equity is None:
        return ("no equity is recorded in the journal: the condition that tripped the switch cannot be checked; "
                "--force resets it anyway")
    at = f"last equity {equity.equity:,.2f} at {format_time(equity.ts)} UTC"
    if state.drawdown_tripped:
        trigger = drawdown_trigger(record, equity.equity, drawdown_limit)
        if trigger.hit:
            return (f"drawdown {trigger.loss:.2%} from peak equity {record.peak_equity:,.2f} is still at or beyond "
                    f"the {drawdown_limit:.2%} limit ({at}); --force resets it anyway")
    if state.daily_tripped and utc_day_start(now) == record.equity_day:
        trigger = daily_trigger(record, equity, daily_limit)
        if trigger.hit:
            return (f"the day's loss {trigger.loss:.2%} from day-start equity {record.day_start_equity:,.2f} is still "
                    f"at or beyond the {daily_limit:.2%} limit on {format_time(record.equity_day)[:10]} UTC ({at}); "
                    "it re-arms by itself at the next UTC day; --force resets it anyway")
    return None


def reset(record: KillSwitchRecord, equity: EquitySnapshot | None, *, now: int, reason: str, operator: str,
          forced: bool) -> tuple[KillSwitchRecord, KillSwitchChange, list[str]]:
    """The switch re-armed, the change to record, and what was rebased (lines for the operator)."""
    state = record.state
    notes: list[str] = []
    peak, day_start = record.peak_equity, record.day_start_equity
    if state.drawdown_tripped:
        if equity is not None:
            peak = equity.equity
            notes.append(f"peak equity rebased from {record.peak_equity:,.2f} to {peak:,.2f} (the last equity)")
        else:
            notes.append(f"peak equity kept at {peak:,.2f}: no equity recorded to rebase it to")
    if state.daily_tripped and forced and equity is not None and utc_day_start(equity.ts) == record.equity_day:
        day_start = equity.equity
        notes.append(f"day-start equity rebased from {record.day_start_equity:,.2f} to {day_start:,.2f}")
    new_state = replace(state, daily_tripped=False, drawdown_tripped=False, daily_trip_ts=None,
                        drawdown_trip_ts=None)
    was = what_tripped(record)
    text = f"{was} kill switch reset{' (FORCED)' if forced else ''}: {reason.strip()}"
    change = KillSwitchChange(now, EventKind.RESET, text, operator=operator, forced=forced)
    return replace(record, state=new_state, peak_equity=peak, day_start_equity=day_start, trip_reason="",
                   ts=now), change, notes


LATEST_SQL = "SELECT max(id) FROM killswitch_events WHERE account = ?"


def latest_change_id(db: Database, account: str) -> int:
    """The id of the account's newest kill-switch change (0: none yet)."""
    if not db.has_table(killswitch_events.name):
        return 0
    e = killswitch_events.c
    with db.read() as con:
        return int(con.execute(select(func.max(e.id)).where(e.account == account)).scalar() or 0)


class ChangeWatch:
    """``latest_change_id`` asked at every bar of a running session, cheaply: on SQLite through a connection of its
    own, held for the session, in autocommit (each read is its own transaction and sees the last commit; a few
    microseconds, where taking a pooled connection and its transaction costs a few hundred); elsewhere one pooled
    read each time (a live bar is a minute long)."""

    def __init__(self, db: Database, account: str) -> None:
        self.db = db
        self.account = account
        self._raw: Any = None

    def latest(self) -> int:
        if not self.db.is_sqlite:
            return latest_change_id(self.db, self.account)
        if self._raw is None:
            if not self.db.has_table(killswitch_events.name):
                return 0
            self._raw = self.db.engine.raw_connection()
        try:
            cursor = self._raw.cursor()
            try:
                row = cursor.execute(LATEST_SQL, (self.account,)).fetchone()
            finally:
                cursor.close()
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.db.url}: cannot read the kill switch's changes ({exc})") from None
        return int(row[0] or 0) if row else 0

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None


def changes_after(db: Database, account: str, after: int) -> list[KillSwitchChange]:
    """The account's kill-switch changes with an id above ``after``, oldest first."""
    if not db.has_table(killswitch_events.name):
        return []
    e = killswitch_events.c
    query = (select(e.id, e.ts, e.kind, e.reason, e.operator, e.forced, e.session)
             .where(e.account == account, e.id > after).order_by(e.id))
    with db.read() as con:
        return [KillSwitchChange(int(r.ts), EventKind(r.kind), r.reason, r.operator, bool(r.forced), r.session,
                                 int(r.id)) for r in con.execute(query)]
