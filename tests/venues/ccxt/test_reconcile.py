"""Reconciliation before a live session trades (``engine/reconcile.py``), against the fake Binance USD-M.

What the journal holds open is looked up at the exchange: still resting is agreed; ended while the session
was down is journalled from the exchange's record (its fill included), never guessed; unknown is an
incident. What the exchange holds that the journal does not explain (an order, a position) is an incident.
A live session refuses to start while a reconciliation incident is unresolved, and says how to resolve it.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from tests.fakes.binance_state import Holding
from tests.fakes.server import FakeBinance, FakeBybit
from tests.venues.ccxt.conftest import BTC, ETH, FAST, exchange_at, run
from typer.testing import CliRunner

from quantum_trader.cli.main import app
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.trading import Order, OrderEvent, OrderEventKind, OrderPurpose, OrderSide, OrderType
from quantum_trader.domain.trading import client_order_id as derive
from quantum_trader.engine.reconcile import Reconciliation, reconcile
from quantum_trader.journal import OrderStatus, SessionMode, TradingJournal
from quantum_trader.venues.ccxt.connect import venue_info

RUN = "live-binanceusdm-mainnet"


def _reconcile(url: str, journal: TradingJournal, now: int, exchange_id: str = "binanceusdm") -> Reconciliation:
    async def go() -> Reconciliation:
        exchange = exchange_at(url, exchange=exchange_id)
        try:
            await exchange.load_markets()
            return await reconcile(exchange, journal, venue_info(exchange_id), (BTC, ETH), now=now, backoff=FAST)
        finally:
            await exchange.close()
    return run(go)


def _live(path: Path, session: str = "s") -> TradingJournal:
    journal = TradingJournal(path, session=session)
    journal.start_session(SessionMode.LIVE, 1, exchange="binanceusdm")
    return journal


def _journalled(journal: TradingJournal, ts: int, kind: OrderType, quantity: str, price: str | None,
                symbol: str = BTC) -> Order:
    order = Order(derive(RUN, ts, symbol, OrderPurpose.ENTRY), ts, symbol, OrderSide.BUY, kind, Decimal(quantity),
                  None if price is None else Decimal(price), purpose=OrderPurpose.ENTRY)
    journal.record_order(order)
    return order


def _at_exchange(fake: FakeBinance, order: Order) -> None:
    params = {"symbol": order.symbol.split("/")[0] + "USDT", "side": "BUY", "type": order.type.value.upper(),
              "quantity": str(order.quantity), "newClientOrderId": order.client_order_id}
    if order.price is not None:
        params.update(price=str(order.price), timeInForce="GTC")
    with fake.exchange.lock:
        fake.exchange.new_order(params)


def test_a_flat_account_and_an_empty_journal_agree(url: str, tmp_path: Path) -> None:
    found = _reconcile(url, _live(tmp_path / "j.sqlite"), 1)
    assert found.agrees and found.flat and found.balance is not None
    assert found.lines()[0].startswith("reconciled in ")


def test_what_ended_while_the_session_was_down_is_journalled_from_the_exchange(
        url: str, fake: FakeBinance, tmp_path: Path) -> None:
    journal = _live(tmp_path / "j.sqlite")
    now = fake.exchange.market.now()
    paper = TradingJournal(tmp_path / "j.sqlite", session="paper")
    paper.start_session(SessionMode.PAPER, 1)
    _journalled(paper, now - 5, OrderType.LIMIT, "0.5", "100.0", ETH)  # a paper order never reached the exchange
    filled = _journalled(journal, now, OrderType.MARKET, "0.010", None)
    _at_exchange(fake, filled)  # sent, filled; the process died before it heard
    resting = _journalled(journal, now + 1, OrderType.LIMIT, "0.020", "10000.0")
    _at_exchange(fake, resting)
    journal.record_order_event(OrderEvent(now + 1, OrderEventKind.ACCEPTED, resting))
    found = _reconcile(url, journal, now + 2)
    assert found.agrees, found.lines()
    assert found.settled == [filled.client_order_id] and found.resting == [resting.client_order_id]
    record = journal.order(filled.client_order_id)
    assert record is not None and record.status is OrderStatus.FILLED and record.filled_quantity == Decimal("0.010")
    (fill,) = journal.fills_since(0)
    trade = next(t for t in fake.exchange.trades if t.qty == Decimal("0.010"))
    assert fill.fill.price == trade.price and fill.fill.fee == trade.commission
    assert found.exchange_positions[BTC] == found.journal_positions[BTC] == Decimal("0.010")
    (incident,) = journal.incidents()
    assert incident.kind == "order_settled" and incident.resolved_by == "reconciliation"
    assert journal.unresolved_incidents() == []
    again = _reconcile(url, journal, now + 3)
    assert again.agrees and again.settled == [] and len(journal.fills_since(0)) == 1, "nothing is journalled twice"


def test_what_the_journal_does_not_explain_is_an_incident_and_live_refuses_to_start(
        url: str, fake: FakeBinance, tmp_path: Path) -> None:
    journal = _live(tmp_path / "j.sqlite")
    now = fake.exchange.market.now()
    fake.exchange.positions["ETHUSDT"] = Holding(Decimal("-0.5"), Decimal(3000))
    with fake.exchange.lock:
        fake.exchange.new_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.200",
                                 "price": "1000.0", "timeInForce": "GTC", "newClientOrderId": "manual-1"})
    lost = _journalled(journal, now, OrderType.LIMIT, "0.010", "900.0")  # acknowledged once, now unknown there
    journal.record_order_event(OrderEvent(now, OrderEventKind.ACCEPTED, lost))
    unsent = _journalled(journal, now - 1, OrderType.LIMIT, "0.020", "800.0", ETH)  # the process died before sending
    found = _reconcile(url, journal, now + 1)
    kinds = sorted(d.kind for d in found.differences)
    assert kinds == ["foreign_order", "order_unknown", "position_mismatch"], found.lines()
    assert found.unsent == [unsent.client_order_id], "journalled and never acknowledged: not a difference"
    record = journal.order(unsent.client_order_id)
    assert record is not None and record.status is OrderStatus.REJECTED
    assert journal.order_events(unsent.client_order_id)[-1].reason.startswith("never reached the exchange")
    text = "\n".join(found.lines())
    assert "manual-1 rests at the exchange and not in the journal" in text
    assert f"{lost.client_order_id} is open in the journal and unknown to the exchange" in text
    assert "ETH/USDT:USDT: the exchange holds -0.5, the journal's fills net +0" in text
    open_ = journal.unresolved_incidents()
    assert sorted(i.kind for i in open_) == ["reconciliation:foreign_order", "reconciliation:order_unknown",
                                             "reconciliation:position_mismatch"]
    result = CliRunner().invoke(app, ["journal", "incidents", "--journal", str(tmp_path / "j.sqlite")],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "reconciliation:foreign_order" in result.output
    first = open_[0]
    result = CliRunner().invoke(app, ["journal", "resolve", str(first.id), "--by", "alice", "--resolution",
                                      "cancelled it by hand", "--journal", str(tmp_path / "j.sqlite")])
    assert result.exit_code == 0 and "resolved by alice" in result.output
    assert len(journal.unresolved_incidents()) == 2


def test_a_live_session_refuses_to_start_while_the_journal_and_the_exchange_disagree(
        url: str, fake: FakeBinance, bars: dict[str, BarSeries], tmp_path: Path) -> None:
    from tests.venues.ccxt.test_session import _request

    from quantum_trader.analytics.live import open_live
    from quantum_trader.venues.ccxt.connect import ExchangeSetupError

    fake.exchange.positions["ETHUSDT"] = Holding(Decimal("0.5"), Decimal(3000))
    journal = TradingJournal(tmp_path / "j.sqlite", session="s")
    request = replace(_request(bars, "live", 3, journal=journal), api_url=url)
    with pytest.raises(ExchangeSetupError, match=r"disagree \(#\d+ position_mismatch: ETH/USDT:USDT: the exchange "
                                                 r"holds \+0.5.*journal resolve ID"):
        run(lambda: open_live(request))
    assert fake.exchange.received == {} or sum(fake.exchange.received.values()) == 0, "nothing was sent"


def test_bybit_is_reconciled_the_same_way(bybit_url: str, bybit: FakeBybit, tmp_path: Path) -> None:
    journal = TradingJournal(tmp_path / "j.sqlite", session="s")
    journal.start_session(SessionMode.LIVE, 1, exchange="bybit")
    assert _reconcile(bybit_url, journal, 1, "bybit").agrees
    bybit.exchange.positions["ETHUSDT"] = Holding(Decimal("0.5"), Decimal(3000))
    found = _reconcile(bybit_url, journal, 2, "bybit")
    assert [d.kind for d in found.differences] == ["position_mismatch"], found.lines()
