"""The ccxt execution client against the fake Binance USD-M exchange: orders out, one event per order back.

What a user relies on: a market order is one FILLED event with the exchange's price and fee; a refusal is a
REJECTED event naming why and is never sent again; a placement whose answer is lost is looked up by its
client order id before anything is resent, so the exchange never takes a decision twice; a 429 is waited out;
partial fills reach the kernel as one fill; a stop fills where the exchange fills it and the position's other
reduce-only order is cancelled; limit entries lapse at their expiry; entries are refused while a halt holds.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from tests.fakes.binance_http import Fault
from tests.fakes.server import FakeBinance
from tests.venues.ccxt.conftest import BTC, ETH, SOL, Desk, open_desk, run

from quantum_trader.domain.trading import OrderEventKind, OrderPurpose, OrderType
from quantum_trader.venues.ccxt.tracking import Phase

ORDER = ("POST", "/fapi/v1/order")


def _on(url: str, fake: FakeBinance, test: object, **settings: object) -> None:
    async def go() -> None:
        desk = await open_desk(url, fake, **settings)
        try:
            await test(desk)  # type: ignore[operator]
        finally:
            await desk.exchange.close()
    run(go)


def test_a_market_order_is_one_fill_at_the_exchanges_price_and_fee(url: str, fake: FakeBinance) -> None:
    async def test(desk: Desk) -> None:
        order = desk.order(BTC, "buy", "0.010")
        (event,) = await desk.send(order)
        assert event.kind is OrderEventKind.FILLED and event.order is order
        (trade,) = fake.exchange.trades
        assert (event.fill.quantity, event.fill.price, event.fill.fee) == (trade.qty, trade.price, trade.commission)
        assert event.fill.ts == fake.exchange.market.now() and event.fill.client_order_id == order.client_order_id
        assert desk.client.positions[BTC] == Decimal("0.010")
        assert fake.exchange.received[order.client_order_id] == 1
    _on(url, fake, test)


def test_a_rejection_carries_the_exchanges_reason_and_is_not_resent(url: str, fake: FakeBinance) -> None:
    fake.server.faults.append(Fault(*ORDER, "reject", code=-2019, msg="Margin is insufficient."))

    async def test(desk: Desk) -> None:
        (event,) = await desk.send(desk.order(ETH, "buy", "1.000"))
        assert event.kind is OrderEventKind.REJECTED
        assert event.reason == "insufficient_margin: Margin is insufficient. (code -2019)"
        assert [p for m, p, _ in fake.server.log if (m, p) == ORDER] == ["/fapi/v1/order"]
    _on(url, fake, test)


def test_the_exchanges_own_refusals_become_rejections(url: str, fake: FakeBinance) -> None:
    async def test(desk: Desk) -> None:
        reduce = desk.order(BTC, "sell", "0.010", purpose=OrderPurpose.EXIT, reduce_only=True)
        big = desk.order(BTC, "buy", "900.000")
        events = {e.order.client_order_id: e for e in await desk.send(reduce, big)}
        assert events[reduce.client_order_id].reason.startswith("reduce_only: ReduceOnly Order is rejected.")
        assert events[big.client_order_id].reason.startswith("insufficient_margin")
    _on(url, fake, test)


def test_orders_the_exchange_would_refuse_never_leave(url: str, fake: FakeBinance) -> None:
    """Off the lot step, below the minimum notional, or beyond the leverage bracket: refused before sending."""
    async def test(desk: Desk) -> None:
        desk.client.max_notional[ETH] = Decimal(5_000)
        off_lot = desk.order(BTC, "buy", "0.0105")
        small = desk.order(BTC, "buy", "0.001")  # ~90 USDT, Binance's BTCUSDT minimum is 100
        bracket = desk.order(ETH, "buy", "2.000")  # ~6,000 USDT over a 5,000 cap
        events = {e.order.client_order_id: e.reason for e in await desk.send(off_lot, small, bracket)}
        assert events[off_lot.client_order_id].startswith("precision: quantity 0.0105 is not a multiple")
        assert events[small.client_order_id].startswith("min_notional: ")
        assert events[bracket.client_order_id].startswith("leverage_tier: the position would be")
        assert not any((m, p) == ORDER for m, p, _ in fake.server.log)
    _on(url, fake, test)


def test_a_dropped_answer_is_looked_up_and_adopted_never_resent(url: str, fake: FakeBinance) -> None:
    """The exchange acts, the answer never arrives in time: the client asks by client order id and finds it."""
    fake.server.faults.append(Fault(*ORDER, "drop", seconds=1.5))  # the client gives up after 1 s

    async def test(desk: Desk) -> None:
        order = desk.order(BTC, "buy", "0.010")
        (event,) = await desk.send(order)
        assert event.kind is OrderEventKind.FILLED and event.fill.quantity == Decimal("0.010")
        assert fake.exchange.received[order.client_order_id] == 1
        lookups = [p for m, p, q in fake.server.log if m == "GET" and p == "/fapi/v1/order"
                   and q.get("origClientOrderId") == order.client_order_id]
        assert lookups, "the order was looked up by its client order id"
        assert sum(1 for m, p, _ in fake.server.log if (m, p) == ORDER) == 1
    _on(url, fake, test)


def test_status_unknown_and_429_are_looked_up_before_one_resend(url: str, fake: FakeBinance) -> None:
    """A 429 (not acted on) and a -1007 (acted on): each is looked up; only the one the exchange lacks is sent
    again, under the same id; every id reached the exchange once."""
    fake.server.faults += [Fault(*ORDER, "429"), Fault(*ORDER, "unknown")]

    async def test(desk: Desk) -> None:
        first, second = desk.order(BTC, "buy", "0.010"), desk.order(ETH, "buy", "0.100")
        events = await desk.send(first)
        events += await desk.send(second)
        assert [e.kind for e in events] == [OrderEventKind.FILLED, OrderEventKind.FILLED]
        assert fake.exchange.received == {first.client_order_id: 1, second.client_order_id: 1}
        posts = [q.get("newClientOrderId") for m, p, q in fake.server.log if (m, p) == ORDER]
        assert posts == [first.client_order_id, first.client_order_id, second.client_order_id]
    _on(url, fake, test)


def test_an_unanswerable_placement_halts_entries_until_a_sync_settles_it(url: str, fake: FakeBinance) -> None:
    fake.server.faults += [Fault(*ORDER, "hang", seconds=1.0, times=1),
                           Fault("GET", "/fapi/v1/order", "hang", seconds=1.0, times=3)]

    async def test(desk: Desk) -> None:
        order = desk.order(BTC, "buy", "0.010")
        desk.client.submit(order)
        await desk.client.flush()
        assert desk.client.tracked[order.client_order_id].phase is Phase.UNKNOWN
        assert desk.client.halts and desk.incidents[-1].kind == "order_unknown"
        (refused,) = await desk.send(desk.order(ETH, "buy", "0.100"))
        assert refused.kind is OrderEventKind.REJECTED and refused.reason.startswith("halted: BTC/USDT:USDT order")
        await desk.client.settle()  # the exchange answers again: it never got the order
        (event,) = desk.client.drain()
        assert event.kind is OrderEventKind.REJECTED and event.reason.startswith("never reached the exchange")
        assert not desk.client.halts and desk.incidents[-1].action == "entries resumed"
        assert fake.exchange.received[order.client_order_id] == 0
    _on(url, fake, test, place_attempts=1, backoff=_slow_timeout())


def _slow_timeout() -> object:
    from quantum_trader.venues.ccxt.retry import Backoff

    return Backoff(attempts=1, first_s=0.01)


def test_reads_wait_out_429_and_network_faults(url: str, fake: FakeBinance) -> None:
    fake.server.faults += [Fault("GET", "/fapi/v1/userTrades", "429", times=2),
                           Fault("GET", "/fapi/v1/openOrders", "500", times=1)]

    async def test(desk: Desk) -> None:
        (event,) = await desk.send(desk.order(BTC, "buy", "0.010"))
        assert event.kind is OrderEventKind.FILLED
    _on(url, fake, test)


def test_partial_fills_reach_the_kernel_as_one_fill(url: str, fake: FakeBinance) -> None:
    fake.exchange.partial_next.append(Decimal("0.4"))

    async def test(desk: Desk) -> None:
        (event,) = await desk.send(desk.order(SOL, "buy", "10"))
        trades = fake.exchange.trades
        assert len(trades) == 2 and [t.qty for t in trades] == [Decimal(4), Decimal(6)]
        assert event.fill.quantity == Decimal(10) and event.fill.fee == sum(t.commission for t in trades)
    _on(url, fake, test)


def test_a_resting_limit_partly_filled_then_expired_books_what_filled(url: str, fake: FakeBinance) -> None:
    async def test(desk: Desk) -> None:
        market = fake.exchange.market
        row = market.cursor
        low = float(market.low[SOL][row])
        price = f"{(low + 0.05):.2f}"  # traded through within the forming bar
        fake.exchange.partial_next.append(Decimal("0.5"))
        expiry = int(market.ts[row + 1])
        limit = desk.order(SOL, "buy", "10", OrderType.LIMIT, price=price, post_only=True, expire_ts=expiry)
        (accepted,) = await desk.send(limit)
        assert accepted.kind is OrderEventKind.ACCEPTED
        assert await desk.advance() == []  # half filled, still resting
        desk.client.expire(desk.clock.now())
        await desk.client.settle()
        (event,) = desk.client.drain()
        assert event.kind is OrderEventKind.FILLED and event.fill.quantity == Decimal(5) and event.fill.is_maker
        assert fake.exchange.open_orders(None) == []
    _on(url, fake, test)


def test_a_limit_entry_not_filled_by_its_expiry_lapses(url: str, fake: FakeBinance) -> None:
    async def test(desk: Desk) -> None:
        price = f"{float(fake.exchange.market.price(SOL)) * 0.8:.2f}"
        limit = desk.order(SOL, "buy", "10", OrderType.LIMIT, price=price, post_only=True,
                           expire_ts=desk.clock.now() + 1)
        await desk.send(limit)
        await desk.advance()
        desk.client.expire(desk.clock.now())
        await desk.client.settle()
        (event,) = desk.client.drain()
        assert event.kind is OrderEventKind.EXPIRED and event.order is limit
    _on(url, fake, test)


def test_a_post_only_limit_that_would_cross_is_rejected_as_post_only(url: str, fake: FakeBinance) -> None:
    async def test(desk: Desk) -> None:
        price = f"{float(fake.exchange.market.price(SOL)) * 1.05:.2f}"
        (event,) = await desk.send(desk.order(SOL, "buy", "10", OrderType.LIMIT, price=price, post_only=True))
        assert event.kind is OrderEventKind.REJECTED and event.reason.startswith("post_only: ")
    _on(url, fake, test)


def test_a_stop_fills_at_the_exchange_and_the_target_left_is_cancelled(url: str, fake: FakeBinance) -> None:
    """Entry, then its stop (an algo order) and its take-profit; the bar after reaches the stop: one FILLED
    event for the stop (its reason ``stop``), the take-profit cancelled because the position is flat."""
    async def test(desk: Desk) -> None:
        market = fake.exchange.market
        row = market.cursor
        (entry,) = await desk.send(desk.order(BTC, "buy", "0.010"))
        low, opened = float(market.low[BTC][row]), float(market.open[BTC][row])
        assert low < opened - 1
        stop_price = f"{low + 0.5:.1f}"  # below the price now, reached inside the forming bar
        target = f"{float(market.high[BTC][row]) * 1.2:.1f}"
        stop = desk.order(BTC, "sell", "0.010", OrderType.STOP_MARKET, purpose=OrderPurpose.STOP, stop=stop_price,
                          reduce_only=True)
        take = desk.order(BTC, "sell", "0.010", OrderType.TAKE_PROFIT, purpose=OrderPurpose.TARGET, price=target,
                          reduce_only=True)
        accepted = await desk.send(stop, take)
        assert {e.kind for e in accepted} == {OrderEventKind.ACCEPTED}
        events = await desk.advance()
        kinds = {e.order.client_order_id: (e.kind, e.reason) for e in events}
        assert kinds[stop.client_order_id] == (OrderEventKind.FILLED, "stop")
        assert kinds[take.client_order_id] == (OrderEventKind.CANCELLED, "position closed")
        assert desk.client.positions[BTC] == 0 and fake.exchange.open_orders(None) == []
        assert entry.fill.ts == int(market.ts[row])
    _on(url, fake, test)


def test_a_fill_the_session_did_not_send_is_booked_as_an_exit_and_raised(url: str, fake: FakeBinance) -> None:
    async def test(desk: Desk) -> None:
        await desk.send(desk.order(BTC, "buy", "0.010"))
        with fake.exchange.lock:  # the exchange closes the position itself (an operator, a liquidation)
            fake.exchange.new_order({"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.010",
                                     "reduceOnly": "true", "newClientOrderId": "autoclose-123"})
        await desk.client.settle()
        (event,) = desk.client.drain()
        assert event.kind is OrderEventKind.FILLED and event.fill.liquidation and event.reason == "liquidation"
        assert desk.client.positions[BTC] == 0
        assert desk.incidents[-1].kind == "liquidation", "an incident named for what the exchange did"
    _on(url, fake, test)


def test_a_cancel_before_sending_needs_no_request_and_one_after_is_confirmed(url: str, fake: FakeBinance) -> None:
    async def test(desk: Desk) -> None:
        queued = desk.order(SOL, "buy", "10", OrderType.LIMIT, price="100.00", post_only=True)
        desk.client.submit(queued)
        desk.client.cancel(queued.client_order_id, "replaced")
        resting = desk.order(SOL, "buy", "10", OrderType.LIMIT, price="101.00", post_only=True)
        events = await desk.send(resting)
        desk.client.cancel(resting.client_order_id, "kill_switch")
        await desk.client.settle()
        events += desk.client.drain()
        assert [(e.order.client_order_id, e.kind, e.reason) for e in events] == [
            (queued.client_order_id, OrderEventKind.CANCELLED, "replaced"),
            (resting.client_order_id, OrderEventKind.ACCEPTED, ""),
            (resting.client_order_id, OrderEventKind.CANCELLED, "kill_switch")]
        assert queued.client_order_id not in fake.exchange.received
    _on(url, fake, test)


def test_a_stop_the_price_has_passed_closes_the_position_at_market(url: str, fake: FakeBinance) -> None:
    """The exchange refuses a stop that would trigger at once; the position is not left unprotected: it is closed
    at market, and the kernel hears the stop filled (``stop_gap``), as the simulated venue fills it."""
    async def test(desk: Desk) -> None:
        await desk.send(desk.order(BTC, "buy", "0.010"))
        above = f"{float(fake.exchange.market.price(BTC)) + 100:.1f}"
        stop = desk.order(BTC, "sell", "0.010", OrderType.STOP_MARKET, purpose=OrderPurpose.STOP, stop=above,
                          reduce_only=True)
        (event,) = await desk.send(stop)
        assert (event.kind, event.reason, event.order) == (OrderEventKind.FILLED, "stop_gap", stop)
        assert event.fill.quantity == Decimal("0.010") and desk.client.positions[BTC] == 0
        assert not any(h.qty for h in fake.exchange.positions.values())
    _on(url, fake, test)


def test_an_order_already_at_the_exchange_is_adopted_not_sent_again(url: str, fake: FakeBinance) -> None:
    """After a restart the same decision carries the same client id: the order the exchange has is taken as it is
    (its fill booked once), and nothing is sent."""
    async def test(desk: Desk) -> None:
        order = desk.order(BTC, "buy", "0.010")
        with fake.exchange.lock:
            fake.exchange.new_order({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010",
                                     "newClientOrderId": order.client_order_id})
        (event,) = await desk.send(order)
        assert event.kind is OrderEventKind.FILLED and event.fill.quantity == Decimal("0.010")
        assert fake.exchange.received[order.client_order_id] == 1
        assert desk.incidents[-1].message.endswith("adopted, not sent again")
    _on(url, fake, test)


def test_each_order_is_told_before_it_leaves(url: str, fake: FakeBinance) -> None:
    seen: list[tuple[str, int]] = []

    async def test(desk: Desk) -> None:
        desk.client.before_send = lambda order, cid: seen.append((cid, len(fake.exchange.received)))
        order = desk.order(BTC, "buy", "0.010")
        await desk.send(order)
        assert seen == [(order.client_order_id, 0)], "told before the exchange had it"
    _on(url, fake, test)


def test_an_order_sized_at_the_fill_takes_its_share_of_the_equity_then(url: str, fake: FakeBinance) -> None:
    async def test(desk: Desk) -> None:
        order = replace(desk.order(SOL, "buy", "0"), equity_fraction=0.1)
        (event,) = await desk.send(order)
        price = Decimal(repr(fake.exchange.market.price(SOL)))
        expected = int(Decimal(10_000) / (price * Decimal("1.0005")))
        assert event.fill.quantity == expected
    _on(url, fake, test)


def test_funding_is_read_only_around_settlements(url: str, fake: FakeBinance) -> None:
    """The funding history (one of Binance's heaviest reads) is asked within two hours after a settlement time,
    not at every sync."""
    def income_reads() -> int:
        return sum(1 for _m, p, _q in fake.server.log if p == "/fapi/v1/income")

    async def test(desk: Desk) -> None:
        await desk.send(desk.order(BTC, "buy", "0.010"))  # 02:00: within two hours of 00:00
        assert income_reads() >= 1
        before = income_reads()
        for _ in range(4):  # 03:00 .. 06:00
            await desk.advance()
        assert income_reads() == before
        for _ in range(3):  # 07:00 .. 09:00: the 08:00 settlement
            await desk.advance()
        assert income_reads() > before
    _on(url, fake, test)
