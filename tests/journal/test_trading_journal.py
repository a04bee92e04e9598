"""The trading journal's promises to the engine, on SQLite and PostgreSQL: an order row is committed before
``record_order`` returns (it survives a SIGKILL right after), each state change is one transaction, a replay
changes nothing, a conflicting replay is refused, and readers create nothing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from quantum_trader.config import Policy
from quantum_trader.domain.trading import (
    Fill,
    Intent,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderPurpose,
    OrderSide,
    OrderType,
    RiskDecision,
    RiskReason,
    Side,
    Verdict,
    client_order_id,
)
from quantum_trader.journal.database import Database, JournalError
from quantum_trader.journal.records import (
    EquitySnapshot,
    KillSwitchChange,
    KillSwitchRecord,
    OrderStatus,
    SessionMode,
    Severity,
)
from quantum_trader.journal.trading import TradingJournal
from quantum_trader.portfolio.ledger import apply_fill, mark, new_ledger
from quantum_trader.risk import kill_switch
from quantum_trader.risk.limits import CompiledLimits

T0 = 1_735_689_600_000
BTC = "BTC/USDT:USDT"
CID = client_order_id("run-1", T0, BTC, OrderPurpose.ENTRY)


def entry(cid: str = CID, quantity: str = "0.010") -> Order:
    return Order(cid, T0, BTC, OrderSide.BUY, OrderType.LIMIT, Decimal(quantity), Decimal("60000.0"), post_only=True,
                 expire_ts=T0 + 3_600_000)


def fill(quantity: str, price: str = "60000.0", cid: str = CID, ts: int = T0 + 1_000) -> Fill:
    return Fill(ts, BTC, OrderSide.BUY, Decimal(quantity), Decimal(price), Decimal("0.12"), cid, is_maker=True)


def test_an_order_row_survives_a_crash_right_after_record_order_returns(journal_url: str) -> None:
    """The engine sends an order once record_order has returned: SIGKILL then, and the row must be there."""
    script = (
        "import os, signal, sys\n"
        "from decimal import Decimal\n"
        "from quantum_trader.domain.trading import Order, OrderSide, OrderType\n"
        "from quantum_trader.journal.trading import TradingJournal\n"
        "j = TradingJournal(sys.argv[1], account='main', session='run-1')\n"
        f"assert j.record_order(Order({CID!r}, {T0}, {BTC!r}, OrderSide.BUY, OrderType.MARKET, Decimal('0.010')))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, journal_url], capture_output=True, text=True, check=False,
                          timeout=120)
    assert done.returncode == -9, done.stderr
    journal = TradingJournal(journal_url, account="main", session="run-2")
    (record,) = journal.open_orders()
    assert record.order.client_order_id == CID and record.status is OrderStatus.PENDING
    assert record.session == "run-1" and record.order.quantity == Decimal("0.010")
    assert journal.record_order(record.order) is False  # the restart recognises it: ask the venue, do not resend
    journal.close()


def test_one_client_order_id_names_one_order(journal_url: str) -> None:
    journal = TradingJournal(journal_url, account="main", session="run-1")
    assert journal.record_order(entry()) is True
    assert journal.record_order(entry()) is False
    with pytest.raises(JournalError, match=rf"order {CID}: already journalled with other values \(quantity"):
        journal.record_order(entry(quantity="0.020"))
    with pytest.raises(JournalError, match="client_order_id is empty"):
        journal.record_order(entry(cid=""))
    assert [r.order for r in journal.orders()] == [entry()]
    journal.close()


def test_an_order_moves_through_its_events_and_a_fill_seen_twice_counts_once(journal_url: str) -> None:
    journal = TradingJournal(journal_url, account="main", session="run-1")
    order = entry()
    journal.record_order(order)
    assert journal.record_order_event(OrderEvent(T0 + 10, OrderEventKind.ACCEPTED, order),
                                      exchange_order_id="8389765") is OrderStatus.ACCEPTED
    first = fill("0.004")
    # the trade stream reports the fill first, then the order update carries it again
    assert journal.record_fill(first, fill_id="t-1") is True
    status = journal.record_order_event(OrderEvent(first.ts, OrderEventKind.PARTIALLY_FILLED, order, first),
                                        fill_id="t-1")
    assert status is OrderStatus.PARTIALLY_FILLED
    assert journal.record_order_event(OrderEvent(first.ts, OrderEventKind.PARTIALLY_FILLED, order, first),
                                      fill_id="t-1") is OrderStatus.PARTIALLY_FILLED  # a replay: nothing new
    late = journal.record_order_event(OrderEvent(T0 + 20, OrderEventKind.ACCEPTED, order))
    assert late is OrderStatus.PARTIALLY_FILLED  # a late acknowledgement does not step back
    rest = fill("0.006", ts=T0 + 2_000)
    assert journal.record_order_event(OrderEvent(rest.ts, OrderEventKind.FILLED, order, rest),
                                      fill_id="t-2") is OrderStatus.FILLED
    assert journal.record_order_event(OrderEvent(T0 + 3_000, OrderEventKind.CANCELLED, order)
                                      ) is OrderStatus.FILLED  # final stays final; the event is still kept
    record = journal.order(CID)
    assert record is not None and record.filled_quantity == Decimal("0.010") and record.remaining == 0
    assert str(record.filled_quantity) == "0.010" and record.exchange_order_id == "8389765"
    assert journal.open_orders() == []
    kinds = [e.kind for e in journal.order_events(CID)]
    assert kinds == [OrderEventKind.ACCEPTED, OrderEventKind.PARTIALLY_FILLED, OrderEventKind.ACCEPTED,
                     OrderEventKind.FILLED, OrderEventKind.CANCELLED]
    assert [f.fill_id for f in journal.fills_after(None)] == ["t-1", "t-2"]
    assert [f.fill_id for f in journal.fills_after("t-1")] == ["t-2"]
    assert [f.fill_id for f in journal.fills_since(T0 + 1_500)] == ["t-2"]
    with pytest.raises(JournalError, match="fill t-9: not in the journal"):
        journal.fills_after("t-9")
    journal.close()


def test_a_state_change_is_one_transaction(journal_url: str) -> None:
    """An order event whose fill conflicts with the recorded one writes nothing: not the event, not the status."""
    journal = TradingJournal(journal_url, account="main", session="run-1")
    order = entry()
    journal.record_order(order)
    journal.record_fill(fill("0.004"), fill_id="t-1")
    other = fill("0.005")
    with pytest.raises(JournalError, match=r"fill t-1: already journalled with other values \(quantity"):
        journal.record_order_event(OrderEvent(other.ts, OrderEventKind.FILLED, order, other), fill_id="t-1")
    record = journal.order(CID)
    assert record is not None and record.status is OrderStatus.PENDING and record.filled_quantity == Decimal("0.004")
    assert journal.order_events(CID) == []
    with pytest.raises(JournalError, match="no such order in the journal"):
        journal.record_order_event(OrderEvent(T0, OrderEventKind.ACCEPTED, entry(cid="qt-never")))
    with pytest.raises(JournalError, match="a fill and its fill_id go together"):
        journal.record_order_event(OrderEvent(other.ts, OrderEventKind.FILLED, order, other))
    journal.close()


def test_a_value_that_cannot_be_stored_exactly_is_refused_naming_the_field(journal_url: str) -> None:
    journal = TradingJournal(journal_url, account="main", session="run-1")
    with pytest.raises(JournalError, match=f"order {CID}: price must be a finite Decimal, got Decimal\\('NaN'\\)"):
        journal.record_order(Order(CID, T0, BTC, OrderSide.BUY, OrderType.LIMIT, Decimal(1), Decimal("NaN")))
    intent = Intent(T0, BTC, Side.LONG, 0.5, 60_000.0, 58_000.0)
    nan = RiskDecision(intent, Verdict.REFUSED, Decimal(0), (RiskReason("x", "m", float("nan")),))
    with pytest.raises(JournalError, match="a reason's figure is NaN"):
        journal.record_decision(nan)
    assert journal.orders() == [] and journal.decisions() == []
    journal.close()


def test_a_decision_comes_back_exactly_with_its_reasons(journal_url: str) -> None:
    journal = TradingJournal(journal_url, account="main", session="run-1")
    intent = Intent(T0, BTC, Side.LONG, 0.61803, 60_000.1, 58_800.25, "trend_z", ("z 2.1",), 63_000.5, OrderType.LIMIT)
    reasons = (RiskReason("max_position_size", "capped at 20% of equity", 0.31, 0.2, reduces=True),
               RiskReason("slots", "a slot is free", 2.0, float("inf")))
    decision = RiskDecision(intent, Verdict.REDUCED, Decimal("0.0320"), reasons)
    decision_id = journal.record_decision(decision, requested=Decimal("0.0496"), client_order_id=CID)
    journal.record_order(entry(), decision_id=decision_id)
    (back,) = journal.decisions()
    assert back.decision == decision and repr(back.decision) == repr(decision)
    assert back.requested == Decimal("0.0496") and back.client_order_id == CID and back.id == decision_id
    record = journal.order(CID)
    assert record is not None and record.decision_id == decision_id
    journal.close()


def test_the_kill_switch_comes_back_exactly_as_it_was_saved(journal_url: str) -> None:
    policy = Policy()
    limits = CompiledLimits(policy)
    ledger = new_ledger("100000", T0)
    ledger = apply_fill(ledger, Fill(T0 + 1, BTC, OrderSide.BUY, Decimal("1.000"), Decimal("60000.0"),
                                     Decimal("24.00"), CID))
    ledger = mark(ledger, {BTC: Decimal("45000.0")}, T0 + 60_000)
    update = kill_switch.update(kill_switch.armed(T0), ledger, limits, T0 + 60_000)
    assert update.state.tripped
    trip = update.events[0]
    record = KillSwitchRecord.of_ledger(update.state, ledger, ts=T0 + 60_000, trip_reason=trip.reason)
    writer = TradingJournal(journal_url, account="main", session="run-1")
    writer.save_killswitch(record, KillSwitchChange(trip.ts, trip.kind, trip.reason))
    writer.close()
    restarted = TradingJournal(journal_url, account="main", session="run-2")
    loaded = restarted.load_killswitch()
    assert loaded == record and repr(loaded) == repr(record)
    assert loaded is not None and loaded.peak_equity == ledger.peak_equity and str(loaded.day_start_equity) == str(
        ledger.day_start_equity)
    (change,) = restarted.killswitch_history()
    assert change.kind is trip.kind and change.session == "run-1" and change.reason == trip.reason
    assert TradingJournal(journal_url, account="other").load_killswitch() is None  # a new account starts armed
    restarted.close()


def test_accounts_share_a_journal_without_seeing_each_other(journal_url: str) -> None:
    db = Database(journal_url)
    live, test = TradingJournal(db, account="live", session="a"), TradingJournal(db, account="testnet", session="b")
    assert live.record_order(entry()) and test.record_order(entry(quantity="0.5"))
    live.record_equity(EquitySnapshot(T0, Decimal("100000.00"), Decimal("100000.00")))
    assert [r.order.quantity for r in live.orders()] == [Decimal("0.010")]
    assert [r.order.quantity for r in test.orders()] == [Decimal("0.5")]
    assert test.latest_equity() is None and live.latest_equity() is not None
    with pytest.raises(JournalError, match="account '../x'"):
        TradingJournal(db, account="../x")
    db.close()


def test_sessions_incidents_alerts_locks_and_cursors(journal_url: str) -> None:
    journal = TradingJournal(journal_url, account="main", session="run-1")
    assert journal.start_session(SessionMode.PAPER, T0, exchange="binanceusdm", detail={"symbols": ["BTC"]})
    assert journal.start_session(SessionMode.PAPER, T0 + 5) is False  # resumed
    with pytest.raises(JournalError, match="already recorded as paper, not live"):
        journal.start_session(SessionMode.LIVE, T0)
    journal.end_session(T0 + 100, "stopped by operator")
    (session,) = journal.sessions()
    assert (session.mode, session.ended_ts, session.detail) == (SessionMode.PAPER, T0 + 100, '{"symbols": ["BTC"]}')
    first = journal.open_incident("position_mismatch", "BTC: journal 0.010, exchange 0", safe_action="halt entries",
                                  ts=T0)
    journal.open_incident("stale_feed", "no 1m bar for 2 intervals", safe_action="halt entries", ts=T0 + 1)
    assert journal.resolve_incident(first, ts=T0 + 2, by="ana", resolution="closed by hand") is True
    assert journal.resolve_incident(first, ts=T0 + 3, by="bo") is False
    assert [i.kind for i in journal.unresolved_incidents()] == ["stale_feed"]
    with pytest.raises(JournalError, match="incident #99: no such incident"):
        journal.resolve_incident(99, ts=T0, by="ana")
    alert = journal.record_alert("drawdown", Severity.CRITICAL, "drawdown 19%", ts=T0)
    assert journal.acknowledge_alert(alert, ts=T0 + 1, by="ana") and journal.alerts(unacknowledged_only=True) == []
    lock = journal.record_lock("ETH", ts=T0, until=T0 + 86_400_000, reason="ETH down 3.1% today")
    assert journal.record_lock("ETH", ts=T0 + 1, until=T0 + 86_400_000, reason="again") == lock
    assert [x.asset for x in journal.active_locks(at=T0 + 10)] == ["ETH"]
    assert journal.active_locks(at=T0 + 86_400_000) == []
    assert journal.clear_lock("ETH", ts=T0 + 86_400_000, reason="new UTC day") and journal.active_locks() == []
    journal.set_feed_cursor("binanceusdm:BTC:1m", T0, ts=T0 + 61_000)
    with pytest.raises(JournalError, match="only moves forward"):
        journal.set_feed_cursor("binanceusdm:BTC:1m", T0 - 60_000, ts=T0 + 62_000)
    restarted = TradingJournal(journal_url, account="main", session="run-2")
    assert restarted.feed_cursor("binanceusdm:BTC:1m") is None
    assert restarted.feed_cursor("binanceusdm:BTC:1m", any_session=True) == T0
    journal.close()
    restarted.close()


def test_reading_a_journal_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "journal" / "main.sqlite"
    journal = TradingJournal(path, account="main")
    assert journal.open_orders() == [] and journal.load_killswitch() is None and journal.latest_equity() is None
    assert journal.unresolved_incidents() == [] and journal.feed_cursor("x", any_session=True) is None
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(JournalError, match="cannot create its tables"):
        journal.record_order(entry())  # a typed path into a missing folder stays an error
    created = TradingJournal(path, account="main", create_folder=True)
    assert created.record_order(entry()) and path.is_file()


def test_sqlite_is_in_wal_mode_and_a_reader_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = TradingJournal(path, account="main", session="run-1")
    journal.record_order(entry())
    other = sqlite3.connect(path)
    assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock...
    other.execute("UPDATE orders SET tag = 'x'")
    try:
        assert len(journal.open_orders()) == 1  # ...and the reader still answers, with the committed state
    finally:
        other.rollback()
        other.close()
    assert os.path.getsize(path) > 0


def test_a_failure_late_in_a_state_change_leaves_none_of_it(journal_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fill and the event are inserted, then the order's update fails: the journal holds neither."""
    from sqlalchemy import text

    from quantum_trader.journal import orders_io

    journal = TradingJournal(journal_url, account="main", session="run-1")
    order = entry()
    journal.record_order(order)
    monkeypatch.setattr(orders_io, "_UPDATE_ORDER", text("UPDATE no_such_table SET x = 1"))
    done = fill("0.010")
    with pytest.raises(JournalError, match=r"cannot record an order event \(.*no_such_table"):
        journal.record_order_event(OrderEvent(done.ts, OrderEventKind.FILLED, order, done), fill_id="t-1")
    monkeypatch.undo()
    assert journal.fills_after(None) == [] and journal.order_events(CID) == []
    record = journal.order(CID)
    assert record is not None and record.status is OrderStatus.PENDING
    journal.close()


def test_a_transaction_groups_writes_and_keeps_none_of_them_on_failure(journal_url: str) -> None:
    journal = TradingJournal(journal_url, account="main", session="run-1")
    intent = Intent(T0, BTC, Side.LONG, 0.5, 60_000.0, 58_000.0)
    with journal.transaction():
        decision_id = journal.record_decision(RiskDecision(intent, Verdict.APPROVED, Decimal("0.010")))
        assert journal.record_order(entry(), decision_id=decision_id)
        assert journal.orders() == []  # not committed yet: a reader sees committed rows only
    record = journal.order(CID)
    assert record is not None and record.decision_id == decision_id
    with pytest.raises(JournalError, match="already journalled with other values"), journal.transaction():
        journal.record_decision(RiskDecision(intent, Verdict.APPROVED, Decimal("0.020")))
        journal.record_order(entry(cid="qt-second"))
        journal.record_order(entry(quantity="0.020"))  # conflicts: the whole block is dropped
    assert len(journal.decisions()) == 1 and [r.order.client_order_id for r in journal.orders()] == [CID]
    journal.close()


def test_floats_come_back_bit_for_bit(journal_url: str) -> None:
    """SQLite's REAL folded -0.0 into 0.0 (found by the round-trip property): the floats are stored exactly."""
    journal = TradingJournal(journal_url, account="main", session="run-1")
    order = Order(CID, T0, BTC, OrderSide.BUY, OrderType.MARKET, Decimal(0), equity_fraction=-0.0)
    journal.record_order(order)
    journal.record_order_event(OrderEvent(T0 + 1, OrderEventKind.ACCEPTED, order, reference=0.1 + 0.2))
    record = journal.order(CID)
    assert record is not None and repr(record.order.equity_fraction) == "-0.0"
    (event,) = journal.order_events(CID)
    assert event.reference == 0.30000000000000004
    journal.close()
