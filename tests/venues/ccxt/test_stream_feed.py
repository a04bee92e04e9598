"""Closed candles from the exchanges' kline streams (ccxt.pro against the fake exchanges' websockets).

What a user relies on: with streams on, a bar reaches the session as soon as the exchange's stream shows it
closed, without a candles request, and it is the bar a poll would have read; a stream that drops, goes quiet or
does not exist is an incident and the candles are polled meanwhile, no bar lost or given twice; when the stream
is back the bars come from it again. The market here is moved to the wall clock and the feed's clock is moved
to each bar's close, so the stream has its grace to deliver (a close long past is polled at once).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.server import FakeBinance, FakeBybit
from tests.venues.ccxt.conftest import BTC, FAST, KEY, exchange_at, run
from tests.venues.ccxt.test_feed import HOUR, _shifted

from quantum_trader.domain.market import BarSeries
from quantum_trader.venues.ccxt.clock import ExchangeClock
from quantum_trader.venues.ccxt.feed import FeedOptions, LiveFeed
from quantum_trader.venues.ccxt.incidents import Halts, Incident
from quantum_trader.venues.ccxt.stream_candles import closed_flags

FORMING = 5
KLINES = {"/fapi/v1/klines", "/v5/market/kline"}


class Session:
    """A feed with streams on, over a fake exchange whose bar ``FORMING`` opened this wall-clock hour; the
    feed's clock is set to a bar's close by ``at_close``."""

    def __init__(self, fake: Any, exchange: Any, bars: dict[str, BarSeries], **options: Any) -> None:
        self.fake, self.bars, self.offset = fake, bars, 0.0
        self.incidents: list[Incident] = []
        clock = ExchangeClock(exchange, 1000, FAST, wall=lambda: time.time() + self.offset)
        self.feed = LiveFeed(exchange, tuple(bars), "1h", clock, FeedOptions(**{
            "marks": False, "funding": False, "books": False, "poll_s": 0.02, "grace_s": 0.0, "max_wait_s": 0.05,
            "streams": True, "stream_grace_s": 5.0, **options}), Halts(), self.incidents.append, FAST)
        self.rows: Any = None

    def at_close(self, row: int) -> None:
        """The feed's clock half a second past bar ``row``'s close."""
        close = int(self.bars[BTC].ts[row]) + HOUR
        self.offset = close / 1000 + 0.5 - time.time()

    def requests(self) -> int:
        return sum(1 for _m, p, _q in self.fake.server.log if p in KLINES)

    async def streamed(self, row: int) -> Any:
        """Bar ``row`` as the stream tells it: the exchange moves past it, the feed takes it without a request."""
        before = self.requests()
        waiting = asyncio.ensure_future(self.rows.__anext__())
        self.at_close(row)
        await asyncio.sleep(0.02)
        with self.fake.exchange.lock:
            self.fake.exchange.advance()
        got = await asyncio.wait_for(waiting, 4)
        assert self.requests() == before, f"bar {row} came from the stream, not from a candles request"
        return got

    async def polled(self, row: int) -> Any:
        """Bar ``row`` as a poll reads it (the request moves the exchange past it)."""
        before = self.requests()
        waiting = asyncio.ensure_future(self.rows.__anext__())
        self.at_close(row)
        got = await asyncio.wait_for(waiting, 4)
        assert self.requests() > before, f"bar {row} was polled"
        return got


def _run(exchange_id: str, bars: dict[str, BarSeries], test: Any, **options: Any) -> None:
    shifted = _shifted(bars, forming=FORMING)
    fake = (FakeBybit if exchange_id == "bybit" else FakeBinance).of(shifted, cursor=FORMING, api_key=KEY)

    async def go(url: str) -> None:
        exchange = exchange_at(url, exchange=exchange_id, streams=True)
        await exchange.load_markets()
        session = Session(fake, exchange, shifted, **options)
        try:
            await test(session, exchange)
        finally:
            if session.rows is not None:
                await session.rows.aclose()
            await session.feed.close()
            await exchange.close()

    with fake.running() as url:
        run(lambda: go(url))


async def _started(session: Session) -> None:
    assert await session.feed.start() == int(session.bars[BTC].ts[FORMING])
    session.rows = session.feed.rows()
    await _until(lambda: session.feed.stream.live, "the kline stream's first message")  # type: ignore[union-attr]


async def _until(check: Any, what: str) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _same(row: Any, bars: dict[str, BarSeries], index: int) -> None:
    assert row.ts == int(bars[BTC].ts[index])
    for j, symbol in enumerate(bars):
        b = bars[symbol]
        assert (row.open[j], row.high[j], row.low[j], row.close[j], row.volume[j]) == pytest.approx(
            (b.open[index], b.high[index], b.low[index], b.close[index], b.volume[index]))


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit"])
def test_a_closed_candle_is_taken_from_the_stream_without_a_request(exchange_id: str,
                                                                    bars: dict[str, BarSeries]) -> None:
    async def test(session: Session, _exchange: Any) -> None:
        await _started(session)
        shifted = session.bars
        for index in range(FORMING, FORMING + 3):
            _same(await session.streamed(index), shifted, index)
        assert session.incidents == []
    _run(exchange_id, bars, test)


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit"])
def test_a_dropped_kline_stream_is_polled_until_it_is_back(exchange_id: str, bars: dict[str, BarSeries]) -> None:
    async def test(session: Session, _exchange: Any) -> None:
        streams = session.fake.server.streams
        await _started(session)
        rows = [await session.streamed(FORMING)]
        streams.refuse.add("market")
        assert streams.drop("market") == 1
        await _until(lambda: not session.feed.stream.live, "the feed to notice the drop")  # type: ignore[union-attr]
        assert [(i.kind, i.action) for i in session.incidents] == [("stream_down", "polling instead")]
        rows += [await session.polled(FORMING + 1), await session.polled(FORMING + 2)]
        streams.refuse.clear()
        await _until(lambda: session.feed.stream.live, "the stream to be back")  # type: ignore[union-attr]
        assert [i.kind for i in session.incidents] == ["stream_down", "stream_resumed"]
        rows += [await session.streamed(FORMING + 3), await session.streamed(FORMING + 4)]
        for k, row in enumerate(rows):
            _same(row, session.bars, FORMING + k)
    _run(exchange_id, bars, test)


def test_a_quiet_kline_stream_is_polled(bars: dict[str, BarSeries]) -> None:
    async def test(session: Session, _exchange: Any) -> None:
        await _started(session)
        await session.streamed(FORMING)
        session.fake.server.streams.silent.add("market")
        _same(await session.polled(FORMING + 1), session.bars, FORMING + 1)
        (incident,) = session.incidents
        assert incident.kind == "stream_down" and "quiet for over 0.3 s" in incident.message
    _run("binanceusdm", bars, test, stream_quiet_s=0.3)


def test_an_exchange_that_does_not_stream_candles_is_polled(bars: dict[str, BarSeries]) -> None:
    async def test(session: Session, exchange: Any) -> None:
        exchange.has = {**exchange.has, "watchOHLCV": False}
        assert await session.feed.start() == int(session.bars[BTC].ts[FORMING])
        session.rows = session.feed.rows()
        _same(await session.polled(FORMING), session.bars, FORMING)
        (incident,) = session.incidents
        assert incident.kind == "stream_down" and "has['watchOHLCV'] is false" in incident.message
        assert session.fake.server.streams.connections["market"] == 0
    _run("binanceusdm", bars, test)


MARKET_PAYLOADS = "exchange_payloads/binance_futures/market_data_json"


@pytest.mark.parametrize(("name", "closed"), [("kline_stream_closed.json", True), ("kline_stream_open.json", False)])
def test_binances_documented_kline_says_whether_the_candle_closed(shared_data: Path, name: str,
                                                                 closed: bool) -> None:
    message = json.loads((shared_data / MARKET_PAYLOADS / name).read_text())
    assert closed_flags("binanceusdm", message) == [("BTCUSDT", message["k"]["t"], closed)]


def test_bybits_kline_says_whether_the_candle_closed() -> None:
    """Bybit's v5 kline push, as its documentation's example words it (``confirm``)."""
    message = {"topic": "kline.5.BTCUSDT", "type": "snapshot", "ts": 1672324988882, "data": [
        {"start": 1672324800000, "end": 1672325099999, "interval": "5", "open": "16649.5", "close": "16677",
         "high": "16677", "low": "16608", "volume": "2.081", "turnover": "34666.4005", "confirm": False,
         "timestamp": 1672324988882}]}
    assert closed_flags("bybit", message) == [("BTCUSDT", 1672324800000, False)]
    message["data"][0]["confirm"] = True
    assert closed_flags("bybit", message) == [("BTCUSDT", 1672324800000, True)]
