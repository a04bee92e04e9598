"""A catalog replay that never holds the history whole: the kernel's inputs without the bars, and the feed.

``load_market`` reads every bar of the range into one grid, which for years of 1m bars on
several assets is gigabytes. ``streamed_market`` returns what the kernel reads besides the
bars (instruments, funding, depth within 1% per book snapshot and typical spreads, the feeds'
maximum ages) and a ``CatalogFeed`` that hands the bars, marks and books a window at a time.
The depth and spreads come from one pass over the books, a block of ``BOOK_BLOCK_DAYS`` at a time
(each figure is one snapshot's, so any cut gives the same), and equal what
``assemble_market`` derives from the books held whole; the strategies read bars at their own
timeframe (``engine.catalog_feed.streamed_bars``). Peak memory is then one window of bars
plus the small per-snapshot arrays, whatever the length of the history
(``benchmarks/bench_memory.py`` prints it for 1, 3 and 5 years).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from quantum_trader.analytics.replay_market import (
    FeedAges,
    book_depth,
    book_spreads,
    catalog_instruments,
    source_notes,
    typical_spread,
)
from quantum_trader.config import Policy
from quantum_trader.data.catalog import Catalog
from quantum_trader.domain.kinds import DataKind
from quantum_trader.domain.market import F64, I64, BarSeries, BookSeries, FundingSeries
from quantum_trader.domain.time import MS_PER_DAY
from quantum_trader.engine.catalog_feed import BOOK_BLOCK_DAYS, WINDOW_DAYS, CatalogFeed, slice_book
from quantum_trader.engine.grid import MarketGrid
from quantum_trader.engine.inputs import MarketData
from quantum_trader.venues.simulated.instruments import guessed_note, instruments_with_fallback


class CatalogWindows:
    """The universe screens' windows of bars and books, read from the catalog within the run's range (what a
    market held whole would hold: ``analytics.universe_replay.WindowReader``).

    Screens move forward in time and each reads months back (the 90-day BTC correlation), so bars and books
    are read a block of ``BOOK_BLOCK_DAYS`` at a time and sliced: a weekly screen re-reading its 90 days of 1m
    bars, and decoding a Parquet row group of books for one day of snapshots, cost minutes over a year."""

    def __init__(self, catalog: Catalog, timeframe: str, exchange: str | None = None, start_ms: int | None = None,
                 end_ms: int | None = None, block_days: int = BOOK_BLOCK_DAYS) -> None:
        self.catalog, self.timeframe, self.exchange = catalog, timeframe, exchange
        self.start_ms, self.end_ms = start_ms, end_ms
        self.block_ms = block_days * MS_PER_DAY
        self._bar_blocks: dict[str, tuple[int, int, BarSeries]] = {}
        self._book_blocks: dict[str, tuple[int, int, BookSeries]] = {}

    def _clip(self, start: int, end: int) -> tuple[int, int]:
        lo = start if self.start_ms is None else max(start, int(self.start_ms))
        hi = end if self.end_ms is None else min(end, int(self.end_ms))
        return lo, hi

    def _upto(self, lo: int, hi: int) -> int:
        upto = max(hi, lo + self.block_ms)
        return upto if self.end_ms is None else max(hi, min(upto, int(self.end_ms)))

    def bars(self, symbol: str, start: int, end: int) -> BarSeries | None:
        lo, hi = self._clip(start, end)
        if hi <= lo or self.catalog.dataset(symbol, DataKind.CANDLES, self.timeframe, exchange=self.exchange) is None:
            return None
        block = self._bar_blocks.get(symbol)
        if block is None or lo < block[0] or hi > block[1]:
            upto = self._upto(lo, hi)
            block = (lo, upto, self.catalog.read_bars(symbol, self.timeframe, exchange=self.exchange, start_ms=lo,
                                                      end_ms=upto))
            self._bar_blocks[symbol] = block
        series = block[2].slice(lo, hi)
        return series if len(series) else None

    def book(self, symbol: str, start: int, end: int) -> BookSeries | None:
        lo, hi = self._clip(start, end)
        if hi <= lo or self.catalog.dataset(symbol, DataKind.BOOK, exchange=self.exchange) is None:
            return None
        block = self._book_blocks.get(symbol)
        if block is None or lo < block[0] or hi > block[1]:
            upto = self._upto(lo, hi)
            block = (lo, upto, self.catalog.read_book(symbol, exchange=self.exchange, start_ms=lo, end_ms=upto))
            self._book_blocks[symbol] = block
        book = slice_book(block[2], lo, hi)
        return book if len(book) else None


def header_grid(symbols: tuple[str, ...], timeframe: str) -> MarketGrid:
    """A grid of no rows: the columns and bar length of a market whose rows arrive through a feed."""
    empty = np.empty((0, len(symbols)))
    return MarketGrid(symbols=symbols, timeframe=timeframe, ts=np.empty(0, dtype=np.int64), open=empty, high=empty,
                      low=empty, close=empty, volume=empty, valid=np.empty((0, len(symbols)), dtype=bool),
                      mark=empty)


def _depth_pass(catalog: Catalog, symbol: str, exchange: str | None, start_ms: int | None, end_ms: int | None,
                window_days: int) -> tuple[I64, F64, float] | None:
    """Each snapshot's depth within 1% of mid and the median spread, a window of books at a time (a row group of
    books spans over a year: reading it once per block of ``BOOK_BLOCK_DAYS``, not once per 32-day window, took
    a year of five assets' books from 11 s to 3 s)."""
    info = catalog.dataset(symbol, DataKind.BOOK, exchange=exchange)
    if info is None or info.first_ts is None or info.last_ts is None:
        return None
    lo = info.first_ts if start_ms is None else max(info.first_ts, int(start_ms))
    last = info.last_ts if end_ms is None else min(info.last_ts, int(end_ms) - 1)
    times, depths, spreads = [], [], []
    width = window_days * MS_PER_DAY
    while lo <= last:
        book = catalog.read_book(symbol, exchange=exchange, start_ms=lo, end_ms=min(lo + width, last + 1))
        if len(book):
            depths.append(book_depth(book))
            spreads.append(book_spreads(book))
            times.append(book.ts)
        lo += width
    if not times:
        return None
    return np.concatenate(times), np.concatenate(depths), typical_spread(np.concatenate(spreads))


def streamed_market(catalog: Catalog, symbols: Sequence[str], *, timeframe: str, exchange: str | None = None,
                    start_ms: int | None = None, end_ms: int | None = None, policy: Policy | None = None,
                    window_days: int = WINDOW_DAYS) -> tuple[MarketData, CatalogFeed]:
    """The kernel's inputs but the bars, and the feed of the bars (module docstring)."""
    ages = FeedAges.of(policy, timeframe)
    funding: dict[str, FundingSeries] = {}
    for symbol in symbols:
        if catalog.dataset(symbol, DataKind.FUNDING, exchange=exchange) is not None:
            funding[symbol] = catalog.read_funding(symbol, exchange=exchange, start_ms=start_ms, end_ms=end_ms)
    feed = CatalogFeed(catalog, symbols, timeframe, exchange=exchange, start_ms=start_ms, end_ms=end_ms,
                       funding=funding, mark_max_age_ms=ages.mark, book_max_age_ms=ages.book, window_days=window_days)
    present = feed.symbols
    depth_ts: dict[str, I64] = {}
    depth: dict[str, F64] = {}
    spread: dict[str, float] = {}
    for symbol in feed.book_symbols:
        found = _depth_pass(catalog, symbol, exchange, start_ms, end_ms, BOOK_BLOCK_DAYS)
        if found is not None:
            depth_ts[symbol], depth[symbol], spread[symbol] = found
    first_close = {}
    for symbol in present:
        first = feed.first_ts[symbol]
        head = catalog.read_bars(symbol, timeframe, exchange=exchange, start_ms=first, end_ms=first + 1)
        first_close[symbol] = float(head.close[0])
    info = catalog.dataset(present[0], DataKind.CANDLES, timeframe, exchange=exchange)
    venue = exchange if exchange is not None else (info.exchange if info is not None else "binanceusdm")
    chosen, guessed = instruments_with_fallback(first_close, catalog_instruments(catalog, present, exchange))
    guess = guessed_note(guessed, venue)
    notes = (*source_notes(catalog, present, timeframe, exchange), *(() if guess is None else (guess,)))
    data = MarketData(grid=header_grid(present, timeframe), instruments=chosen,
                      funding={s: f for s, f in funding.items() if s in present}, depth_ts=depth_ts, depth=depth,
                      spread=spread, exchange_marks=frozenset(feed.mark_symbols), book_max_age_ms=ages.book,
                      feed_ages={"book": ages.book, "mark": ages.mark, "funding": ages.funding}, notes=notes)
    return data, feed
