"""A live session whose user data stream drops mid-session, on Binance USD-M and on Bybit (fake exchanges).

The socket is closed by the exchange between two bars and reconnections are refused for a few bars, fills
happening meanwhile: the session says so (``stream_down``), polls the account until the stream is back and has
reconciled (``stream_resumed``), and takes exactly the fills a backtest of the same replay takes, each once, at
the same times, with the same cash: nothing lost, nothing booked twice across either switch.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from tests.fakes.binance_http import FIXTURE
from tests.fakes.market import SimulatedPricing
from tests.fakes.server import FakeBinance, FakeBybit
from tests.venues.ccxt.conftest import FAST, KEY, credentials
from tests.venues.ccxt.test_bybit_session import _instruments
from tests.venues.ccxt.test_session import Fills, _collect, _policy, _request

from quantum_trader.analytics.backtest import assemble_market
from quantum_trader.analytics.live import open_live
from quantum_trader.data.market_payloads import markets_from_file
from quantum_trader.data.resample import resample_bars
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.domain.market import BarSeries, FundingSeries
from quantum_trader.engine.incremental import decisions_for
from quantum_trader.engine.inputs import KernelSettings
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.strategies import MultiAssetStrategy
from quantum_trader.venues.ccxt.stream_user import StreamSettings
from quantum_trader.venues.simulated.venue import SimulatedVenue

Replay = tuple[dict[str, BarSeries], dict[str, FundingSeries]]


@pytest.fixture(scope="module")
def replay() -> Replay:
    market = generate_market(SynthConfig(days=6, seed=5, assets=("BTC", "ETH", "SOL")))
    return {s: resample_bars(b, "1h") for s, b in market.bars.items()}, market.funding


def _backtest(exchange_id: str, bars: dict[str, BarSeries], funding: dict[str, FundingSeries]) -> tuple[Fills, Any]:
    policy = _policy()
    start = int(bars["BTC/USDT:USDT"].ts[1])
    traded = {s: b.slice(start) for s, b in bars.items()}
    if exchange_id == "bybit":
        instruments = _instruments(FakeBybit.of(bars, funding, cursor=1, api_key=KEY), list(bars))
    else:
        specs = markets_from_file(FIXTURE, "binanceusdm").specs
        instruments = {s.symbol: s.instrument() for s in specs if s.symbol in bars}
    data = assemble_market(traded, funding, instruments=instruments, policy=policy)  # type: ignore[arg-type]
    fills: Fills = []
    kernel = Kernel(data, KernelSettings(policy=policy), listeners=[_collect(fills)])
    kernel.run(decisions_for(MultiAssetStrategy(), traded, policy))
    return fills, kernel


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit"])
def test_the_user_stream_dropping_mid_session_loses_no_fill_and_books_none_twice(exchange_id: str,
                                                                                 replay: Replay) -> None:
    bars, funding = replay
    backtest, kernel = _backtest(exchange_id, bars, funding)
    step = int(bars["BTC/USDT:USDT"].ts[1] - bars["BTC/USDT:USDT"].ts[0])
    start = int(bars["BTC/USDT:USDT"].ts[1])
    fill_bars = sorted({(f[0] - start) // step for f in backtest})
    outage = next(b for b in fill_bars if b >= 20)  # the stream is down over the bar this fill happens in
    pricing = SimulatedPricing(SimulatedVenue.from_policy(_policy(), slippage=True))
    fake = (FakeBybit if exchange_id == "bybit" else FakeBinance).of(bars, funding, cursor=1, api_key=KEY,
                                                                     pricing=pricing)
    streams = fake.server.streams
    request = _request(bars, "live", len(bars["BTC/USDT:USDT"]) - 1)
    request = replace(request, exchange=exchange_id, credentials=credentials(exchange=exchange_id),
                      client=replace(request.client, stream=StreamSettings(retry=FAST)))
    live: Fills = []

    async def go(url: str) -> Any:
        session = await open_live(replace(request, api_url=url))
        session.kernel.core.listeners.append(_collect(live))

        def on_bar(_chunk: Any) -> None:
            taken = len(session.rows)
            if taken == outage - 1:
                streams.refuse.add("user")
                assert streams.drop("user") == 1
            if taken == outage + 3:
                streams.refuse.clear()

        await session.run(on_bar)
        return session

    with fake.running() as url:
        session = asyncio.run(go(url))
    kinds = [(i.kind, i.ts) for i in session.incidents]
    assert [k for k, _ts in kinds] == ["stream_down", "stream_resumed"], kinds
    (down, resumed) = (ts for _k, ts in kinds)
    assert any(down <= f[0] <= resumed for f in live), "fills happened while the stream was down"
    assert live == backtest, "the same fills, each once, at the same times and prices"
    core = session.kernel.core
    assert core.rec.fills == len(fake.exchange.trades), "every trade the exchange made booked once"
    assert core.ledger.cash == kernel.ledger.cash
    assert set(fake.exchange.received.values()) == {1}, "no client order id reached the exchange twice"
    assert streams.connections["user"] >= 2, "the client reconnected"
