"""The catalog replayed a window at a time: years of 1m bars without the whole history in memory.

``CatalogFeed`` reads each symbol's bars for one window of UTC days (Parquet row groups
outside it are skipped by their time statistics), aligns them on the window's union of bar
times and hands the engine a ``MarketChunk``; the marks (carried closes, overlaid by the
exchange's mark prices while fresh), the funding settlements and the order books of the
window come with it. What the replay holds at once is one window, so peak memory follows
the window, not the length of the history. The stretches it yields are exactly those
``InMemoryFeed`` cuts from the whole grid (tested): the same replay either way.

``streamed_bars`` is the strategies' side of the same idea: bars resampled to a signal
timeframe window by window (windows are whole UTC days, so no bucket straddles two),
equal to resampling the whole history at once; ``streamed_decision_bars`` keeps the finest
of them as closes only, with the coarser timeframes resampled from them window by window.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow.parquet as pq

from quantum_trader.data.catalog import Catalog
from quantum_trader.data.resample import resample_bars
from quantum_trader.domain.chunk import FundingAt, MarketChunk
from quantum_trader.domain.kinds import DataKind
from quantum_trader.domain.market import F64, I64, BarSeries, BookSeries, FundingSeries
from quantum_trader.domain.time import MS_PER_DAY, timeframe_ms
from quantum_trader.engine.feed import funding_by_row
from quantum_trader.engine.grid import FIELDS, align, forward_fill, overlay_marks
from quantum_trader.engine.strategy import DecisionBars, closes_only

WINDOW_DAYS = 32
"""Days per window: about 46,000 1m rows, 0.4 MB per symbol and field (a catalog row group, ~91 days of 1m
bars, is decoded about three times: cheap next to the replay of those bars)."""
BOOK_BLOCK_DAYS = 182
"""Days of order books read at once and sliced per window (5m snapshots of 10 levels: about 17 MB per
symbol): a row group of books spans more than a year and is decoded whole whatever the filter."""


@dataclass(frozen=True)
class FeedSpan:
    """What the feed covers, known before the first window is read: the engine is built from it."""

    symbols: tuple[str, ...]
    timeframe: str
    start_ts: int
    """Open time of the first bar of any symbol in the range."""
    total_rows: int
    """Distinct bar times in the range (the rows the replay will visit), for progress."""


def _windows(start: int, end: int, days: int) -> Iterator[tuple[int, int]]:
    """[lo, hi) windows of whole UTC days from the day of ``start`` until past ``end``."""
    lo = start - start % MS_PER_DAY
    width = days * MS_PER_DAY
    while lo <= end:
        yield lo, lo + width
        lo += width


class CatalogFeed:
    """Stretches of the catalog's bars, one window of ``window_days`` UTC days at a time (module docstring)."""

    def __init__(self, catalog: Catalog, symbols: Sequence[str], timeframe: str, *, exchange: str | None = None,
                 start_ms: int | None = None, end_ms: int | None = None,
                 funding: Mapping[str, FundingSeries] | None = None, marks: bool = True,
                 mark_max_age_ms: int | None = None, books: bool = True, book_max_age_ms: int = 15 * 60_000,
                 window_days: int = WINDOW_DAYS) -> None:
        if window_days < 1:
            raise ValueError(f"window_days: must be at least 1, got {window_days}")
        self.catalog = catalog
        self.exchange = exchange
        self.timeframe = timeframe
        self.step = timeframe_ms(timeframe)
        self.start_ms, self.end_ms = start_ms, end_ms
        self.funding = dict(funding or {})
        self.mark_max_age_ms = mark_max_age_ms
        self.book_max_age_ms = book_max_age_ms
        self.window_days = window_days
        self._book_block: dict[str, tuple[int, int, BookSeries]] = {}
        self.mark_times: dict[str, I64] = {}
        """The exchange marks' times read for the stretch last handed out (from ``mark_max_age_ms`` before it)."""
        self.span = self._span(tuple(symbols))
        self.symbols = self.span.symbols
        self.mark_symbols = tuple(s for s in self.symbols if marks and self._has(s, DataKind.MARK, timeframe))
        self.book_symbols = tuple(s for s in self.symbols if books and self._has(s, DataKind.BOOK, None))

    @property
    def start_ts(self) -> int:
        return self.span.start_ts

    @property
    def total_rows(self) -> int:
        return self.span.total_rows

    @property
    def last_ts(self) -> int:
        """The open time of the range's last bar (any symbol)."""
        return self._last_ts

    def _has(self, symbol: str, kind: DataKind, timeframe: str | None) -> bool:
        return self.catalog.dataset(symbol, kind, timeframe, exchange=self.exchange) is not None

    def _span(self, requested: tuple[str, ...]) -> FeedSpan:
        """Symbols with bars in the range, the first and last bar time and the number of distinct bar times:
        DuckDB and pyarrow over the ``ts`` columns of the Parquet files (nothing else is read)."""
        where, params = [], []
        if self.start_ms is not None:
            where.append("ts >= ?")
            params.append(int(self.start_ms))
        if self.end_ms is not None:
            where.append("ts < ?")
            params.append(int(self.end_ms))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        con = duckdb.connect(":memory:")
        present, starts, ends, files = [], [], [], []
        for symbol in requested:
            info = self.catalog.dataset(symbol, DataKind.CANDLES, self.timeframe, exchange=self.exchange)
            if info is None:
                raise ValueError(f"the catalog has no {self.timeframe} bars of {symbol}")
            row = con.execute(f"SELECT min(ts), max(ts) FROM read_parquet(?){clause}", [str(info.path), *params]
                              ).fetchone()
            if row is None or row[0] is None:
                continue
            present.append(symbol)
            starts.append(int(row[0]))
            ends.append(int(row[1]))
            files.append(str(info.path))
        if not present:
            raise ValueError(f"no {self.timeframe} bars in the requested range for {', '.join(requested)}")
        self._last_ts = max(ends)
        self.first_ts = dict(zip(present, starts, strict=True))
        """Each symbol's first bar in the range."""
        con.close()
        return FeedSpan(tuple(present), self.timeframe, min(starts), self._distinct_times(files, min(starts)))

    def _distinct_times(self, files: Sequence[str], first: int) -> int:
        """Distinct bar times of the range over every file, counted a window of whole UTC days at a time (a time
        falls in one window only): one query over the whole range hashed every bar time of the history at once,
        50 MB a year of 1m bars on five assets."""
        total = 0
        for lo, hi in _windows(first, self._last_ts, self.window_days):
            lo, hi = self._clip(lo, hi)
            if hi <= lo:
                continue
            times = [pq.read_table(f, columns=["ts"], filters=[("ts", ">=", lo), ("ts", "<", hi)], partitioning=None)
                     .column("ts").to_numpy() for f in files]
            total += int(np.unique(np.concatenate(times)).size)
        return total

    def _clip(self, lo: int, hi: int) -> tuple[int, int]:
        if self.start_ms is not None:
            lo = max(lo, int(self.start_ms))
        if self.end_ms is not None:
            hi = min(hi, int(self.end_ms))
        return lo, hi

    def _bars(self, lo: int, hi: int, kind: DataKind = DataKind.CANDLES,
              symbols: Sequence[str] | None = None) -> dict[str, BarSeries]:
        out = {}
        for symbol in self.symbols if symbols is None else symbols:
            series = self.catalog.read_bars(symbol, self.timeframe, exchange=self.exchange, start_ms=lo, end_ms=hi,
                                            kind=kind)
            if len(series):
                out[symbol] = series
        return out

    def chunks(self) -> Iterator[MarketChunk]:
        n = len(self.symbols)
        carried = np.full(n, np.nan)
        """The last close of each symbol so far: what a gap's mark carries."""
        mark_in: F64 | None = None
        previous_last: int | None = None
        first = 0
        for window_lo, window_hi in _windows(self.span.start_ts, self._last_ts, self.window_days):
            lo, hi = self._clip(window_lo, window_hi)
            if hi <= lo:
                continue
            bars = self._bars(lo, hi)
            if not bars:
                continue
            ts, cols, valid = align(bars, self.symbols)
            closes = forward_fill(cols["close"], carried)
            carried = closes[-1].copy()
            mark = self._overlay_marks(ts, closes, lo, hi)
            funding = self._funding(ts, previous_last)
            yield MarketChunk(symbols=self.symbols, step=self.step, ts=ts, valid=valid, mark=mark, funding=funding,
                              mark_in=mark_in, first=first, books=self._books(lo, hi), **cols)
            mark_in = mark[-1].copy()
            previous_last = int(ts[-1])
            first += int(ts.size)

    def _overlay_marks(self, ts: I64, closes: F64, lo: int, hi: int) -> F64:
        """The exchange's mark prices over the carried closes where fresh (read from ``max_age`` before the window:
        a mark from the previous window may still be the freshest)."""
        if not self.mark_symbols:
            return closes
        since = lo - self.mark_max_age_ms if self.mark_max_age_ms is not None else -(2**62)
        marks = self._bars(since, hi, DataKind.MARK, self.mark_symbols)
        self.mark_times = {s: m.ts for s, m in marks.items()}
        return overlay_marks(ts, closes, self.symbols, marks, self.mark_max_age_ms)

    def _funding(self, ts: I64, previous_last: int | None) -> dict[int, tuple[FundingAt, ...]]:
        """Settlements after the previous window's last bar, each at the first row opening at or after it."""
        due = {}
        for symbol, series in self.funding.items():
            after = 0 if previous_last is None else int(series.ts.searchsorted(previous_last, side="right"))
            upto = int(series.ts.searchsorted(int(ts[-1]), side="right"))
            due[symbol] = FundingSeries(symbol, series.ts[after:upto], series.rate[after:upto])
        return funding_by_row(ts, self.symbols, due)

    def _books(self, lo: int, hi: int) -> dict[str, BookSeries] | None:
        """The window's snapshots, and those up to ``book_max_age_ms`` before it (still the book at its start).

        Books are read a block of ``BOOK_BLOCK_DAYS`` at a time and sliced per window: a Parquet row group of
        books spans over a year of snapshots and is decoded whole whatever the filter, so reading it once per
        block instead of once per window keeps the replay as fast as one that loads the books whole."""
        if not self.book_symbols:
            return None
        out = {}
        since = lo - self.book_max_age_ms
        for symbol in self.book_symbols:
            block = self._book_block.get(symbol)
            if block is None or since < block[0] or hi > block[1]:
                upto = max(hi, since + BOOK_BLOCK_DAYS * MS_PER_DAY)
                if self.end_ms is not None:
                    upto = max(hi, min(upto, int(self.end_ms)))
                block = (since, upto, self.catalog.read_book(symbol, exchange=self.exchange, start_ms=since,
                                                             end_ms=upto))
                self._book_block[symbol] = block
            book = slice_book(block[2], since, hi)
            if len(book):
                out[symbol] = book
        return out


def slice_book(book: BookSeries, lo: int, hi: int) -> BookSeries:
    """The snapshots with ``lo <= ts < hi``."""
    a, b = np.searchsorted(book.ts, [lo, hi], side="left")
    return BookSeries(book.symbol, book.ts[a:b], book.bid_px[a:b], book.bid_sz[a:b], book.ask_px[a:b],
                      book.ask_sz[a:b])


def streamed_bars(catalog: Catalog, symbols: Sequence[str], source: str, target: str, *,
                  exchange: str | None = None, start_ms: int | None = None, end_ms: int | None = None,
                  window_days: int = WINDOW_DAYS) -> dict[str, BarSeries]:
    """Each symbol's ``source`` bars resampled to ``target`` (a timeframe dividing a day), read a window of whole
    UTC days at a time; equal to ``resample_bars`` over the whole range, the trailing half-formed bar dropped."""
    if MS_PER_DAY % timeframe_ms(target):
        raise ValueError(f"streamed resampling needs a timeframe that divides a day, got {target}")
    out: dict[str, BarSeries] = {}
    for symbol in symbols:
        pieces = _resampled_windows(catalog, symbol, source, (target,), exchange, start_ms, end_ms, window_days)
        if pieces is not None and len(resampled := _whole(symbol, source, target, pieces[0][target], pieces[1])):
            out[symbol] = resampled
    return out


def streamed_decision_bars(catalog: Catalog, symbols: Sequence[str], source: str, target: str,
                           coarser: Sequence[str], *, exchange: str | None = None, start_ms: int | None = None,
                           end_ms: int | None = None, window_days: int = WINDOW_DAYS) -> DecisionBars:
    """``streamed_bars`` with closes only (``closes_only``), and the same bars resampled to each of ``coarser``
    (multiples of ``target`` dividing a day) window by window: equal to ``resample_bars`` of the ``target`` bars
    over the whole range, without holding those whole."""
    for timeframe in (target, *coarser):
        if timeframe_ms(timeframe) % timeframe_ms(target) or MS_PER_DAY % timeframe_ms(timeframe):
            raise ValueError(f"decision bars: {timeframe} is not a multiple of {target} dividing a day")
    finest: dict[str, BarSeries] = {}
    coarse: dict[str, dict[str, BarSeries]] = {timeframe: {} for timeframe in coarser}
    for symbol in symbols:
        pieces = _resampled_windows(catalog, symbol, source, (target, *coarser), exchange, start_ms, end_ms,
                                    window_days)
        if pieces is None:
            continue
        by_timeframe, last_bar = pieces
        bars = _whole(symbol, source, target, by_timeframe[target], last_bar)
        if not len(bars):
            continue
        finest[symbol] = closes_only(bars)
        for timeframe in coarser:
            # resample_bars(bars, timeframe) drops the trailing bucket unless its last target bar is in
            whole = _concat(symbol, timeframe, by_timeframe[timeframe])
            keep = int(np.searchsorted(whole.ts + timeframe_ms(timeframe),
                                       int(bars.ts[-1]) + timeframe_ms(target), side="right"))
            coarse[timeframe][symbol] = whole.slice(end_ms=int(whole.ts[keep])) if keep < len(whole) else whole
    return DecisionBars(finest, coarse)


def _resampled_windows(catalog: Catalog, symbol: str, source: str, targets: Sequence[str], exchange: str | None,
                       start_ms: int | None, end_ms: int | None, window_days: int
                       ) -> tuple[dict[str, list[BarSeries]], int] | None:
    """Per timeframe of ``targets`` (the first resampled from ``source``, each other from the first), the
    pieces of each window (their trailing buckets kept), and the last ``source`` bar's time; None: no bars."""
    info = catalog.dataset(symbol, DataKind.CANDLES, source, exchange=exchange)
    if info is None or info.first_ts is None or info.last_ts is None:
        return None
    first = info.first_ts if start_ms is None else max(info.first_ts, int(start_ms))
    last = info.last_ts if end_ms is None else min(info.last_ts, int(end_ms) - 1)
    if last < first:
        return None
    pieces: dict[str, list[BarSeries]] = {target: [] for target in targets}
    last_bar = None
    for lo, hi in _windows(first, last, window_days):
        bars = catalog.read_bars(symbol, source, exchange=exchange, start_ms=max(lo, first), end_ms=min(hi, last + 1))
        if len(bars):
            piece = resample_bars(bars, targets[0], keep_partial=True)
            pieces[targets[0]].append(piece)
            for target in targets[1:]:
                pieces[target].append(resample_bars(piece, target, keep_partial=True))
            last_bar = int(bars.ts[-1])
    return None if last_bar is None else (pieces, last_bar)


def _whole(symbol: str, source: str, target: str, pieces: list[BarSeries], last_bar: int) -> BarSeries:
    """The pieces as one series, its trailing bucket dropped unless whole (its last ``source`` bar is in)."""
    resampled = _concat(symbol, target, pieces)
    if len(resampled) and last_bar + timeframe_ms(source) < int(resampled.ts[-1]) + timeframe_ms(target):
        resampled = BarSeries(symbol, target, resampled.ts[:-1], *(getattr(resampled, f)[:-1] for f in FIELDS))
    return resampled


def _concat(symbol: str, timeframe: str, pieces: list[BarSeries]) -> BarSeries:
    return BarSeries(symbol, timeframe, np.concatenate([p.ts for p in pieces]),
                     *(np.concatenate([getattr(p, f) for p in pieces]) for f in FIELDS))
