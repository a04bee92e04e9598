"""Each injection does what it says to the series it names, and nothing to the others or to its input."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.analytics.stress.markets import small_market

from quantum_trader.analytics.stress.injections import (
    delist,
    drop_bars,
    follow_leader,
    funding_jump,
    liquidity_drain,
    market_betas,
    price_shock,
)
from quantum_trader.analytics.stress.market import StressMarket, StressMarketError, bar_log_returns
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.time import MS_PER_MINUTE
from quantum_trader.testkit import random_walk_market

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")
BARS = 400
BTC, ETH, SOL = SYMBOLS


@cache
def walk() -> StressMarket:
    """Three correlated random walks of 1m bars (no books, no funding): the price injections' playground."""
    return StressMarket(bars=random_walk_market(list(SYMBOLS), BARS, seed=11))


def _t(row: int) -> int:
    return int(walk().bars[BTC].ts[0]) + row * MS_PER_MINUTE


def _ohlc(series: BarSeries) -> np.ndarray:
    return np.vstack([series.open, series.high, series.low, series.close])


def _valid(series: BarSeries) -> bool:
    return bool(np.all(series.high >= np.maximum(series.open, series.close) * (1 - 1e-12))
                and np.all(series.low <= np.minimum(series.open, series.close) * (1 + 1e-12))
                and np.all(series.low > 0))


moves = st.floats(min_value=-0.9, max_value=1.5).filter(lambda m: abs(m) > 1e-3)
rows = st.integers(min_value=5, max_value=BARS - 120)


@given(move=moves, at=rows, duration=st.integers(1, 60), recovery=st.integers(1, 50))
def test_a_v_returns_every_price_to_its_start_level(move: float, at: int, duration: int, recovery: int) -> None:
    before = walk()
    after = price_shock(before, {BTC: move}, at_ms=_t(at), shape="v", duration_ms=duration * MS_PER_MINUTE,
                        recovery_ms=recovery * MS_PER_MINUTE)
    old, new = before.bars[BTC], after.bars[BTC]
    done = at + duration + recovery
    np.testing.assert_allclose(_ohlc(new)[:, done:], _ohlc(old)[:, done:], rtol=1e-12)
    np.testing.assert_array_equal(_ohlc(new)[:, :at], _ohlc(old)[:, :at])
    floor = at + duration  # the bar opening at the floor opens moved by the whole move
    assert new.open[floor] == pytest.approx(old.open[floor] * (1 + move), rel=1e-9)
    assert new.close[done - 1] == pytest.approx(old.close[done - 1], rel=1e-9)  # the way back ends at the start
    assert _valid(new)


@given(move_btc=moves, move_eth=moves, at=rows)
def test_a_gap_moves_each_hit_asset_by_its_move_at_one_bar_and_leaves_the_others(move_btc: float, move_eth: float,
                                                                                at: int) -> None:
    before = walk()
    after = price_shock(before, {BTC: move_btc, ETH: move_eth}, at_ms=_t(at), shape="gap")
    for symbol, move in ((BTC, move_btc), (ETH, move_eth)):
        old, new = before.bars[symbol], after.bars[symbol]
        np.testing.assert_array_equal(_ohlc(new)[:, :at], _ohlc(old)[:, :at])  # the bar before closes unmoved
        np.testing.assert_allclose(_ohlc(new)[:, at:], _ohlc(old)[:, at:] * (1 + move), rtol=1e-9)
        assert new.open[at] / old.close[at - 1] == pytest.approx(old.open[at] / old.close[at - 1] * (1 + move))
        assert _valid(new)
    assert after.bars[SOL] is before.bars[SOL]


@given(move=moves, at=rows, duration=st.integers(1, 90))
def test_a_slide_reaches_its_move_after_its_duration_and_holds_it(move: float, at: int, duration: int) -> None:
    before = walk()
    after = price_shock(before, {SOL: move}, at_ms=_t(at), shape="slide", duration_ms=duration * MS_PER_MINUTE)
    old, new = before.bars[SOL], after.bars[SOL]
    end = at + duration
    np.testing.assert_allclose(_ohlc(new)[:, end:], _ohlc(old)[:, end:] * (1 + move), rtol=1e-9)
    steps = np.log(new.close[at:end] / old.close[at:end])  # evenly along the way, in log
    np.testing.assert_allclose(np.diff(steps), np.log1p(move) / duration, rtol=1e-6, atol=1e-12)
    assert _valid(new)


def test_an_injection_leaves_its_input_as_it_was() -> None:
    market = small_market()
    kept = {s: _ohlc(b).copy() for s, b in market.bars.items()}
    books = {s: b.bid_px.copy() for s, b in market.books.items()}
    start = market.start_ms + 600 * MS_PER_MINUTE
    out = price_shock(market, dict.fromkeys(market.symbols, -0.3), at_ms=start, shape="gap")
    out = liquidity_drain(out, market.symbols, start_ms=start, end_ms=start + 3_600_000, spread_mult=5,
                          depth_mult=0.1)
    out = drop_bars(out, market.symbols, start_ms=start, end_ms=start + 600_000)
    assert out is not market
    for symbol, series in market.bars.items():
        np.testing.assert_array_equal(_ohlc(series), kept[symbol])
        np.testing.assert_array_equal(market.books[symbol].bid_px, books[symbol])


def test_a_shock_moves_marks_and_books_with_the_bars() -> None:
    market = small_market()
    at = market.start_ms + 600 * MS_PER_MINUTE
    out = price_shock(market, {BTC: -0.25}, at_ms=at, shape="gap")
    later = market.marks[BTC].ts >= at
    np.testing.assert_allclose(out.marks[BTC].close[later], market.marks[BTC].close[later] * 0.75, rtol=1e-12)
    book_later = market.books[BTC].ts >= at
    np.testing.assert_allclose(out.books[BTC].ask_px[book_later], market.books[BTC].ask_px[book_later] * 0.75,
                               rtol=1e-12)
    np.testing.assert_array_equal(out.books[BTC].ask_sz, market.books[BTC].ask_sz)


@given(spread=st.floats(1.0, 20.0), depth=st.floats(0.01, 1.0), first=st.integers(0, 200), hours=st.integers(1, 8))
def test_a_liquidity_drain_widens_spreads_and_thins_depth_inside_its_window_only(
        spread: float, depth: float, first: int, hours: int) -> None:
    market = small_market()
    start = market.start_ms + first * 5 * MS_PER_MINUTE
    end = start + hours * 3_600_000
    out = liquidity_drain(market, [ETH], start_ms=start, end_ms=end, spread_mult=spread, depth_mult=depth)
    old, new = market.books[ETH], out.books[ETH]
    inside = (old.ts >= start) & (old.ts < end)
    mid_old = (old.bid_px[:, 0] + old.ask_px[:, 0]) / 2
    mid_new = (new.bid_px[:, 0] + new.ask_px[:, 0]) / 2
    np.testing.assert_allclose(mid_new, mid_old, rtol=1e-12)
    np.testing.assert_allclose((new.ask_px[:, 0] - new.bid_px[:, 0])[inside],
                               (old.ask_px[:, 0] - old.bid_px[:, 0])[inside] * spread, rtol=1e-9)
    np.testing.assert_allclose(new.bid_sz[inside], old.bid_sz[inside] * depth)
    np.testing.assert_array_equal(new.bid_px[~inside], old.bid_px[~inside])
    np.testing.assert_array_equal(new.ask_sz[~inside], old.ask_sz[~inside])
    assert out.books[BTC] is market.books[BTC]


def test_without_books_a_liquidity_drain_thins_the_bar_volume_the_impact_model_reads() -> None:
    market = walk()
    out = liquidity_drain(market, [BTC], start_ms=_t(100), end_ms=_t(160), spread_mult=10, depth_mult=0.1)
    old, new = market.bars[BTC].volume, out.bars[BTC].volume
    np.testing.assert_allclose(new[100:160], old[100:160] * 0.1)
    np.testing.assert_array_equal(new[:100], old[:100])
    np.testing.assert_array_equal(new[160:], old[160:])


def test_a_funding_jump_settles_every_interval_of_its_window_at_its_rate() -> None:
    market = small_market()
    start = market.start_ms + 24 * 3_600_000
    out = funding_jump(market, {SOL: -0.004}, start_ms=start, end_ms=start + 6 * 3_600_000, every_ms=3_600_000)
    old, new = market.funding[SOL], out.funding[SOL]
    inside = (new.ts >= start) & (new.ts < start + 6 * 3_600_000)
    assert new.ts[inside].tolist() == [start + h * 3_600_000 for h in range(6)]
    assert np.all(new.rate[inside] == -0.004)
    outside_old = (old.ts < start) | (old.ts >= start + 6 * 3_600_000)
    np.testing.assert_array_equal(new.ts[~inside], old.ts[outside_old])
    np.testing.assert_array_equal(new.rate[~inside], old.rate[outside_old])
    assert out.funding[BTC] is market.funding[BTC]


def test_missing_bars_take_bars_marks_and_books_out_of_the_window_for_the_named_symbols() -> None:
    market = small_market()
    start = market.start_ms + 300 * MS_PER_MINUTE
    end = start + 30 * MS_PER_MINUTE
    out = drop_bars(market, [BTC, ETH], start_ms=start, end_ms=end)
    for symbol in (BTC, ETH):
        for series in (out.bars[symbol], out.marks[symbol]):
            assert not np.any((series.ts >= start) & (series.ts < end))
            assert len(series) == len(market.bars[symbol]) - 30
        assert not np.any((out.books[symbol].ts >= start) & (out.books[symbol].ts < end))
    assert out.bars[SOL] is market.bars[SOL]
    with pytest.raises(StressMarketError, match="no bar left"):
        drop_bars(market, [SOL], start_ms=market.start_ms, end_ms=market.end_ms)


def test_a_delisted_asset_has_nothing_after_its_last_bar() -> None:
    market = small_market()
    at = market.start_ms + 2 * 86_400_000 + 17 * MS_PER_MINUTE
    out = delist(market, ETH, at_ms=at)
    assert int(out.bars[ETH].ts[-1]) == at
    for series in (out.marks[ETH], out.books[ETH], out.funding[ETH]):
        assert int(series.ts[-1]) < at + MS_PER_MINUTE
    assert out.bars[BTC] is market.bars[BTC]


@given(first=st.integers(1, 200), length=st.integers(20, 150), beta=st.floats(0.5, 2.0))
def test_correlation_to_one_makes_every_return_in_the_window_the_leaders(first: int, length: int, beta: float) -> None:
    market = walk()
    out = follow_leader(market, BTC, SYMBOLS, start_ms=_t(first), end_ms=_t(first + length),
                        betas=dict.fromkeys(SYMBOLS, beta))
    lead = bar_log_returns(market.bars[BTC])
    for symbol in (ETH, SOL):
        new, old = bar_log_returns(out.bars[symbol]), bar_log_returns(market.bars[symbol])
        window = slice(first, first + length)
        np.testing.assert_allclose(new[window], beta * lead[window], atol=1e-12)
        assert np.corrcoef(new[window], lead[window])[0, 1] == pytest.approx(1.0)
        np.testing.assert_allclose(new[first + length:], old[first + length:], atol=1e-12)  # its own returns after
        np.testing.assert_array_equal(new[:first], old[:first])
        assert _valid(out.bars[symbol])
    assert out.bars[BTC] is market.bars[BTC]


def test_betas_measure_each_asset_against_the_leader() -> None:
    betas = market_betas(small_market(), BTC)
    assert betas[BTC] == 1.0
    assert all(0.5 <= b <= 2.0 for b in betas.values())
    assert betas[SOL] > betas[ETH] > 1.0  # the synthetic market's vols: SOL > ETH > BTC
