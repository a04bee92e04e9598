"""Orders and fills heard on the user data stream (ccxt.pro against the fake exchanges' websockets).

What a user relies on: once the stream is trusted, a market order's fill and a stop's fill reach the kernel as
the poller would report them (one event, the exchange's price and fee) without the account being polled; a
dropped stream is an incident, everything is polled meanwhile, and when it is back nothing was lost or booked
twice; a liquidation or an auto-deleveraging is booked as an exit with its own incident, whether heard on the
stream or polled, on Binance and on Bybit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.server import FakeBinance, FakeBybit
from tests.fakes.stream_hub import force_close
from tests.venues.ccxt.conftest import BTC, ETH, FAST, Desk, open_desk, run

from quantum_trader.domain.trading import OrderEventKind, OrderPurpose, OrderType
from quantum_trader.venues.ccxt.forced import order_forced
from quantum_trader.venues.ccxt.stream_user import StreamSettings, binance_forced_trade

SETTINGS = StreamSettings(wait_s=2.0, retry=FAST)
OUTCOME_READS = {"/fapi/v1/userTrades", "/fapi/v1/openOrders", "/fapi/v1/openAlgoOrders", "/v5/execution/list"}
"""Polls of what happened to orders (a lookup by client id before a first send is not one)."""


async def until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def trusted(desk: Desk) -> None:
    """Start the stream, let it deliver (an order of its own) and reconcile: then it is trusted."""
    await desk.client.settle()  # the first sync starts the watchers
    await until(lambda: desk.fake.server.streams.subscribed("user"), "the user stream's subscription")
    await desk.send(desk.order(BTC, "buy", "0.010"))
    await until(lambda: desk.client._stream.state != "connecting", "the stream's first delivery")  # type: ignore
    await desk.client.settle()
    assert desk.client._stream.state == "trusted"  # type: ignore[union-attr]


def _on(exchange_id: str, bars: Any, test: Callable[[Desk], Any], *, streams: bool = True) -> None:
    fake = (FakeBybit if exchange_id == "bybit" else FakeBinance).of(bars, cursor=2, api_key="fake-key")

    async def go(url: str) -> None:
        desk = await open_desk(url, fake, exchange_id=exchange_id, streams=streams, stream=SETTINGS)
        try:
            await test(desk)
        finally:
            await desk.client.close()
            await desk.exchange.close()

    with fake.running() as url:
        run(lambda: go(url))


def _outcome_reads(desk: Desk, since: int) -> list[str]:
    """Polls of orders and trades after ``since`` (funding is always polled: Bybit lists it as executions)."""
    return [p for _m, p, q in desk.fake.server.log[since:] if p in OUTCOME_READS and q.get("execType") != "Funding"]


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit"])
def test_a_fill_is_heard_on_the_stream_without_polling_the_account(exchange_id: str, bars: Any) -> None:
    async def test(desk: Desk) -> None:
        await trusted(desk)
        mark = len(desk.fake.server.log)
        (event,) = await desk.send(desk.order(ETH, "buy", "0.10"))
        trade = desk.fake.exchange.trades[-1]
        assert event.kind is OrderEventKind.FILLED
        assert (event.fill.quantity, event.fill.price, event.fill.fee) == (trade.qty, trade.price, trade.commission)
        assert desk.client.positions[ETH] == Decimal("0.10")
        assert _outcome_reads(desk, mark) == [], "the stream brought the fill: the account was not polled"
    _on(exchange_id, bars, test)


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit"])
def test_a_stop_that_fills_is_heard_on_the_stream(exchange_id: str, bars: Any) -> None:
    """Binance's stop becomes another order when it triggers (the stream's ``ALGO_UPDATE`` names it); Bybit's
    keeps its id: either way one FILLED event, the target left cancelled, and no poll of the account's trades."""
    async def test(desk: Desk) -> None:
        await trusted(desk)
        market = desk.fake.exchange.market
        await desk.send(desk.order(BTC, "sell", "0.010", reduce_only=True, purpose=OrderPurpose.EXIT))
        row = market.cursor
        await desk.send(desk.order(BTC, "buy", "0.010"))
        low = float(market.low[BTC][row])
        stop = desk.order(BTC, "sell", "0.010", OrderType.STOP_MARKET, purpose=OrderPurpose.STOP,
                          stop=f"{low + 0.5:.1f}", reduce_only=True)
        take = desk.order(BTC, "sell", "0.010", OrderType.TAKE_PROFIT, purpose=OrderPurpose.TARGET,
                          price=f"{float(market.high[BTC][row]) * 1.2:.1f}", reduce_only=True)
        await desk.send(stop, take)
        mark = len(desk.fake.server.log)
        events = await desk.advance()
        kinds = {e.order.client_order_id: (e.kind, e.reason) for e in events}
        assert kinds[stop.client_order_id] == (OrderEventKind.FILLED, "stop")
        assert kinds[take.client_order_id] == (OrderEventKind.CANCELLED, "position closed")
        assert desk.client.positions[BTC] == 0
        assert "/fapi/v1/userTrades" not in _outcome_reads(desk, mark)
        assert "/v5/execution/list" not in _outcome_reads(desk, mark)
    _on(exchange_id, bars, test)


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit"])
def test_a_dropped_stream_is_polled_meanwhile_and_no_fill_is_lost_or_booked_twice(exchange_id: str,
                                                                                   bars: Any) -> None:
    async def test(desk: Desk) -> None:
        streams = desk.fake.server.streams
        await trusted(desk)
        stream = desk.client._stream
        booked = [e for e in desk.client.drain()]
        streams.refuse.add("user")
        assert streams.drop("user") == 1
        await until(lambda: stream.state == "down", "the client to notice the drop")  # type: ignore[union-attr]
        assert [i.kind for i in desk.incidents] == ["stream_down"]
        while_down = [await desk.send(desk.order(ETH, "buy", "0.10")), await desk.advance(),
                      await desk.send(desk.order(ETH, "sell", "0.10", reduce_only=True, purpose=OrderPurpose.EXIT))]
        booked += [e for events in while_down for e in events]
        assert [e.kind for e in booked if e.order.symbol == ETH] == [OrderEventKind.FILLED] * 2, \
            "fills while the stream was down were polled"
        streams.refuse.clear()
        await until(lambda: streams.subscribed("user"), "the stream to reconnect")
        booked += await desk.send(desk.order(ETH, "buy", "0.10"))  # heard: the next sync polls once, then trusts
        await until(lambda: stream.state in ("live", "trusted"), "a delivery after the reconnection")  # type: ignore
        booked += await desk.advance()
        assert stream.state == "trusted"  # type: ignore[union-attr]
        booked += await desk.send(desk.order(ETH, "sell", "0.10", reduce_only=True, purpose=OrderPurpose.EXIT))
        fills = [e.fill for e in booked if e.fill is not None]
        assert len(fills) == len(desk.fake.exchange.trades) - 1, "every trade booked once (the first in trusted())"
        assert len({f.client_order_id for f in fills}) == len(fills)
        assert desk.client.positions[ETH] == 0 and desk.fake.exchange.holding("ETHUSDT").qty == 0
        assert [i.kind for i in desk.incidents] == ["stream_down", "stream_resumed"]
    _on(exchange_id, bars, test)


@pytest.mark.parametrize("streams", [True, False], ids=["streamed", "polled"])
@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit"])
def test_a_liquidation_and_an_adl_are_booked_as_exits_and_raised(exchange_id: str, streams: bool,
                                                                  bars: Any) -> None:
    """The exchange closes half the position (a liquidation), then the rest (auto-deleveraging): two exits the
    session did not send, each booked once at the exchange's price and fee, each raised by name."""
    async def test(desk: Desk) -> None:
        if streams:
            await trusted(desk)
            desk.client.drain()
        await desk.send(desk.order(ETH, "buy", "0.20"))
        exchange = desk.fake.exchange
        for kind, fraction in (("liquidation", Decimal("0.5")), ("adl", Decimal(1))):
            with exchange.lock:
                trade = force_close(exchange, "ETHUSDT", kind, fraction)
            (event,) = await desk.advance()
            assert event.kind is OrderEventKind.FILLED and event.reason == kind
            assert event.fill.liquidation is (kind == "liquidation")
            assert (event.fill.quantity, event.fill.price, event.fill.fee) == (trade.qty, trade.price,
                                                                              trade.commission)
            assert desk.incidents[-1].kind == kind and desk.incidents[-1].symbol == ETH
        assert desk.client.positions[ETH] == 0 and exchange.holding("ETHUSDT").qty == 0
    _on(exchange_id, bars, test, streams=streams)


PAYLOADS = "exchange_payloads/binance_futures/user_data_json"


@pytest.mark.parametrize(("name", "kind"), [("order_update_calculated.json", "liquidation"),
                                             ("order_update_insurance.json", "liquidation"),
                                             ("order_update_adl.json", "adl"), ("order_update_trade.json", "")])
def test_binances_documented_order_updates_say_liquidation_and_adl(shared_data: Path, name: str,
                                                                    kind: str) -> None:
    """Binance's own payloads, read through ccxt.pro as the stream reads them: the forced ones are told apart,
    and their fill (``"x": "CALCULATED"``, which ccxt does not read as a trade) is read from the update."""
    import ccxt.pro

    message = json.loads((shared_data / PAYLOADS / name).read_text())
    exchange = ccxt.pro.binanceusdm()
    order = exchange.parse_ws_order(message["o"])
    assert order_forced(order) == kind
    trade = binance_forced_trade(order)
    if not kind:
        assert trade is None
        return
    assert trade is not None and trade.forced == kind
    o = message["o"]
    assert (trade.id, trade.order_id, trade.qty, trade.price, trade.fee) == (
        str(o["t"]), str(o["i"]), Decimal(o["l"]), Decimal(o["L"]), Decimal(o["n"]))


def test_a_user_stream_gone_quiet_is_taken_for_down_and_polled(bars: Any) -> None:
    """Connected but silent (a listen key that lapsed without a word): each fill is polled after ``wait_s``,
    and ``misses`` such in a row are an incident; once it delivers again it is trusted after one reconciling
    poll."""
    settings = StreamSettings(wait_s=0.2, misses=2, retry=FAST)

    async def test(desk: Desk) -> None:
        streams = desk.fake.server.streams
        await trusted(desk)
        streams.silent.add("user")
        lines: list[str] = []
        desk.client._stream.log = lines.append  # type: ignore[union-attr]
        for side in ("buy", "sell"):
            (event,) = await desk.send(desk.order(ETH, side, "0.10", reduce_only=side == "sell",
                                                  purpose=OrderPurpose.ENTRY if side == "buy" else OrderPurpose.EXIT))
            assert event.kind is OrderEventKind.FILLED, "polled when the stream stayed silent"
        assert len(lines) == 2 and all("did not report" in line for line in lines)
        assert [(i.kind, i.action) for i in desk.incidents] == [("stream_down", "polling instead")]
        streams.silent.clear()
        await desk.send(desk.order(ETH, "buy", "0.10"))
        await until(lambda: desk.client._stream.state in ("live", "trusted"), "a delivery")  # type: ignore
        await desk.client.settle()
        assert desk.client._stream.state == "trusted"  # type: ignore[union-attr]
        assert [i.kind for i in desk.incidents] == ["stream_down", "stream_resumed"]
        assert desk.client.positions[ETH] == Decimal("0.10")

    fake = FakeBinance.of(bars, cursor=2, api_key="fake-key")

    async def go(url: str) -> None:
        desk = await open_desk(url, fake, streams=True, stream=settings)
        try:
            await test(desk)
        finally:
            await desk.client.close()
            await desk.exchange.close()

    with fake.running() as url:
        run(lambda: go(url))
