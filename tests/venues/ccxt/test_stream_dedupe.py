"""The invariant the streams must keep: each trade of an order is booked once, whichever brought it.

An order fills in several trades; each trade reaches the client from the user stream, from a poll, or from both,
in any order, and the exchange's final word on the order ("closed", so much filled) comes at any point among
them. Whatever the interleaving, the kernel hears nothing until every trade the exchange counts is in, then one
FILLED event carrying each trade exactly once (their summed quantity and fees).
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from quantum_trader.domain.clock import ReplayClock
from quantum_trader.domain.trading import Order, OrderEventKind, OrderPurpose, OrderSide, OrderType, client_order_id
from quantum_trader.venues.ccxt.connect import venue_info
from quantum_trader.venues.ccxt.execution import CcxtExecutionClient
from quantum_trader.venues.ccxt.tracking import Phase, TradeSeen

BTC = "BTC/USDT:USDT"
MARKET = {"precision": {"amount": 0.001, "price": 0.1}, "limits": {}}


@given(st.data())
def test_each_trade_is_booked_once_whichever_brought_it(data: st.DataObject) -> None:
    quantities = data.draw(st.lists(st.integers(1, 50), min_size=1, max_size=5), label="trade sizes (0.001)")
    sources = data.draw(st.lists(st.sampled_from(["stream", "poll", "both"]), min_size=len(quantities),
                                 max_size=len(quantities)), label="who brings each trade")
    exchange = SimpleNamespace(id="binanceusdm", markets={BTC: MARKET})
    client = CcxtExecutionClient(exchange, venue_info("binanceusdm"), lambda *_a, **_k: 0.0, ReplayClock(0),
                                 lambda _s: 100.0)
    total = Decimal(sum(quantities)) / 1000
    order = Order(client_order_id("test", 0, BTC, OrderPurpose.ENTRY, 1), 0, BTC, OrderSide.BUY, OrderType.MARKET,
                  total)
    client.submit(order)
    t = client.tracked[order.client_order_id]
    t.phase = Phase.SENDING  # its request is out: the stream may answer before the exchange's reply does
    assert client.take_order({"id": "77", "clientOrderId": t.client_id, "status": "open", "filled": 0})
    trades = [TradeSeen(f"t{i}", "77", BTC, "buy", 1000 + i, Decimal("100.5"), Decimal(q) / 1000,
                        Decimal("0.01"), False) for i, q in enumerate(quantities)]
    steps: list[tuple[str, TradeSeen | None]] = []
    for trade, source in zip(trades, sources, strict=True):
        steps += [(s, trade) for s in (("stream", "poll") if source == "both" else (source,))]
    steps.append(("final", None))
    steps = data.draw(st.permutations(steps), label="the order things arrive in")

    heard = []
    for i, (source, trade) in enumerate(steps):
        if source == "final":
            client.take_order({"id": "77", "clientOrderId": t.client_id, "status": "closed", "filled": float(total)})
        else:
            assert trade is not None
            client.take_trade(trade, polled=source == "poll")
        event = t.final_event(2000)
        if event is not None:
            heard.append((i, event))
            t.phase = Phase.DONE
    ((index, event),) = heard
    first = [min(i for i, (_s, seen) in enumerate(steps) if seen is trade) for trade in trades]
    assert index == max(steps.index(("final", None)), *first), "heard once everything it counts is in"
    assert event.kind is OrderEventKind.FILLED and event.fill is not None
    assert event.fill.quantity == total and event.fill.fee == Decimal("0.01") * len(quantities)
    assert sorted(t.trades) == sorted(trade.id for trade in trades)


@given(st.data())
def test_a_trade_the_session_did_not_send_is_booked_once_whichever_brought_it(data: st.DataObject) -> None:
    """A liquidation's trades, heard on the stream, polled, or both, in any order: one exit each."""
    import asyncio

    import ccxt

    sources = data.draw(st.lists(st.sampled_from(["stream", "poll", "both"]), min_size=1, max_size=4))

    async def not_found(*_args: object) -> dict[str, object]:
        raise ccxt.OrderNotFound("gone")

    exchange = SimpleNamespace(id="bybit", markets={BTC: MARKET}, fetch_order=not_found)
    incidents: list[object] = []
    client = CcxtExecutionClient(exchange, venue_info("bybit"), lambda *_a, **_k: 0.0, ReplayClock(0),
                                 lambda _s: 100.0, on_incident=incidents.append)
    client.positions[BTC] = Decimal("1")
    trades = [TradeSeen(f"e{i}", "900", BTC, "sell", 1000 + i, Decimal("99"), Decimal("0.1"), Decimal("0.02"),
                        False, forced="liquidation") for i in range(len(sources))]
    steps = [(s, trade) for trade, source in zip(trades, sources, strict=True)
             for s in (("stream", "poll") if source == "both" else (source,))]
    for source, trade in data.draw(st.permutations(steps)):
        client.take_trade(trade, polled=source == "poll")
    asyncio.run(client._foreign_fills())
    events = client.drain()
    assert sorted(e.fill.quantity for e in events if e.fill) == [Decimal("0.1")] * len(trades)
    assert all(e.fill.liquidation and e.reason == "liquidation" for e in events if e.fill)
    assert client.positions[BTC] == Decimal("1") - Decimal("0.1") * len(trades)
    assert [i.kind for i in incidents] == ["liquidation"]  # type: ignore[attr-defined]
