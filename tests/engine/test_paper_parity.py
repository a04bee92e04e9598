"""Paper trading feeds the backtest's kernel one bar at a time; it must take the backtest's decisions.

A paced replay (``engine.paced``) hands the kernel and the simulated venue one-bar stretches
on the asyncio loop, as a live feed will. Run to the end at full speed it must give exactly
what one replay of the whole market gives: orders, fills, trades, events and the equity
curve, row for row, on a market with funding settlements and the exchange's mark prices
(a settlement that falls on a stretch's first bar is priced at the mark before it, as
inside a stretch). Stopped after N bars, it must end as a replay of those N bars ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pandas as pd
import pytest
from tests.engine.test_differential_kernel import _random_stops

from quantum_trader.analytics.backtest import assemble_market
from quantum_trader.analytics.paper import bars_up_to
from quantum_trader.config import load_policy
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.time import parse_time
from quantum_trader.engine.inputs import KernelSettings, MarketData
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.paced import OneBarFeed, PacedReplay, PaceStats, paced
from quantum_trader.engine.recorder import Recorder
from quantum_trader.engine.strategies import MultiAssetStrategy
from quantum_trader.engine.strategy import Decisions

POLICY = load_policy(env={})


@pytest.fixture(scope="module", params=["books", "no books"])
def market(request: pytest.FixtureRequest) -> tuple[dict[str, BarSeries], MarketData]:
    """With the books the venue walks them; without, its impact model reads the volume of the bar before the
    decision's (the last bar of the stretch before, for a stretch's first bar)."""
    m = generate_market(SynthConfig(days=4, seed=5, assets=("BTC", "ETH", "SOL")))
    data = assemble_market(m.bars, m.funding, m.books if request.param == "books" else None, m.mark)
    assert data.exchange_marks == frozenset(m.bars) and data.funding
    return m.bars, data


def _settings(plain: bool) -> KernelSettings:
    return KernelSettings(policy=POLICY.as_fixed_fraction(30.0) if plain else POLICY, slippage=True)


def _paper(data: MarketData, decisions: Decisions, settings: KernelSettings, *, stop_after: int | None = None,
           interrupt_after: int | None = None) -> tuple[Recorder, PaceStats]:
    kernel = Kernel(data, settings, jump=False)
    replay = PacedReplay.of(kernel, decisions)

    def on_bar(_chunk: MarketChunk) -> None:
        if replay.stats.bars == stop_after:
            replay.stop()

    async def bars() -> AsyncGenerator[MarketChunk, None]:
        async for chunk in paced(OneBarFeed(data.grid, data.funding).chunks(), None):
            if replay.stats.bars == interrupt_after:
                raise KeyboardInterrupt  # Ctrl-C while the loop waits for the next bar
            yield chunk

    stats = asyncio.run(replay.run(bars(), on_bar))
    return kernel.rec, stats


def _same(a: Recorder, b: Recorder) -> None:
    pd.testing.assert_frame_equal(a.trades_frame(), b.trades_frame())
    pd.testing.assert_frame_equal(a.events_frame(), b.events_frame())
    pd.testing.assert_frame_equal(a.equity_frame(), b.equity_frame())
    assert (a.orders, a.fills, dict(a.refusals)) == (b.orders, b.fills, dict(b.refusals))


@pytest.mark.parametrize("plain", [True, False])
@pytest.mark.parametrize("seed", range(2))
def test_one_bar_at_a_time_takes_what_the_backtest_takes(
    market: tuple[dict[str, BarSeries], MarketData], seed: int, plain: bool
) -> None:
    bars, data = market
    decisions = _random_stops(bars, seed, entries=60)
    backtest = Kernel(data, _settings(plain)).run(decisions)
    paper, stats = _paper(data, decisions, _settings(plain))
    assert len(backtest.trades) > 20 and (backtest.trades_frame()["funding_paid"] != 0).any()
    _same(backtest, paper)
    assert stats.bars == data.grid.ts.size and not stats.stopped


@pytest.mark.parametrize("how", ["stop", "interrupt"])
def test_a_stop_after_n_bars_ends_the_run_as_a_replay_of_n_bars_ends(
    market: tuple[dict[str, BarSeries], MarketData], how: str
) -> None:
    """Ctrl-C (the panel's stop, or a KeyboardInterrupt between bars) after bar N: what rests is cancelled and what
    is held is closed at bar N's close, exactly as a backtest of the first N bars ends."""
    bars, data = market
    decisions = _random_stops(bars, 0, entries=60)
    n = 3_000
    kwargs: dict[str, int] = {"stop_after": n} if how == "stop" else {"interrupt_after": n}
    paper, stats = _paper(data, decisions, _settings(False), **kwargs)
    assert stats.stopped and stats.bars == n and stats.last_ts == int(data.grid.ts[n - 1])
    short = Kernel(bars_up_to(data, n), _settings(False)).run(decisions)
    _same(short, paper)
    assert paper.trades_frame()["exit_ts"].max() <= int(data.grid.ts[n - 1]) + 60_000


@pytest.mark.shared_data
def test_one_bar_at_a_time_on_real_hourly_data(real_1h: dict[str, BarSeries]) -> None:
    """Real Binance hourly candles of four assets (with their gaps and different histories), the multi-asset
    strategy under the whole policy, and random tight stops under the fixed-fraction profile."""
    start, end = parse_time("2024-06-01"), parse_time("2024-10-01")
    bars = {b.symbol: b.slice(start, end) for a, b in real_1h.items() if a in ("BTC", "ETH", "SOL", "XRP")}
    data = assemble_market(bars)
    hourly = load_policy(env={"QT__CORRELATION__RETURNS_TIMEFRAME": "1h"})
    strategy = MultiAssetStrategy().prepare(bars, hourly)
    settings = KernelSettings(policy=hourly, slippage=True)
    backtest = Kernel(data, settings).run(strategy)
    paper, _ = _paper(data, strategy, settings)
    assert len(backtest.trades) > 20
    _same(backtest, paper)
    stops = _random_stops(bars, 3, entries=150)
    backtest = Kernel(data, _settings(True)).run(stops)
    paper, _ = _paper(data, stops, _settings(True))
    assert "stop" in set(backtest.trades_frame()["exit_reason"])
    _same(backtest, paper)
