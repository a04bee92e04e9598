"""What a live session heard (revision 0004): each order event and funding payment reads back once, in the order it
was first heard, with the market time it was first heard at, whatever was written again after a crash."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from quantum_trader.domain.trading import (
    Fill,
    FundingEvent,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderPurpose,
    OrderSide,
    OrderType,
)
from quantum_trader.journal import TradingJournal

BTC = "BTC/USDT:USDT"


def _order(n: int) -> Order:
    return Order(f"o{n}", 1_000 * n, BTC, OrderSide.BUY if n % 2 else OrderSide.SELL, OrderType.MARKET,
                 Decimal("0.010") * (n + 1), purpose=OrderPurpose.ENTRY)


def _filled(order: Order, ts: int) -> OrderEvent:
    fill = Fill(ts, order.symbol, order.side, order.quantity, Decimal("100.5"), Decimal("0.0123"),
                order.client_order_id)
    return OrderEvent(ts, OrderEventKind.FILLED, order, fill=fill, reference=100.25)


THINGS = st.lists(st.one_of(st.tuples(st.just("order"), st.integers(0, 5)),
                            st.tuples(st.just("funding"), st.integers(0, 5))), min_size=1, max_size=12, unique=True)


@settings(max_examples=25, deadline=None)
@given(things=THINGS, replayed=st.integers(0, 12))
def test_heard_events_read_back_once_in_the_order_first_heard(tmp_path_factory: object, things: list[tuple[str, int]],
                                                               replayed: int) -> None:
    path = Path(tmp_path_factory.mktemp("heard")) / "j.sqlite"  # type: ignore[attr-defined]
    journal = TradingJournal(path, session="live-1")
    written: list[tuple[int, object]] = []
    for heard, (kind, n) in enumerate(things):
        if kind == "order":
            order = _order(n)
            journal.record_order(order)
            event: OrderEvent | FundingEvent = _filled(order, order.ts + 5)
            journal.record_heard(event, heard_ts=10_000 + heard, fill_id=f"{order.client_order_id}/1")
        else:
            event = FundingEvent(8 * 3_600_000 * (n + 1), BTC, 0.0001 * (n + 1), 100.0 + n)
            journal.record_heard(event, heard_ts=10_000 + heard)
        written.append((10_000 + heard, event))
    for heard, (_, event) in enumerate(written[:replayed]):  # a resumed session hears a prefix again, later
        fill_id = f"{event.order.client_order_id}/1" if isinstance(event, OrderEvent) else None
        journal.record_heard(event, heard_ts=99_000 + heard, fill_id=fill_id)
    read = journal.heard()
    assert [(h.heard_ts, h.event) for h in read] == written
    assert journal.heard("another-session") == []
    journal.close()
