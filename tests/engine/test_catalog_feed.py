"""The catalog streamed a window at a time is the same replay as the catalog loaded whole.

A market with a late-listing asset, a two-day gap across a window boundary, exchange marks,
funding and books is written to a catalog; ``streamed_market`` (bars, marks and books read a
window of days at a time) must hand the kernel exactly the stretches ``load_market``'s grid
gives, the same depth and spreads, and the kernel must make the same orders, fills, trades,
equity and events either way. Without the feed's carried marks, its funding placement or its
per-stretch books, one of these comparisons fails.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest

from quantum_trader.analytics.replay_market import load_market
from quantum_trader.analytics.streamed_market import streamed_market
from quantum_trader.config import load_policy
from quantum_trader.data.catalog import Catalog
from quantum_trader.data.resample import resample_bars
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.data.synthetic.writer import write_market
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.time import MS_PER_DAY
from quantum_trader.engine.catalog_feed import CatalogFeed, streamed_bars, streamed_decision_bars
from quantum_trader.engine.feed import InMemoryFeed
from quantum_trader.engine.inputs import KernelSettings
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.strategies import MultiAssetStrategy

DAYS = 40
WINDOW = 9
FIELDS = ("open", "high", "low", "close", "volume")


def _cut(bars: BarSeries, keep: np.ndarray) -> BarSeries:
    return BarSeries(bars.symbol, bars.timeframe, bars.ts[keep], *(getattr(bars, f)[keep] for f in FIELDS))


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    market = generate_market(SynthConfig(days=DAYS, assets=("BTC", "ETH", "SOL")))
    start = int(market.bars["BTC/USDT:USDT"].ts[0])
    sol = market.bars["SOL/USDT:USDT"]
    market.bars["SOL/USDT:USDT"] = _cut(sol, sol.ts >= start + 11 * MS_PER_DAY + 37 * 60_000)  # lists late
    eth = market.bars["ETH/USDT:USDT"]
    gap = (eth.ts >= start + 17 * MS_PER_DAY) & (eth.ts < start + 19 * MS_PER_DAY + 5 * 60_000)  # spans day 18
    market.bars["ETH/USDT:USDT"] = _cut(eth, ~gap)
    root = tmp_path_factory.mktemp("streamed") / "catalog"
    catalog = Catalog(root)
    write_market(market, catalog)
    return catalog


SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


def test_stretches_equal_the_grid_cut_in_stretches(catalog: Catalog) -> None:
    policy = load_policy()
    _, whole = load_market(catalog, SYMBOLS, timeframe="1m", exchange=None, start_ms=None, end_ms=None,
                           policy=policy)
    data, feed = streamed_market(catalog, SYMBOLS, timeframe="1m", policy=policy, window_days=WINDOW)
    chunks = list(feed.chunks())
    assert len(chunks) == -(-DAYS // WINDOW)
    assert feed.total_rows == whole.grid.ts.size and feed.start_ts == int(whole.grid.ts[0])
    assert feed.symbols == whole.grid.symbols
    for name in ("ts", *FIELDS, "valid", "mark"):
        joined = np.concatenate([getattr(c, name) for c in chunks])
        assert _same(joined, getattr(whole.grid, name)), name
    for before, chunk in pairwise(chunks):
        assert _same(chunk.mark_in, before.mark[-1]) and chunk.first == before.first + before.size
    expected = InMemoryFeed(whole.grid, whole.funding).funding
    streamed = {c.first + row: items for c in chunks for row, items in c.funding.items()}
    assert streamed == expected and expected
    assert data.spread == whole.spread and set(data.depth) == set(whole.depth)
    for symbol in whole.depth:
        assert _same(data.depth[symbol], whole.depth[symbol]) and _same(data.depth_ts[symbol], whole.depth_ts[symbol])
    assert data.instruments == whole.instruments and data.exchange_marks == whole.exchange_marks


def test_each_stretch_carries_the_books_fresh_in_it(catalog: Catalog) -> None:
    feed = CatalogFeed(catalog, SYMBOLS, "1m", window_days=WINDOW, book_max_age_ms=15 * 60_000)
    for chunk in feed.chunks():
        assert chunk.books is not None
        for book in chunk.books.values():
            assert int(book.ts[0]) >= int(chunk.ts[0]) - 15 * 60_000 and int(book.ts[-1]) <= int(chunk.ts[-1])


def test_a_backtest_over_the_stream_is_the_backtest_over_the_whole_grid(catalog: Catalog) -> None:
    policy = load_policy()
    bars, whole = load_market(catalog, SYMBOLS, timeframe="1m", exchange=None, start_ms=None,
                              end_ms=None, policy=policy)
    settings = KernelSettings(policy=policy)
    expected = Kernel(whole, settings).run(MultiAssetStrategy().prepare(bars, policy))
    data, feed = streamed_market(catalog, SYMBOLS, timeframe="1m", policy=policy, window_days=WINDOW)
    # the signals' finest timeframe (the correlation's 5m returns; the models' 1h is a multiple of it)
    signal_bars = streamed_bars(catalog, SYMBOLS, "1m", policy.correlation.returns_timeframe, window_days=WINDOW)
    got = Kernel(data, settings, feed=feed).run(MultiAssetStrategy().prepare(signal_bars, policy))
    assert expected.trades and got.trades == expected.trades
    assert got.equity == expected.equity
    assert repr(got.events) == repr(expected.events)  # rows hold NaN (no value), which == never matches
    assert (got.orders, got.fills) == (expected.orders, expected.fills)


@pytest.mark.parametrize(("start_day", "end_day", "target"), [(None, None, "1h"), (3, 29, "4h"), (0.3, 20.6, "15m")])
def test_streamed_resampling_equals_resampling_the_whole(catalog: Catalog, start_day: float | None,
                                                         end_day: float | None, target: str) -> None:
    symbol = "SOL/USDT:USDT"
    first = int(catalog.read_bars("BTC/USDT:USDT", "1m").ts[0])
    start = None if start_day is None else first + int(start_day * MS_PER_DAY)
    end = None if end_day is None else first + int(end_day * MS_PER_DAY) + 7 * 60_000
    whole = resample_bars(catalog.read_bars(symbol, "1m", start_ms=start, end_ms=end), target)
    got = streamed_bars(catalog, [symbol], "1m", target, start_ms=start, end_ms=end, window_days=4)[symbol]
    assert got.timeframe == target
    for name in ("ts", *FIELDS):
        assert _same(getattr(got, name), getattr(whole, name)), name


@pytest.mark.parametrize(("start_day", "end_day", "coarser"),
                         [(None, None, ("1h",)), (3, 29, ("1h", "4h")), (0.3, 20.6, ("15m", "1h"))])
def test_decision_bars_are_the_streamed_closes_and_their_coarser_bars_resampled_whole(
        catalog: Catalog, start_day: float | None, end_day: float | None, coarser: tuple[str, ...]) -> None:
    """The decision bars keep the 5m bars' times and closes only (their other columns NaN, held as no memory) and
    the coarser bars built window by window equal those resampled from the whole 5m bars, the trailing
    half-formed one dropped alike: a strategy's batch reads the very same numbers."""
    first = int(catalog.read_bars("BTC/USDT:USDT", "1m").ts[0])
    start = None if start_day is None else first + int(start_day * MS_PER_DAY)
    end = None if end_day is None else first + int(end_day * MS_PER_DAY) + 7 * 60_000
    full = streamed_bars(catalog, SYMBOLS, "1m", "5m", start_ms=start, end_ms=end, window_days=4)
    got = streamed_decision_bars(catalog, SYMBOLS, "1m", "5m", coarser, start_ms=start, end_ms=end, window_days=4)
    assert list(got) == list(full)
    for symbol, bars in full.items():
        assert _same(got[symbol].ts, bars.ts) and _same(got[symbol].close, bars.close)
        for name in ("open", "high", "low", "volume"):
            column = getattr(got[symbol], name)
            assert column.strides == (0,) and bool(np.isnan(column).all()), name
        for timeframe in coarser:
            whole = resample_bars(bars, timeframe)
            assert got.coarser[timeframe][symbol].timeframe == timeframe
            for name in ("ts", *FIELDS):
                assert _same(getattr(got.coarser[timeframe][symbol], name), getattr(whole, name)), (timeframe, name)


def test_the_strategy_decides_the_same_on_decision_bars(catalog: Catalog) -> None:
    """The multi-asset strategy's batch over the decision bars (closes only, the models' 1h bars given) makes the
    decisions it makes over the whole 5m bars: its intents and the correlation it reads, at every decision."""
    policy = load_policy()
    full = MultiAssetStrategy().prepare(streamed_bars(catalog, SYMBOLS, "1m", "5m", window_days=WINDOW), policy)
    got = MultiAssetStrategy().prepare(
        streamed_decision_bars(catalog, SYMBOLS, "1m", "5m", (policy.signals.model.timeframe,), window_days=WINDOW),
        policy)
    assert _same(got.close_ts, full.close_ts) and got.close_ts.size > 100
    intents = 0
    for k in range(got.close_ts.size):
        assert repr(got.intents(k)) == repr(full.intents(k))
        assert got.correlation_time(k) == full.correlation_time(k)
        mine, theirs = got.correlation(k), full.correlation(k)
        assert (mine is None) == (theirs is None)
        if mine is not None and theirs is not None:
            assert _same(np.asarray(mine), np.asarray(theirs))
        intents += len(got.intents(k))
    assert intents > 0


def test_decision_bars_refuse_a_timeframe_that_is_not_a_multiple(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="7m is not a multiple of 5m dividing a day"):
        streamed_decision_bars(catalog, SYMBOLS, "1m", "5m", ("7m",))


def test_a_range_without_bars_is_one_clear_error(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="no 1m bars in the requested range"):
        CatalogFeed(catalog, SYMBOLS, "1m", start_ms=0, end_ms=1)


def test_streamed_feed_keeps_the_kernel_free_of_the_mode(catalog: Catalog) -> None:
    """The kernel is built from the feed's columns and first bar: the streamed market's grid has no rows."""
    data, feed = streamed_market(catalog, SYMBOLS, timeframe="1m", window_days=WINDOW)
    assert data.grid.ts.size == 0
    kernel = Kernel(replace(data), KernelSettings(policy=load_policy()), feed=feed)
    assert kernel.exchange.account.ts == feed.start_ts

