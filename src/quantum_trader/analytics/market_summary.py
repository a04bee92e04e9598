"""What a run folder says of the market a run went through, gathered a stretch at a time.

The run folder names each asset's first and last bar, keeps hourly closes for the report's
charts, and the data notes say which feeds were missing or stale. Read off a grid held whole
these are a few array passes; a replay streamed from the catalog never holds that grid, so
the same figures are accumulated from each stretch the feed hands the kernel
(``SummarisedFeed``). A market held whole goes through the very same ``observe`` as one
stretch, so both ways of running give the run folder the same numbers (a test compares them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.market import F64, I64, BookSeries, FundingSeries
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.engine.catalog_feed import CatalogFeed
from quantum_trader.engine.grid import MarketGrid

MS_PER_HOUR = 3_600_000
FEEDS = ("book", "mark", "funding")


def stale_mask(feed_ts: I64 | None, bars: I64, max_age_ms: int) -> npt.NDArray[np.bool_]:
    """Per bar: whether the feed's latest value at or before it is absent or older than ``max_age_ms``."""
    if feed_ts is None or feed_ts.size == 0:
        return np.ones(bars.shape, dtype=bool)
    idx = np.searchsorted(feed_ts, bars, side="right") - 1
    age = bars - feed_ts[np.clip(idx, 0, None)]
    return np.asarray((idx < 0) | (age > max_age_ms), dtype=bool)


@dataclass
class MarketSummary:
    """Spans, hourly closes, volume presence and feed staleness of a run's bars (module docstring)."""

    symbols: tuple[str, ...]
    timeframe: str
    first_ts: int | None = None
    last_ts: int | None = None
    rows: int = 0
    step: int = field(init=False)
    count: I64 = field(init=False)
    first_bar: I64 = field(init=False)
    last_bar: I64 = field(init=False)
    has_volume: npt.NDArray[np.bool_] = field(init=False)
    stale: dict[str, I64] = field(init=False)
    _edge_close: F64 = field(init=False)
    """Each symbol's first close (NaN: none yet), and below its bar's close time; then the same of its last."""
    _edge_end: I64 = field(init=False)
    _last_close: F64 = field(init=False)
    _last_end: I64 = field(init=False)
    _hourly: list[tuple[I64, I64, F64]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.symbols)
        self.step = timeframe_ms(self.timeframe)
        self.count = np.zeros(n, dtype=np.int64)
        self.first_bar = np.full(n, -1, dtype=np.int64)
        self.last_bar = np.full(n, -1, dtype=np.int64)
        self.has_volume = np.zeros(n, dtype=bool)
        self.stale = {feed: np.zeros(n, dtype=np.int64) for feed in FEEDS}
        self._edge_close = np.full(n, np.nan)
        self._edge_end = np.full(n, -1, dtype=np.int64)
        self._last_close = np.full(n, np.nan)
        self._last_end = np.full(n, -1, dtype=np.int64)
        self._hourly = []

    @classmethod
    def of_grid(cls, grid: MarketGrid) -> MarketSummary:
        """The summary of a market held whole (its feed staleness is the market's own ``feed_gaps``)."""
        summary = cls(grid.symbols, grid.timeframe)
        if grid.ts.size:
            summary.observe(grid.ts, grid.close, grid.volume, grid.valid)
        return summary

    def observe(self, ts: I64, close: F64, volume: F64, valid: npt.NDArray[np.bool_]) -> None:
        """Take in one stretch of rows (bar open times ``ts``; ``close``/``volume`` NaN where ``valid`` is False)."""
        if ts.size == 0:
            return
        if self.first_ts is None:
            self.first_ts = int(ts[0])
        self.last_ts = int(ts[-1])
        self.rows += int(ts.size)
        self.count += valid.sum(axis=0)
        cols, first_rows, last_rows = _first_and_last(valid)
        new = self.first_bar[cols] < 0
        self.first_bar[cols[new]] = ts[first_rows[new]]
        self.last_bar[cols] = ts[last_rows]
        priced = np.isfinite(close)
        cols, first_rows, last_rows = _first_and_last(priced)
        new = np.isnan(self._edge_close[cols])
        self._edge_end[cols[new]] = ts[first_rows[new]] + self.step
        self._edge_close[cols[new]] = close[first_rows[new], cols[new]]
        self._last_end[cols] = ts[last_rows] + self.step
        self._last_close[cols] = close[last_rows, cols]
        self.has_volume |= (valid & np.isfinite(volume)).any(axis=0)
        ends = ts + self.step
        keep = priced & (ends % MS_PER_HOUR == 0)[:, None]
        column, row = np.nonzero(keep.T)
        self._hourly.append((column.astype(np.int64), ends[row], close.T[keep.T]))

    def observe_feeds(self, ts: I64, valid: npt.NDArray[np.bool_], feeds: Mapping[str, Mapping[str, I64]],
                      ages: Mapping[str, int]) -> None:
        """Count, per feed and symbol, the bars of this stretch whose latest value was absent or too old.

        ``feeds[feed][symbol]``: the feed's times known up to the stretch's end (from ``ages[feed]`` before its
        first row on, at least), so each bar sees the value it saw in the replay."""
        for feed in FEEDS:
            for j, symbol in enumerate(self.symbols):
                bars = ts[valid[:, j]]
                if bars.size:
                    self.stale[feed][j] += int(stale_mask(feeds.get(feed, {}).get(symbol), bars, ages[feed]).sum())

    def feed_gaps(self) -> dict[str, dict[str, float]]:
        """Per feed and symbol: the share of the symbol's bars without a fresh value (``MarketData.feed_gaps``)."""
        return {feed: {s: (float(self.stale[feed][j] / self.count[j]) if self.count[j] else 0.0)
                       for j, s in enumerate(self.symbols)} for feed in FEEDS}

    def spans(self) -> dict[str, tuple[int, int, int]]:
        """Per symbol with bars: the open time of its first and last bar, and its bar count."""
        return {s: (int(self.first_bar[j]), int(self.last_bar[j]), int(self.count[j]))
                for j, s in enumerate(self.symbols) if self.count[j]}

    def without_volume(self) -> list[str]:
        """Symbols whose bars carry no volume at all."""
        return [s for j, s in enumerate(self.symbols) if self.count[j] and not self.has_volume[j]]

    def prices(self) -> pd.DataFrame:
        """Rows of prices.parquet: per symbol, the close of every bar ending on a UTC hour and of its first and
        last bar, stamped with the bar's close time, symbol-major and in time order."""
        columns = [c for c, _, _ in self._hourly]
        ends = [e for _, e, _ in self._hourly]
        closes = [v for _, _, v in self._hourly]
        listed = np.flatnonzero(np.isfinite(self._edge_close))
        columns += [listed, listed]
        ends += [self._edge_end[listed], self._last_end[listed]]
        closes += [self._edge_close[listed], self._last_close[listed]]
        column = np.concatenate(columns) if columns else np.empty(0, dtype=np.int64)
        end = np.concatenate(ends) if ends else np.empty(0, dtype=np.int64)
        close = np.concatenate(closes) if closes else np.empty(0)
        order = np.lexsort((end, column))
        column, end, close = column[order], end[order], close[order]
        first = np.ones(column.shape, dtype=bool)
        first[1:] = (column[1:] != column[:-1]) | (end[1:] != end[:-1])
        names = np.asarray(list(self.symbols), dtype=object)
        return pd.DataFrame({"ts": end[first].astype(np.int64), "symbol": names[column[first]],
                             "close": close[first]})


def _first_and_last(mask: npt.NDArray[np.bool_]) -> tuple[I64, I64, I64]:
    """Columns with a True in ``mask``, and the row of their first and of their last True."""
    cols = np.flatnonzero(mask.any(axis=0))
    first_rows = np.argmax(mask[:, cols], axis=0)
    last_rows = mask.shape[0] - 1 - np.argmax(mask[::-1, cols], axis=0)
    return cols, first_rows, last_rows


class SummarisedFeed:
    """A feed that hands its stretches on unchanged and gathers the run's ``MarketSummary`` from them."""

    def __init__(self, feed: CatalogFeed, summary: MarketSummary, *, funding: Mapping[str, FundingSeries],
                 ages: Mapping[str, int]) -> None:
        self.feed = feed
        self.summary = summary
        self.funding_ts = {s: f.ts for s, f in funding.items()}
        self.ages = ages

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.feed.symbols

    @property
    def start_ts(self) -> int:
        return self.feed.start_ts

    @property
    def total_rows(self) -> int:
        return self.feed.total_rows

    def chunks(self) -> Iterator[MarketChunk]:
        for chunk in self.feed.chunks():
            self.summary.observe(chunk.ts, chunk.close, chunk.volume, chunk.valid)
            books: Mapping[str, BookSeries] = chunk.books or {}
            feeds = {"book": {s: b.ts for s, b in books.items()}, "funding": self.funding_ts,
                     "mark": self.feed.mark_times}
            self.summary.observe_feeds(chunk.ts, chunk.valid, feeds, self.ages)
            yield chunk


__all__ = ["MarketSummary", "SummarisedFeed", "stale_mask"]
