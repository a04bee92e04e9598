"""Property: any sequence of writes to the trading journal reads back as written, on SQLite and PostgreSQL.

A model (plain Python) applies the same writes; at the end every reader's answer must equal the
model's, compared by ``repr`` so that a Decimal's exponent (``1.50`` against ``1.5``) and a
float's sign of zero count. Each example writes under an account of its own, so one journal
(one PostgreSQL database) serves every example; the budget is half the default's, each example
being up to 25 committed transactions. Replays are part of the sequences: the same
order or fill written again changes nothing, and a feed cursor moved backwards is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.journal.conftest import BACKENDS, fresh_journal
from tests.risk.budget import examples

from quantum_trader.domain.trading import (
    Fill,
    Intent,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderPurpose,
    OrderSide,
    OrderType,
    Position,
    RiskDecision,
    RiskReason,
    Side,
    Verdict,
)
from quantum_trader.journal.database import Database, JournalError
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
    OrderEventRecord,
    OrderRecord,
    OrderStatus,
    PositionsSnapshot,
    Severity,
    TierChange,
    next_status,
)
from quantum_trader.journal.trading import TradingJournal
from quantum_trader.risk.events import EventKind
from quantum_trader.risk.kill_switch import KillSwitchState

TS = st.integers(0, 2**62)
SMALL_TS = st.integers(1_500_000_000_000, 1_900_000_000_000)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)
NAME = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_/:", min_size=1, max_size=20)
DECIMAL = st.decimals(allow_nan=False, allow_infinity=False) | st.decimals(places=8, min_value=-10**9,
                                                                          max_value=10**9)
POSITIVE = st.decimals(min_value=Decimal("1e-8"), max_value=Decimal(10**9), allow_nan=False, allow_infinity=False)
FLOAT = st.floats(allow_nan=False, allow_infinity=False)
OPT_DECIMAL = st.none() | DECIMAL
OPT_TS = st.none() | TS


@st.composite
def orders(draw: st.DrawFn, cid: str) -> Order:
    return Order(cid, draw(TS), draw(NAME), draw(st.sampled_from(OrderSide)), draw(st.sampled_from(OrderType)),
                 draw(DECIMAL), draw(OPT_DECIMAL), draw(OPT_DECIMAL), draw(st.booleans()), draw(TEXT),
                 draw(st.booleans()), draw(OPT_TS), draw(OPT_TS), draw(st.none() | FLOAT),
                 draw(st.sampled_from(OrderPurpose)))


@st.composite
def fills(draw: st.DrawFn, cid: str) -> Fill:
    return Fill(draw(TS), draw(NAME), draw(st.sampled_from(OrderSide)), draw(DECIMAL), draw(DECIMAL), draw(DECIMAL),
                cid, draw(st.booleans()), draw(st.booleans()))


@st.composite
def intents(draw: st.DrawFn) -> Intent:
    side = draw(st.sampled_from(Side))
    entry = draw(st.floats(min_value=1e-6, max_value=1e9))
    target = draw(st.none() | st.floats(min_value=1e-6, max_value=1e6).map(lambda d: entry + side.sign * d))
    if target is not None and (target - entry) * side.sign <= 0:
        target = None
    return Intent(draw(TS), draw(NAME), side, draw(st.floats(0, 1)), entry, draw(st.none() | FLOAT), draw(TEXT),
                  tuple(draw(st.lists(TEXT, max_size=3))), target, draw(st.sampled_from([OrderType.MARKET,
                                                                                          OrderType.LIMIT])))


REASONS = st.lists(st.builds(RiskReason, NAME, TEXT, st.none() | st.floats(allow_nan=False),
                             st.none() | st.floats(allow_nan=False), st.booleans()), max_size=3).map(tuple)
DECISIONS = st.builds(RiskDecision, intents(), st.sampled_from(Verdict), DECIMAL, REASONS, st.none() | FLOAT)
POSITIONS = st.lists(st.builds(Position, NAME, DECIMAL.filter(lambda d: d != 0), POSITIVE, OPT_DECIMAL, TS),
                     max_size=3, unique_by=lambda p: p.symbol)
BALANCES = st.lists(st.builds(Balance, NAME, DECIMAL, OPT_DECIMAL, OPT_DECIMAL), max_size=3,
                    unique_by=lambda b: b.asset)
EQUITY = st.builds(EquitySnapshot, TS, DECIMAL, DECIMAL, DECIMAL, DECIMAL, DECIMAL, DECIMAL)
SWITCH = st.builds(KillSwitchState, TS, st.booleans(), st.booleans(), OPT_TS, OPT_TS,
                   st.lists(st.tuples(NAME, TS), max_size=2).map(lambda x: tuple(sorted(x))))
KILLSWITCH = st.builds(KillSwitchRecord, SWITCH, DECIMAL, DECIMAL, TS, TEXT, TS)
CHANGES = st.none() | st.builds(KillSwitchChange, TS, st.sampled_from([EventKind.TRIP_DAILY, EventKind.TRIP_DRAWDOWN,
                                                                        EventKind.REARM, EventKind.RESET]),
                                TEXT, TEXT, st.booleans())
STEP = st.one_of(
    st.tuples(st.just("order"), st.data()),
    st.tuples(st.just("event"), st.integers(0, 50), st.sampled_from(OrderEventKind), st.booleans(), st.data()),
    st.tuples(st.just("fill"), st.integers(-1, 50), st.data()),
    st.tuples(st.just("replay"), st.integers(0, 50)),
    st.tuples(st.just("decision"), DECISIONS, OPT_DECIMAL, st.none() | NAME),
    st.tuples(st.just("positions"), TS, POSITIONS, st.sampled_from(["ledger", "exchange"])),
    st.tuples(st.just("balances"), TS, BALANCES),
    st.tuples(st.just("equity"), EQUITY),
    st.tuples(st.just("killswitch"), KILLSWITCH, CHANGES),
    st.tuples(st.just("lock"), st.sampled_from(["BTC", "ETH"]), SMALL_TS, st.integers(1, 10**9), TEXT),
    st.tuples(st.just("unlock"), st.sampled_from(["BTC", "ETH"]), SMALL_TS, TEXT),
    st.tuples(st.just("tier"), st.builds(TierChange, TS, NAME, st.none() | st.integers(1, 3),
                                         st.none() | st.integers(1, 3), TEXT, TEXT)),
    st.tuples(st.just("alert"), TS, NAME, st.sampled_from(Severity), TEXT),
    st.tuples(st.just("ack"), st.integers(0, 50), TS, NAME),
    st.tuples(st.just("incident"), TS, NAME, TEXT, TEXT),
    st.tuples(st.just("resolve"), st.integers(0, 50), TS, NAME, TEXT),
    st.tuples(st.just("cursor"), st.sampled_from(["feed-a", "feed-b"]), TS, TS),
)


@dataclass
class Model:
    """What the journal should answer, kept by applying each write in plain Python."""

    session: str
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    events: dict[str, list[OrderEventRecord]] = field(default_factory=dict)
    fills: list[FillRecord] = field(default_factory=list)
    decisions: list[DecisionRecord] = field(default_factory=list)
    positions: dict[str, PositionsSnapshot] = field(default_factory=dict)
    balances: BalancesSnapshot | None = None
    equity: list[EquitySnapshot] = field(default_factory=list)
    killswitch: KillSwitchRecord | None = None
    history: list[KillSwitchChange] = field(default_factory=list)
    locks: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    tiers: list[TierChange] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    cursors: dict[str, int] = field(default_factory=dict)

    def filled(self, cid: str) -> Decimal:
        return sum((f.fill.quantity for f in self.fills if f.fill.client_order_id == cid), Decimal(0))


def _order(journal: TradingJournal, model: Model, data: st.DataObject) -> None:
    cid = f"o{len(model.orders)}"
    order = data.draw(orders(cid))
    assert journal.record_order(order) is True
    model.orders[cid] = OrderRecord(order, OrderStatus.PENDING, Decimal(0), None, model.session, order.ts)
    model.events[cid] = []


def _fill(journal: TradingJournal, model: Model, index: int, data: st.DataObject) -> None:
    cids = list(model.orders)
    cid = cids[index % len(cids)] if cids and index >= 0 else ""
    fill_id = f"f{len(model.fills)}"
    fill = data.draw(fills(cid))
    assert journal.record_fill(fill, fill_id=fill_id) is True
    model.fills.append(FillRecord(fill_id, fill, model.session, None))
    if cid:
        model.orders[cid] = replace(model.orders[cid], filled_quantity=model.filled(cid))


def _event(journal: TradingJournal, model: Model, step: tuple[Any, ...]) -> None:
    _, index, kind, with_fill, data = step
    if not model.orders:
        return
    cid = list(model.orders)[index % len(model.orders)]
    record = model.orders[cid]
    fill, fill_id = (data.draw(fills(cid)), f"f{len(model.fills)}") if with_fill else (None, None)
    ts = data.draw(TS)
    reason, reference, exchange_id = data.draw(TEXT), data.draw(st.none() | FLOAT), data.draw(st.none() | NAME)
    event = OrderEvent(ts, kind, record.order, fill, reason, reference)
    seen = fill_id is None and any((e.kind, e.ts, e.reason, e.fill_id) == (kind, ts, reason, None)
                                   for e in model.events[cid])
    status = journal.record_order_event(event, fill_id=fill_id, exchange_order_id=exchange_id)
    if seen:
        assert status is record.status
        return
    if fill is not None and fill_id is not None:
        model.fills.append(FillRecord(fill_id, fill, model.session, None))
    new_status = next_status(record.status, kind)
    assert status is new_status
    model.events[cid].append(OrderEventRecord(cid, ts, kind, reason, exchange_id, fill_id, reference, model.session))
    model.orders[cid] = replace(record, status=new_status, filled_quantity=model.filled(cid),
                                exchange_order_id=record.exchange_order_id or exchange_id or None,
                                updated_ts=max(record.updated_ts, ts))


def _replay(journal: TradingJournal, model: Model, index: int) -> None:
    """The same order and the same fill written again (a restart replaying its last steps): nothing changes."""
    if model.orders:
        record = list(model.orders.values())[index % len(model.orders)]
        assert journal.record_order(record.order) is False
    if model.fills:
        again = model.fills[index % len(model.fills)]
        assert journal.record_fill(again.fill, fill_id=again.fill_id) is False


def _control(journal: TradingJournal, model: Model, step: tuple[Any, ...]) -> None:
    kind = step[0]
    if kind == "killswitch":
        journal.save_killswitch(step[1], step[2])
        model.killswitch = step[1]
        change = None if step[2] is None else replace(step[2], session=model.session)
        seen = {(c.session, c.ts, c.kind, c.reason) for c in model.history}
        if change is not None and (change.session, change.ts, change.kind, change.reason) not in seen:
            model.history.append(change)  # the same change of the same session at the same time is kept once
    elif kind == "lock":
        _, asset, ts, length, reason = step
        journal.record_lock(asset, ts=ts, until=ts + length, reason=reason)
        model.locks.setdefault(asset, (ts, ts + length, reason))
    elif kind == "unlock":
        assert journal.clear_lock(step[1], ts=step[2], reason=step[3]) is (step[1] in model.locks)
        model.locks.pop(step[1], None)
    elif kind == "cursor":
        _, feed, bar_ts, ts = step
        if bar_ts < model.cursors.get(feed, bar_ts):
            with pytest.raises(JournalError, match="only moves forward"):
                journal.set_feed_cursor(feed, bar_ts, ts=ts)
        else:
            journal.set_feed_cursor(feed, bar_ts, ts=ts)
            model.cursors[feed] = bar_ts


def _operations(journal: TradingJournal, model: Model, step: tuple[Any, ...]) -> None:
    kind = step[0]
    if kind == "tier":
        journal.record_tier_change(step[1])
        model.tiers.append(replace(step[1], session=model.session))
    elif kind == "alert":
        _, ts, name, severity, message = step
        journal.record_alert(name, severity, message, ts=ts)
        if not any((a.ts, a.kind, a.message) == (ts, name, message) for a in model.alerts):  # raised again: once
            model.alerts.append(Alert(ts, name, severity, message, session=model.session))
    elif kind == "ack" and model.alerts:
        i = step[1] % len(model.alerts)
        alert = model.alerts[i]
        ids = sorted(a.id or 0 for a in journal.alerts())
        assert journal.acknowledge_alert(ids[i], ts=step[2], by=step[3]) is (alert.acknowledged_ts is None)
        if alert.acknowledged_ts is None:
            model.alerts[i] = replace(alert, acknowledged_by=step[3], acknowledged_ts=step[2])
    elif kind == "incident":
        _, ts, name, detail, action = step
        journal.open_incident(name, detail, safe_action=action, ts=ts)
        model.incidents.append(Incident(ts, name, detail, action, session=model.session))
    elif kind == "resolve" and model.incidents:
        i = step[1] % len(model.incidents)
        incident = model.incidents[i]
        ids = sorted(x.id or 0 for x in journal.incidents())
        assert journal.resolve_incident(ids[i], ts=step[2], by=step[3], resolution=step[4]) is (
            incident.resolved_ts is None)
        if incident.resolved_ts is None:
            model.incidents[i] = replace(incident, resolved_ts=step[2], resolved_by=step[3], resolution=step[4])


def apply(journal: TradingJournal, model: Model, step: tuple[Any, ...]) -> None:
    kind = step[0]
    if kind == "order":
        _order(journal, model, step[1])
    elif kind == "fill":
        _fill(journal, model, step[1], step[2])
    elif kind == "event":
        _event(journal, model, step)
    elif kind == "replay":
        _replay(journal, model, step[1])
    elif kind == "decision":
        _, decision, requested, cid = step
        journal.record_decision(decision, requested=requested, client_order_id=cid)
        if not any((d.ts, repr(d.decision.intent), d.decision.verdict, d.decision.quantity, repr(d.decision.reasons))
                   == (decision.intent.ts, repr(decision.intent), decision.verdict, decision.quantity,
                       repr(decision.reasons))
                   for d in model.decisions):  # the same verdict on the same intent, taken again: once
            model.decisions.append(DecisionRecord(decision.intent.ts, decision, requested, cid, model.session))
    elif kind == "positions":
        _, ts, held, source = step
        journal.record_positions(ts, held, source=source)
        model.positions[source] = PositionsSnapshot(ts, tuple(sorted(held, key=lambda p: p.symbol)), source,
                                                    model.session)
    elif kind == "balances":
        journal.record_balances(step[1], step[2])
        model.balances = BalancesSnapshot(step[1], tuple(sorted(step[2], key=lambda b: b.asset)), "exchange",
                                          model.session)
    elif kind == "equity":
        journal.record_equity(step[1])
        if step[1] not in model.equity:  # the very same snapshot again: once
            model.equity.append(step[1])
    elif kind in ("killswitch", "lock", "unlock", "cursor"):
        _control(journal, model, step)
    else:
        _operations(journal, model, step)


def _no_ids(items: list[Any]) -> list[Any]:
    return [replace(x, **{"id" if hasattr(x, "id") else "seq": None}) for x in items]


def check(journal: TradingJournal, model: Model) -> None:
    assert repr(journal.orders()) == repr(list(model.orders.values()))
    assert repr(journal.open_orders()) == repr([r for r in model.orders.values() if r.status.is_open])
    for cid, events in model.events.items():
        assert repr(journal.order(cid)) == repr(model.orders[cid])
        assert repr(_no_ids(journal.order_events(cid))) == repr(events)
    assert repr(_no_ids(journal.fills_after(None))) == repr(model.fills)
    if model.fills:
        first = model.fills[0]
        assert repr(_no_ids(journal.fills_after(first.fill_id))) == repr(model.fills[1:])
        assert journal.last_fill() is not None and journal.last_fill().fill_id == model.fills[-1].fill_id  # type: ignore[union-attr]
    assert repr(_no_ids(journal.decisions())) == repr(sorted(model.decisions, key=lambda d: d.ts))
    for source in ("ledger", "exchange"):
        assert repr(journal.latest_positions(source=source)) == repr(model.positions.get(source))
    assert repr(journal.latest_balances()) == repr(model.balances)
    latest = max(model.equity, key=lambda e: e.ts, default=None)  # the last written among equal times
    if latest is not None:
        latest = [e for e in model.equity if e.ts == latest.ts][-1]
    assert repr(journal.latest_equity()) == repr(latest)
    assert repr(journal.equity_since(0)) == repr(sorted(model.equity, key=lambda e: e.ts))
    assert repr(journal.load_killswitch()) == repr(model.killswitch)
    assert repr(_no_ids(journal.killswitch_history())) == repr(model.history)
    assert {lock.asset: (lock.ts, lock.until, lock.reason) for lock in journal.active_locks()} == model.locks
    assert repr(_no_ids(journal.tier_changes())) == repr(sorted(model.tiers, key=lambda t: t.ts))
    assert repr(_no_ids(journal.alerts())) == repr(sorted(model.alerts, key=lambda a: a.ts))
    assert repr(_no_ids(journal.incidents())) == repr(sorted(model.incidents, key=lambda i: i.ts))
    assert repr(_no_ids(journal.unresolved_incidents())) == repr(
        sorted([i for i in model.incidents if i.resolved_ts is None], key=lambda i: i.ts))
    for feed, bar_ts in model.cursors.items():
        assert journal.feed_cursor(feed) == bar_ts == journal.feed_cursor(feed, any_session=True)


@pytest.fixture(params=BACKENDS, scope="module")
def shared_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One journal for every example of the module; each example writes under an account of its own."""
    with fresh_journal(request.param, tmp_path_factory.mktemp("roundtrip")) as url:
        db = Database(url)
        yield db
        db.close()


@settings(max_examples=examples(50), suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                            HealthCheck.too_slow, HealthCheck.data_too_large])
@given(steps=st.lists(STEP, max_size=25))
def test_any_sequence_of_writes_reads_back_as_written(shared_db: Database, steps: list[tuple[Any, ...]]) -> None:
    session = f"run-{uuid.uuid4().hex[:6]}"
    journal = TradingJournal(shared_db, account=f"acct-{uuid.uuid4().hex[:12]}", session=session)
    model = Model(session)
    for step in steps:
        apply(journal, model, step)
    check(journal, model)


def test_the_journal_of_another_process_reads_the_same(tmp_path: Path) -> None:
    """Nothing is cached in the writer: a journal opened afresh (a restarted process) answers the same."""
    path = tmp_path / "j.sqlite"
    writer = TradingJournal(path, account="main", session="run-1")
    model = Model("run-1")
    order = Order("o0", 1, "BTC/USDT:USDT", OrderSide.BUY, OrderType.LIMIT, Decimal("0.010"), Decimal("60000.0"))
    writer.record_order(order)
    model.orders["o0"] = OrderRecord(order, OrderStatus.PENDING, Decimal(0), None, "run-1", 1)
    model.events["o0"] = []
    writer.close()
    check(TradingJournal(path, account="main", session="run-2"), Model("run-2", model.orders, model.events))
