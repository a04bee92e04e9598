"""The ccxt execution client against the fake Bybit v5 exchange: what the Binance tests prove, on Bybit's terms.

A market order is one FILLED event at the exchange's price and fee; Bybit's refusals (retCodes) are REJECTED
events naming the category and are never sent again; a dropped placement answer, a 10006 rate limit and a
10000 "Server Timeout" (status unknown) are each looked up by ``orderLinkId`` before anything is resent, and
every link id reaches the exchange once; partial fills are one fill; a post-only limit that would cross
(which Bybit takes and then cancels) is a ``post_only`` refusal; a stop keeps its order id when it triggers
and its fill is found under it; a limit entry rests, fills as maker, lapses at its expiry.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tests.fakes.binance_http import Fault
from tests.fakes.server import FakeBybit
from tests.venues.ccxt.conftest import BTC, ETH, SOL, Desk, open_desk, run

from quantum_trader.domain.trading import OrderEventKind, OrderPurpose, OrderType

ORDER = ("POST", "/v5/order/create")


def _on(bybit_url: str, bybit: FakeBybit, test: Any, **settings: Any) -> None:
    async def go() -> None:
        desk = await open_desk(bybit_url, bybit, exchange_id="bybit", **settings)
        try:
            await test(desk)
        finally:
            await desk.exchange.close()
    run(go)


def _posts(bybit: FakeBybit) -> list[str]:
    return [q.get("orderLinkId", "") for m, p, q in bybit.server.log if (m, p) == ORDER]


def test_a_market_order_is_one_fill_at_the_exchanges_price_and_fee(bybit_url: str, bybit: FakeBybit) -> None:
    async def test(desk: Desk) -> None:
        order = desk.order(BTC, "buy", "0.010")
        (event,) = await desk.send(order)
        assert event.kind is OrderEventKind.FILLED and event.order is order
        (trade,) = bybit.exchange.trades
        assert (event.fill.quantity, event.fill.price, event.fill.fee) == (trade.qty, trade.price, trade.commission)
        assert trade.commission == (trade.qty * trade.price * Decimal("0.00055")).quantize(Decimal("1e-8"))
        assert event.fill.ts == bybit.exchange.market.now() and desk.client.positions[BTC] == Decimal("0.010")
        assert bybit.exchange.received[order.client_order_id] == 1 and _posts(bybit) == [order.client_order_id]
    _on(bybit_url, bybit, test)


@pytest.mark.parametrize(("code", "msg", "expected"), [
    (110007, "ab not enough for new order", "insufficient_margin: ab not enough for new order (code 110007)"),
    (110094, "Order does not meet minimum order value 5USDT", "min_notional: Order does not meet minimum order "
                                                               "value 5USDT (code 110094)"),
    (10001, "Qty invalid: the quantity is not a multiple of the qty step", "precision: Qty invalid"),
    (110017, "Reduce-only rule not satisfied", "reduce_only: Reduce-only rule not satisfied (code 110017)"),
    (110090, "Order placement failed as your position may exceed the max limit", "leverage_tier: "),
])
def test_a_refusal_carries_its_category_and_is_not_resent(bybit_url: str, bybit: FakeBybit, code: int, msg: str,
                                                          expected: str) -> None:
    bybit.server.faults.append(Fault(*ORDER, "reject", code=code, msg=msg))

    async def test(desk: Desk) -> None:
        (event,) = await desk.send(desk.order(ETH, "buy", "1.00"))
        assert event.kind is OrderEventKind.REJECTED and event.reason.startswith(expected)
        assert len(_posts(bybit)) == 1, "a refusal is never sent again"
    _on(bybit_url, bybit, test)


def test_the_exchanges_own_refusals_become_rejections(bybit_url: str, bybit: FakeBybit) -> None:
    async def test(desk: Desk) -> None:
        reduce = desk.order(BTC, "sell", "0.010", purpose=OrderPurpose.EXIT, reduce_only=True)
        big = desk.order(BTC, "buy", "900.000")
        events = {e.order.client_order_id: e for e in await desk.send(reduce, big)}
        assert events[reduce.client_order_id].reason == "reduce_only: Reduce-only rule not satisfied (code 110017)"
        assert events[big.client_order_id].reason.startswith("insufficient_margin: ab not enough for new order")
    _on(bybit_url, bybit, test)


def test_orders_bybits_rules_refuse_never_leave(bybit_url: str, bybit: FakeBybit) -> None:
    """Bybit's own lot step, minimum notional (5 USDT) and risk limit, from its instruments and risk limits."""
    async def test(desk: Desk) -> None:
        desk.client.max_notional[ETH] = Decimal(5_000)
        off_lot = desk.order(SOL, "buy", "10.05")  # SOLUSDT's qty step is 0.1
        price = Decimal(repr(bybit.exchange.market.price(BTC)))
        assert Decimal("0.001") * price > 5, "the smallest BTC lot is above the minimum notional"
        bracket = desk.order(ETH, "buy", "2.00")
        events = {e.order.client_order_id: e.reason for e in await desk.send(off_lot, bracket)}
        assert events[off_lot.client_order_id].startswith("precision: quantity 10.05 is not a multiple of the "
                                                           "exchange's step 0.1")
        assert events[bracket.client_order_id].startswith("leverage_tier: the position would be")
        assert desk.exchange.markets[BTC]["limits"]["cost"]["min"] == 5
        assert _posts(bybit) == []
    _on(bybit_url, bybit, test)


def test_a_dropped_answer_is_looked_up_by_link_id_and_adopted_never_resent(bybit_url: str, bybit: FakeBybit) -> None:
    bybit.server.faults.append(Fault(*ORDER, "drop", seconds=1.5))  # the client gives up after 1 s

    async def test(desk: Desk) -> None:
        order = desk.order(BTC, "buy", "0.010")
        (event,) = await desk.send(order)
        assert event.kind is OrderEventKind.FILLED and event.fill.quantity == Decimal("0.010")
        assert bybit.exchange.received[order.client_order_id] == 1 and len(_posts(bybit)) == 1
        lookups = [q for m, p, q in bybit.server.log if m == "GET" and p == "/v5/order/realtime"
                   and q.get("orderLinkId") == order.client_order_id]
        assert lookups and all("orderId" not in q for q in lookups), "asked by orderLinkId alone"
    _on(bybit_url, bybit, test)


def test_a_rate_limit_and_a_server_timeout_are_looked_up_before_one_resend(bybit_url: str, bybit: FakeBybit) -> None:
    """10006 (not acted on) and 10000 "Server Timeout" (acted on): each looked up; only the one the exchange lacks
    is sent again, under the same link id; every id reached the exchange once."""
    bybit.server.faults += [Fault(*ORDER, "429"), Fault(*ORDER, "unknown")]

    async def test(desk: Desk) -> None:
        first, second = desk.order(BTC, "buy", "0.010"), desk.order(ETH, "buy", "0.10")
        events = await desk.send(first)
        events += await desk.send(second)
        assert [e.kind for e in events] == [OrderEventKind.FILLED, OrderEventKind.FILLED]
        assert bybit.exchange.received == {first.client_order_id: 1, second.client_order_id: 1}
        assert _posts(bybit) == [first.client_order_id, first.client_order_id, second.client_order_id]
    _on(bybit_url, bybit, test)


def test_reads_wait_out_rate_limits_and_network_faults(bybit_url: str, bybit: FakeBybit) -> None:
    bybit.server.faults += [Fault("GET", "/v5/execution/list", "429", times=2),
                           Fault("GET", "/v5/order/realtime", "500", times=1)]

    async def test(desk: Desk) -> None:
        (event,) = await desk.send(desk.order(BTC, "buy", "0.010"))
        assert event.kind is OrderEventKind.FILLED
    _on(bybit_url, bybit, test)
    assert all(f.times == 0 for f in bybit.server.faults)


def test_partial_fills_reach_the_kernel_as_one_fill(bybit_url: str, bybit: FakeBybit) -> None:
    bybit.exchange.partial_next.append(Decimal("0.4"))

    async def test(desk: Desk) -> None:
        (event,) = await desk.send(desk.order(SOL, "buy", "10"))
        trades = bybit.exchange.trades
        assert [t.qty for t in trades] == [Decimal(4), Decimal(6)]
        assert event.fill.quantity == Decimal(10) and event.fill.fee == sum(t.commission for t in trades)
    _on(bybit_url, bybit, test)


def test_a_post_only_limit_bybit_cancels_for_crossing_is_a_post_only_refusal(bybit_url: str, bybit: FakeBybit) -> None:
    async def test(desk: Desk) -> None:
        price = f"{float(bybit.exchange.market.price(SOL)) * 1.05:.2f}"
        order = desk.order(SOL, "buy", "10", OrderType.LIMIT, price=price, post_only=True)
        (event,) = await desk.send(order)
        assert event.kind is OrderEventKind.REJECTED and event.reason.startswith("post_only: ")
        assert [q.get("timeInForce") for m, p, q in bybit.server.log if (m, p) == ORDER] == ["PostOnly"]
        assert bybit.exchange.received[order.client_order_id] == 1 and bybit.exchange.trades == []
    _on(bybit_url, bybit, test)


def test_a_resting_limit_partly_filled_then_expired_books_what_filled(bybit_url: str, bybit: FakeBybit) -> None:
    async def test(desk: Desk) -> None:
        market = bybit.exchange.market
        row = market.cursor
        price = f"{float(market.low[SOL][row]) + 0.05:.2f}"
        bybit.exchange.partial_next.append(Decimal("0.5"))
        limit = desk.order(SOL, "buy", "10", OrderType.LIMIT, price=price, post_only=True,
                           expire_ts=int(market.ts[row + 1]))
        (accepted,) = await desk.send(limit)
        assert accepted.kind is OrderEventKind.ACCEPTED
        assert await desk.advance() == []
        desk.client.expire(desk.clock.now())
        await desk.client.settle()
        (event,) = desk.client.drain()
        assert event.kind is OrderEventKind.FILLED and event.fill.quantity == Decimal(5) and event.fill.is_maker
        assert bybit.exchange.open_orders(None) == []
        cancels = [q for m, p, q in bybit.server.log if (m, p) == ("POST", "/v5/order/cancel")]
        assert cancels == [{"symbol": "SOLUSDT", "category": "linear", "orderLinkId": limit.client_order_id}]
    _on(bybit_url, bybit, test)


def test_a_stop_keeps_its_order_id_when_it_triggers_and_the_target_left_is_cancelled(
        bybit_url: str, bybit: FakeBybit) -> None:
    """Bybit's conditional order is the order that fills: its trades carry its own id. One FILLED event for the
    stop (reason ``stop``); the take-profit is cancelled because the position is flat."""
    async def test(desk: Desk) -> None:
        market = bybit.exchange.market
        row = market.cursor
        await desk.send(desk.order(BTC, "buy", "0.010"))
        stop = desk.order(BTC, "sell", "0.010", OrderType.STOP_MARKET, purpose=OrderPurpose.STOP,
                          stop=f"{float(market.low[BTC][row]) + 0.5:.1f}", reduce_only=True)
        take = desk.order(BTC, "sell", "0.010", OrderType.TAKE_PROFIT, purpose=OrderPurpose.TARGET,
                          price=f"{float(market.high[BTC][row]) * 1.2:.1f}", reduce_only=True)
        assert {e.kind for e in await desk.send(stop, take)} == {OrderEventKind.ACCEPTED}
        (sent,) = [q for m, p, q in bybit.server.log
                   if (m, p) == ORDER and q.get("orderLinkId") == stop.client_order_id]
        assert (sent["triggerDirection"], sent["orderType"], sent["reduceOnly"]) == (2, "Market", True)
        stop_id = desk.client.tracked[stop.client_order_id].exchange_id
        events = {e.order.client_order_id: (e.kind, e.reason) for e in await desk.advance()}
        assert events[stop.client_order_id] == (OrderEventKind.FILLED, "stop")
        assert events[take.client_order_id] == (OrderEventKind.CANCELLED, "position closed")
        t = desk.client.tracked[stop.client_order_id]
        assert t.triggered_id is None and {tr.order_id for tr in t.trades.values()} == {stop_id}
        assert desk.client.positions[BTC] == 0 and bybit.exchange.open_orders(None) == []
    _on(bybit_url, bybit, test)


def test_a_stop_the_price_has_passed_closes_the_position_at_market(bybit_url: str, bybit: FakeBybit) -> None:
    """Bybit refuses a falling trigger above the price (110093): the position is closed at market (``stop_gap``)."""
    async def test(desk: Desk) -> None:
        await desk.send(desk.order(BTC, "buy", "0.010"))
        above = f"{float(bybit.exchange.market.price(BTC)) + 100:.1f}"
        stop = desk.order(BTC, "sell", "0.010", OrderType.STOP_MARKET, purpose=OrderPurpose.STOP, stop=above,
                          reduce_only=True)
        (event,) = await desk.send(stop)
        assert (event.kind, event.reason, event.order) == (OrderEventKind.FILLED, "stop_gap", stop)
        assert not any(h.qty for h in bybit.exchange.positions.values())
    _on(bybit_url, bybit, test)


def test_an_order_already_at_the_exchange_is_adopted_not_sent_again(bybit_url: str, bybit: FakeBybit) -> None:
    async def test(desk: Desk) -> None:
        order = desk.order(BTC, "buy", "0.010")
        with bybit.exchange.lock:
            bybit.account.create({"symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": "0.010",
                                 "orderLinkId": order.client_order_id})
        (event,) = await desk.send(order)
        assert event.kind is OrderEventKind.FILLED and bybit.exchange.received[order.client_order_id] == 1
        assert _posts(bybit) == [] and desk.incidents[-1].message.endswith("adopted, not sent again")
    _on(bybit_url, bybit, test)


def test_a_fill_the_session_did_not_send_is_booked_as_an_exit_and_raised(bybit_url: str, bybit: FakeBybit) -> None:
    """An order the exchange filled that this session did not send (here Bybit's own close, link id
    ``autoclose-``, listed as a ``BustTrade`` execution): booked as an exit, marked a liquidation, and raised as
    one."""
    async def test(desk: Desk) -> None:
        await desk.send(desk.order(BTC, "buy", "0.010"))
        with bybit.exchange.lock:
            bybit.account.create({"symbol": "BTCUSDT", "side": "Sell", "orderType": "Market", "qty": "0.010",
                                  "reduceOnly": True, "orderLinkId": "autoclose-123"})
        await desk.client.settle()
        (event,) = desk.client.drain()
        assert event.kind is OrderEventKind.FILLED and event.fill.liquidation and event.reason == "liquidation"
        assert desk.client.positions[BTC] == 0 and desk.incidents[-1].kind == "liquidation"
    _on(bybit_url, bybit, test)
