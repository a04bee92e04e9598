"""The live feed over the fake exchange: closed bars only, a stale feed halting entries, marks, funding, books, clock.

A candle leaves the feed only once its close has passed by the exchange's clock (the forming candle an exchange
returns last is held back); a feed that stops delivering halts entries after the policy's intervals and resumes
them with the next bar; with each row come the exchange's mark, the funding settled since the last row and a
book snapshot; the clock offset is measured against the request's midpoint and a skew past the bound is named.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from tests.fakes.server import FakeBinance
from tests.venues.ccxt.conftest import BTC, FAST, KEY, exchange_at, run

from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.domain.market import BarSeries, FundingSeries
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.venues.ccxt.clock import ExchangeClock
from quantum_trader.venues.ccxt.feed import FeedOptions, LiveFeed
from quantum_trader.venues.ccxt.incidents import Halts, Incident, IncidentKind

HOUR = timeframe_ms("1h")


def _shifted(bars: dict[str, BarSeries], forming: int) -> dict[str, BarSeries]:
    """The same bars, moved so that bar ``forming`` opened in the current wall-clock hour."""
    now = int(time.time() * 1000)
    shift = now - now % HOUR - int(bars[BTC].ts[forming])
    return {s: BarSeries(s, b.timeframe, b.ts + shift, b.open, b.high, b.low, b.close, b.volume)
            for s, b in bars.items()}


def _feed(exchange: object, bars: dict[str, BarSeries], clock: ExchangeClock, **options: object) -> LiveFeed:
    incidents: list[Incident] = []
    feed = LiveFeed(exchange, tuple(bars), "1h", clock, FeedOptions(**{  # type: ignore[arg-type]
        "marks": False, "funding": False, "books": False, "poll_s": 0.02, "grace_s": 0.0, "max_wait_s": 0.05,
        **options}),
        Halts(), incidents.append, FAST)
    feed.incidents = incidents  # type: ignore[attr-defined]
    return feed


def test_the_forming_candle_waits_for_its_close_by_the_exchanges_clock(bars: dict[str, BarSeries]) -> None:
    shifted = _shifted(bars, forming=5)
    fake = FakeBinance.of(shifted, cursor=5, api_key=KEY)
    fake.server.serve_forming = True
    fake.server.frozen = True
    offset = {"s": 0.0}

    async def go(url: str) -> None:
        exchange = exchange_at(url)
        await exchange.load_markets()
        clock = ExchangeClock(exchange, 1000, FAST, wall=lambda: time.time() + offset["s"])
        feed = _feed(exchange, shifted, clock)
        assert await feed.start() == int(shifted[BTC].ts[5]), "the session starts on the bar forming now"
        history = await feed.history(3)
        assert history[BTC].ts.tolist() == shifted[BTC].ts[2:5].tolist()
        rows = feed.rows()
        waiting = asyncio.ensure_future(rows.__anext__())
        await asyncio.sleep(0.3)
        assert not waiting.done(), "the forming candle was served but has not closed"
        offset["s"] = 3600.0  # an hour later, by the exchange's clock: the candle served all along has closed
        row = await asyncio.wait_for(waiting, 5)
        assert row.ts == int(shifted[BTC].ts[5])
        assert row.close[0] == pytest.approx(float(shifted[BTC].close[5]))
        await rows.aclose()
        await exchange.close()

    with fake.running() as url:
        run(lambda: go(url))


def test_a_silent_feed_halts_entries_and_the_next_bar_resumes_them(bars: dict[str, BarSeries]) -> None:
    fake = FakeBinance.of(bars, cursor=3, api_key=KEY)

    async def go(url: str) -> None:
        exchange = exchange_at(url)
        await exchange.load_markets()
        clock = ExchangeClock(exchange, 1000, FAST)
        feed = _feed(exchange, bars, clock, stale_after_s=0.2)
        await feed.start()
        rows = feed.rows()
        first = await rows.__anext__()
        fake.server.frozen = True
        waiting = asyncio.ensure_future(rows.__anext__())
        await asyncio.sleep(0.5)
        assert not waiting.done()
        assert feed.halts.reasons.keys() == {"stale_feed"}
        assert [i.kind for i in feed.incidents] == [IncidentKind.STALE_FEED]  # type: ignore[attr-defined]
        fake.server.frozen = False
        second = await asyncio.wait_for(waiting, 5)
        assert second.ts == first.ts + HOUR and not feed.halts
        resumed = feed.incidents[-1]  # type: ignore[attr-defined]
        assert (resumed.kind, resumed.action) == (IncidentKind.FEED_RESUMED, "entries resumed")
        await rows.aclose()
        await exchange.close()

    with fake.running() as url:
        run(lambda: go(url))


def test_rows_carry_the_exchanges_mark_funding_settled_and_a_book() -> None:
    market = generate_market(SynthConfig(days=2, seed=3, assets=("BTC", "ETH")))
    from quantum_trader.data.resample import resample_bars

    bars = {s: resample_bars(b, "1h") for s, b in market.bars.items()}
    settle = int(bars[BTC].ts[8])  # 08:00 UTC
    funding = {s: FundingSeries(s, np.array([settle], dtype=np.int64), np.array([0.0003])) for s in bars}
    fake = FakeBinance.of(bars, funding, cursor=5, api_key=KEY)

    async def go(url: str) -> None:
        exchange = exchange_at(url)
        await exchange.load_markets()
        feed = _feed(exchange, bars, ExchangeClock(exchange, 1000, FAST), marks=True, funding=True, books=True,
                     book_depth=5)
        assert await feed.start() == int(bars[BTC].ts[5])
        rows = feed.rows()
        seen = [await rows.__anext__() for _ in range(4)]  # bars 5..8; bar 7 closes at the 08:00 settlement
        await rows.aclose()
        assert [r.ts for r in seen] == bars[BTC].ts[5:9].tolist()
        mark = float(fake.exchange.market.open[BTC][fake.exchange.market.cursor])  # the bar forming at that close
        assert seen[-1].mark[0] == pytest.approx(mark, abs=0.1), "the mark the exchange published at the close"
        assert [r.funding for r in seen[:2]] == [(), ()]
        assert seen[2].funding == ((BTC, settle, 0.0003), ("ETH/USDT:USDT", settle, 0.0003))
        bid_px, bid_sz, ask_px, ask_sz = seen[0].books[BTC]
        assert bid_px.shape == (5,) and bid_px[0] < ask_px[0] and (bid_sz > 0).all() and (ask_sz > 0).all()
        await exchange.close()

    with fake.running() as url:
        run(lambda: go(url))


@pytest.mark.parametrize(("skew_ms", "skewed"), [(0, False), (4_000, True), (-4_000, True)])
def test_the_clock_offset_is_measured_and_a_skew_past_the_bound_is_named(
        bars: dict[str, BarSeries], skew_ms: int, skewed: bool) -> None:
    fake = FakeBinance.of(bars, api_key=KEY)
    fake.server.skew_ms = skew_ms

    async def go(url: str) -> ExchangeClock:
        exchange = exchange_at(url)
        clock = ExchangeClock(exchange, 1000, FAST)
        await clock.measure()
        await exchange.close()
        return clock

    with fake.running() as url:
        clock = run(lambda: go(url))
    assert abs(clock.offset_ms - skew_ms) <= clock.round_trip_ms + 50
    assert clock.skewed is skewed
    if skewed:
        side = "behind" if skew_ms > 0 else "ahead of"
        assert f"ms {side} the exchange's (bound 1,000 ms" in clock.describe()


def test_an_unreachable_exchange_is_asked_again_not_given_up_on(bars: dict[str, BarSeries]) -> None:
    """Candle reads failing past their retries are an incident and are asked again; the row comes when the
    exchange answers (a session must not die, positions open, because the network went away for a minute)."""
    from tests.fakes.binance_http import Fault

    fake = FakeBinance.of(bars, cursor=3, api_key=KEY)

    async def go(url: str) -> None:
        exchange = exchange_at(url)
        await exchange.load_markets()
        feed = _feed(exchange, bars, ExchangeClock(exchange, 1000, FAST))
        await feed.start()
        fake.server.faults.append(Fault("GET", "/fapi/v1/klines", "500", times=5))
        rows = feed.rows()
        row = await asyncio.wait_for(rows.__anext__(), 10)
        assert row.ts == int(bars[BTC].ts[3])
        assert [i.kind for i in feed.incidents] == [IncidentKind.SYNC_FAILED]  # type: ignore[attr-defined]
        await rows.aclose()
        await exchange.close()

    with fake.running() as url:
        run(lambda: go(url))
