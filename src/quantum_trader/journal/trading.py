"""The trading journal the engine writes and a restart reads: one object per account and session.

Crash-only by design: every method that records something is ONE transaction, committed before
it returns, so the engine can act on what it has recorded and nothing else. In particular
:meth:`TradingJournal.record_order` returns only once the order row is committed, and the
engine sends the order after that; a crash between the two leaves a PENDING order that the
restart asks the venue about by client order id before anything is sent again. Recording the
same thing twice (a replay after a crash) changes nothing; the same id with other content is
refused with a :class:`JournalError`.

Readers never create the journal: on a file that does not exist, or a journal made before
these tables, they answer "nothing recorded" (empty list, None).

The engine's loop, in the order a restart needs::

    journal = TradingJournal(url, account="main", session=run_id)
    journal.start_session(SessionMode.PAPER, ts, exchange="binanceusdm")
    record = journal.load_killswitch()           # tripped? peak and day-start equity
    with journal.transaction():                   # one commit for both
        decision_id = journal.record_decision(decision, ts=ts)      # approved, reduced or refused
        new = journal.record_order(order, decision_id=decision_id)
    if new:                                       # committed: now send it
        venue.send(order)
    journal.record_order_event(event, fill_id=trade_id)   # accepted / filled / cancelled ...
    journal.save_killswitch(record, change)       # after every trip, re-arm or reset
    journal.set_feed_cursor("binanceusdm:BTC/USDT:USDT:1m", bar_ts, ts=now)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection

from quantum_trader.domain.trading import Fill, FundingEvent, Order, OrderEvent, Position, RiskDecision
from quantum_trader.journal import heard_io, ops_io, orders_io, risk_io, state_io
from quantum_trader.journal.accounts import check_account
from quantum_trader.journal.database import Database, JournalError
from quantum_trader.journal.heard_io import Heard
from quantum_trader.journal.orders_io import Scope
from quantum_trader.journal.records import (
    Alert,
    Balance,
    BalancesSnapshot,
    DecisionRecord,
    EquitySnapshot,
    FillRecord,
    Incident,
    KillSwitchChange,
    KillSwitchRecord,
    LockRecord,
    OrderEventRecord,
    OrderRecord,
    OrderStatus,
    PositionsSnapshot,
    RiskSnapshot,
    SessionMode,
    SessionRecord,
    Severity,
    TierChange,
)
from quantum_trader.journal.schema import DEFAULT_ACCOUNT, SESSION_LEN

T = TypeVar("T")
READY_TABLE = "feed_cursors"
"""A table of the trading revision: when it exists, every trading table does."""


class TradingJournal:
    """Orders, fills, snapshots, decisions, the kill switch, locks, alerts, incidents and feed cursors of one
    ``account``, written under ``session`` (the run id the engine derives its client order ids from)."""

    def __init__(self, target: str | Path | Database, *, account: str = DEFAULT_ACCOUNT, session: str = "",
                 create_folder: bool = False) -> None:
        self.db = target if isinstance(target, Database) else Database(target, create_folder=create_folder)
        self.url = self.db.url
        self.account = check_account(account)
        if len(session) > SESSION_LEN:
            raise JournalError(f"session {session[:20]}...: longer than {SESSION_LEN} characters")
        self.session = session
        self._scope = Scope(self.account, session)
        self._con: Connection | None = None

    def __repr__(self) -> str:
        return f"TradingJournal({self.url!r}, account={self.account!r}, session={self.session!r})"

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The writes inside the block as ONE transaction: a decision with the order it sends, or a whole bar of
        a backtest (one commit instead of one per write). Committed when the block ends; if anything in it
        fails, none of it is kept. Readers see committed rows only; a nested block is part of the outer one.
        One thread writes through a journal at a time."""
        if self._con is not None:
            yield
            return
        with self.db.write() as con:
            self._con = con
            try:
                yield
            finally:
                self._con = None

    def _write(self, action: str, work: Callable[[Connection], T]) -> T:
        if self._con is not None:
            return work(self._con)
        with self.db.write(action) as con:
            return work(con)

    def _read(self, work: Callable[[Connection], T], empty: T, *, table: str = READY_TABLE) -> T:
        if not self.db.has_table(table):
            return empty
        with self.db.read() as con:
            return work(con)

    # ------------------------------------------------------------------ sessions
    def start_session(self, mode: SessionMode, ts: int, *, exchange: str = "",
                      detail: Mapping[str, Any] | None = None) -> bool:
        """Record that this session started (False: it was already, in the same mode: a resumed run)."""
        text = json.dumps(dict(detail or {}), sort_keys=True, default=str)
        return self._write("start a session",
                           lambda con: ops_io.start_session(con, self._scope, mode, ts, exchange, text))

    def end_session(self, ts: int, reason: str = "") -> None:
        self._write("end a session", lambda con: ops_io.end_session(con, self._scope, ts, reason))

    def sessions(self) -> list[SessionRecord]:
        return self._read(lambda con: ops_io.all_sessions(con, self.account), [])

    # ------------------------------------------------------------------ orders and fills
    def record_order(self, order: Order, *, decision_id: int | None = None) -> bool:
        """Journal ``order`` (status PENDING) before it is sent; returns after the commit.

        True: newly recorded, send it. False: this very order was already journalled (a replay after a
        crash): ask the venue about its client order id instead of sending it again.
        """
        return self._write("record an order",
                           lambda con: orders_io.record_order(con, self._scope, order, decision_id))

    def record_order_event(self, event: OrderEvent, *, fill_id: str | None = None,
                           exchange_order_id: str | None = None) -> OrderStatus:
        """The venue's word on an order (and its fill, under ``fill_id``) in one transaction: the order's new status."""
        return self._write("record an order event", lambda con: orders_io.record_order_event(
            con, self._scope, event, exchange_order_id, fill_id))

    def record_heard(self, event: OrderEvent | FundingEvent, *, heard_ts: int, fill_id: str | None = None,
                     exchange_order_id: str | None = None) -> None:
        """What a live session heard at market time ``heard_ts``, in one transaction: an order event (as
        ``record_order_event``) with the time it was heard, or a funding payment (``journal.heard_io``)."""
        def work(con: Connection) -> None:
            if isinstance(event, FundingEvent):
                heard_io.record_funding(con, self._scope, event, heard_ts)
                return
            orders_io.record_order_event(con, self._scope, event, exchange_order_id, fill_id)
            heard_io.record_heard_order(con, self._scope, event, fill_id, heard_ts)

        self._write("record what a session heard", work)

    def heard(self, session: str | None = None) -> list[Heard]:
        """Everything a live session heard (this one's when None), in the order it heard it."""
        return self._read(lambda con: heard_io.heard_of(con, self.account, session or self.session), [],
                          table=heard_io.HEARD_TABLE)

    def record_fill(self, fill: Fill, *, fill_id: str) -> bool:
        """A fill as the trade stream reports it; False when ``fill_id`` was already journalled."""
        return self._write("record a fill", lambda con: orders_io.record_fill(con, self._scope, fill, fill_id))

    def order(self, client_order_id: str) -> OrderRecord | None:
        return self._read(lambda con: orders_io.order_by_client_id(con, self.account, client_order_id), None)

    def orders(self, *, session: str | None = None) -> list[OrderRecord]:
        """Every order of the account (of one session when given), in journal order."""
        return self._read(lambda con: orders_io.all_orders(con, self.account, session), [])

    def open_orders(self) -> list[OrderRecord]:
        """Orders not yet final: pending (maybe never sent), accepted, partially filled."""
        return self._read(lambda con: orders_io.open_orders(con, self.account), [])

    def order_events(self, client_order_id: str) -> list[OrderEventRecord]:
        return self._read(lambda con: orders_io.events_of(con, self.account, client_order_id), [])

    def fills_since(self, ts: int) -> list[FillRecord]:
        """Fills at or after ``ts``, by time."""
        return self._read(lambda con: orders_io.fills_since(con, self.account, ts), [])

    def fills_after(self, fill_id: str | None) -> list[FillRecord]:
        """Fills journalled after ``fill_id`` (every fill for None), in journal order."""
        return self._read(lambda con: orders_io.fills_after(con, self.account, fill_id), [])

    def last_fill(self) -> FillRecord | None:
        return self._read(lambda con: orders_io.last_fill(con, self.account), None)

    # ------------------------------------------------------------------ decisions
    def record_decision(self, decision: RiskDecision, *, ts: int | None = None, requested: Decimal | None = None,
                        client_order_id: str | None = None) -> int:
        """Every verdict (approved, reduced, refused) with its reasons; the id to pass to ``record_order``."""
        when = decision.intent.ts if ts is None else ts
        return self._write("record a decision", lambda con: orders_io.record_decision(
            con, self._scope, decision, when, requested, client_order_id))

    def decisions(self, *, since: int | None = None) -> list[DecisionRecord]:
        return self._read(lambda con: orders_io.decisions(con, self.account, since), [])

    # ------------------------------------------------------------------ snapshots
    def record_positions(self, ts: int, positions: Iterable[Position], *, source: str = "ledger") -> int:
        """The whole book at ``ts`` (an empty one too): ``source`` ledger (ours) or exchange (theirs)."""
        return self._write("record positions",
                           lambda con: state_io.record_positions(con, self._scope, ts, positions, source))

    def record_balances(self, ts: int, balances: Iterable[Balance], *, source: str = "exchange") -> int:
        return self._write("record balances",
                           lambda con: state_io.record_balances(con, self._scope, ts, balances, source))

    def record_equity(self, snapshot: EquitySnapshot) -> None:
        self._write("record equity", lambda con: state_io.record_equity(con, self._scope, snapshot))

    def latest_positions(self, *, source: str = "ledger") -> PositionsSnapshot | None:
        """The last positions snapshot (positions sorted by symbol); None when none was recorded."""
        return self._read(lambda con: state_io.latest_positions(con, self.account, source), None)

    def latest_balances(self, *, source: str = "exchange") -> BalancesSnapshot | None:
        return self._read(lambda con: state_io.latest_balances(con, self.account, source), None)

    def latest_equity(self) -> EquitySnapshot | None:
        return self._read(lambda con: state_io.latest_equity(con, self.account), None)

    def equity_since(self, ts: int) -> list[EquitySnapshot]:
        return self._read(lambda con: state_io.equity_since(con, self.account, ts), [])

    def record_risk(self, snapshot: RiskSnapshot) -> None:
        """Exposure, loss figures and (when the monitor updated it) the correlation matrix at a bar close."""
        self._write("record a risk snapshot", lambda con: risk_io.record_risk(con, self._scope, snapshot))

    def record_bars(self, risks: Sequence[RiskSnapshot], equities: Sequence[EquitySnapshot]) -> None:
        """A session's bar snapshots since its last flush, in one transaction with whatever encloses it."""
        def work(con: Connection) -> None:
            risk_io.record_risks(con, self._scope, risks)
            state_io.record_equities(con, self._scope, equities)

        self._write("record bar snapshots", work)

    def risk_snapshots(self, *, since: int | None = None, until: int | None = None, session: str | None = None,
                       correlation_only: bool = False) -> list[RiskSnapshot]:
        """Risk snapshots in time order (``correlation_only``: those carrying a correlation update)."""
        return self._read(lambda con: risk_io.risk_snapshots_between(con, self.account, since, until, session,
                                                                      correlation_only), [], table=risk_io.RISK_TABLE)

    def latest_risk(self, *, correlation_only: bool = False) -> RiskSnapshot | None:
        return self._read(lambda con: risk_io.latest_risk(con, self.account, correlation_only), None,
                          table=risk_io.RISK_TABLE)

    # ------------------------------------------------------------------ kill switch and locks
    def save_killswitch(self, record: KillSwitchRecord, change: KillSwitchChange | None = None) -> None:
        """Replace the account's kill switch with ``record``, and append ``change`` (a trip, re-arm or reset)
        to its history, in one transaction."""
        self._write("save the kill switch",
                    lambda con: state_io.save_killswitch(con, self._scope, record, change))

    def load_killswitch(self) -> KillSwitchRecord | None:
        """The kill switch exactly as last saved; None when never saved (a new account starts armed)."""
        return self._read(lambda con: state_io.load_killswitch(con, self.account), None)

    def killswitch_history(self) -> list[KillSwitchChange]:
        return self._read(lambda con: state_io.killswitch_history(con, self.account), [])

    def record_lock(self, asset: str, *, ts: int, until: int, reason: str) -> int:
        """Lock ``asset`` until ``until``; the id of the lock already held when there is one."""
        return self._write("record a lock",
                           lambda con: state_io.record_lock(con, self._scope, asset, ts, until, reason))

    def clear_lock(self, asset: str, *, ts: int, reason: str) -> bool:
        return self._write("clear a lock", lambda con: state_io.clear_lock(con, self._scope, asset, ts, reason))

    def active_locks(self, *, at: int | None = None) -> list[LockRecord]:
        """Locks not cleared (and, with ``at``, not yet over at that time)."""
        return self._read(lambda con: state_io.locks(con, self.account, active_at=at, active_only=True), [])

    def locks(self) -> list[LockRecord]:
        return self._read(lambda con: state_io.locks(con, self.account, active_at=None, active_only=False), [])

    # ------------------------------------------------------------------ tiers, alerts, incidents
    def record_tier_change(self, change: TierChange) -> int:
        return self._write("record a tier change", lambda con: ops_io.record_tier_change(con, self._scope, change))

    def tier_changes(self) -> list[TierChange]:
        return self._read(lambda con: ops_io.all_tier_changes(con, self.account), [])

    def record_alert(self, kind: str, severity: Severity, message: str, *, ts: int) -> int:
        alert = Alert(ts, kind, severity, message)
        return self._write("record an alert", lambda con: ops_io.record_alert(con, self._scope, alert))

    def acknowledge_alert(self, alert_id: int, *, ts: int, by: str) -> bool:
        return self._write("acknowledge an alert",
                           lambda con: ops_io.acknowledge_alert(con, self.account, alert_id, ts, by))

    def alerts(self, *, unacknowledged_only: bool = False) -> list[Alert]:
        return self._read(lambda con: ops_io.all_alerts(con, self.account, unacknowledged_only), [])

    def open_incident(self, kind: str, detail: str, *, safe_action: str, ts: int) -> int:
        """A difference or fault the engine does not resolve by guessing, with the safe action it took."""
        incident = Incident(ts, kind, detail, safe_action)
        return self._write("open an incident", lambda con: ops_io.open_incident(con, self._scope, incident))

    def resolve_incident(self, incident_id: int, *, ts: int, by: str, resolution: str = "") -> bool:
        return self._write("resolve an incident", lambda con: ops_io.resolve_incident(
            con, self.account, incident_id, ts, by, resolution))

    def unresolved_incidents(self) -> list[Incident]:
        return self._read(lambda con: ops_io.all_incidents(con, self.account, True), [])

    def incidents(self) -> list[Incident]:
        return self._read(lambda con: ops_io.all_incidents(con, self.account, False), [])

    # ------------------------------------------------------------------ feed cursor
    def feed_cursor(self, feed: str, *, any_session: bool = False) -> int | None:
        """The open time of the last bar processed on ``feed`` by this session (by any session of the account
        with ``any_session``: where a restarted process resumes)."""
        session = None if any_session else self.session
        return self._read(lambda con: ops_io.feed_cursor(con, self.account, session, feed), None)

    def set_feed_cursor(self, feed: str, bar_ts: int, *, ts: int) -> None:
        self._write("move the feed cursor",
                    lambda con: ops_io.set_feed_cursor(con, self._scope, feed, bar_ts, ts))
