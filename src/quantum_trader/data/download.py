"""Fill the catalog from an exchange through ccxt: paginated, resumable, rate-limited.

Resuming is a property of the catalog, not of a state file: each run starts at the
dataset's last stored bar + one bar, so an interrupted or repeated download fetches only
what is missing. Resume runs forward only: to backfill history older than the dataset's
first bar, download into a fresh catalog and merge, or ingest files.

Pages are buffered and written every ``flush_rows`` rows and once more when the run ends
(normally or by an exception), so an interruption keeps every page already received
while a long download does not rewrite the dataset after every page. The still-forming
candle (its close time in the future) is never stored: it would be a wrong bar forever.
Downloaded rows pass the same quality check as ingested files before they are written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ccxt
import numpy as np
import pandas as pd

from quantum_trader.data.catalog import Catalog, WriteResult, WriteSource
from quantum_trader.data.quality import QualityError, check_frame
from quantum_trader.domain.market import BarSeries, BookSeries, DataKind, FundingSeries
from quantum_trader.domain.symbols import parse_symbol
from quantum_trader.domain.time import timeframe_ms

__all__ = ["DownloadError", "DownloadProgress", "DownloadResult", "download", "make_exchange"]

DEFAULT_PAGE_LIMIT = 1000  # ccxt clamps to each exchange's own maximum
DEFAULT_FLUSH_ROWS = 200_000


class DownloadError(ValueError):
    """An exchange id, symbol or timeframe the exchange does not offer."""


@dataclass(frozen=True, slots=True)
class DownloadProgress:
    """Where a dataset's download is: the CLI turns these into a progress bar."""

    symbol: str
    kind: DataKind
    start_ms: int
    done_ms: int
    end_ms: int
    rows: int
    requests: int


@dataclass(frozen=True, slots=True)
class DownloadResult:
    symbol: str
    kind: DataKind
    timeframe: str | None
    start_ms: int
    requests: int
    rows_fetched: int
    writes: tuple[WriteResult, ...]

    @property
    def rows_added(self) -> int:
        return sum(w.rows_added for w in self.writes)


ProgressFn = Callable[[DownloadProgress], None]


def make_exchange(exchange_id: str) -> Any:
    """A ccxt exchange with its own rate limiter on (ccxt sleeps ``rateLimit`` ms between calls)."""
    cls = getattr(ccxt, exchange_id, None)
    if not isinstance(cls, type):
        raise DownloadError(f"unknown ccxt exchange id {exchange_id!r} (e.g. binanceusdm, bybit, okx)")
    return cls({"enableRateLimit": True})


def download(
    catalog: Catalog,
    exchange_id: str,
    symbols: Sequence[str],
    timeframe: str,
    since_ms: int,
    *,
    until_ms: int | None = None,
    exchange: Any = None,
    progress: ProgressFn | None = None,
    funding: bool = False,
    book: bool = False,
    book_depth: int = 20,
    page_limit: int = DEFAULT_PAGE_LIMIT,
    flush_rows: int = DEFAULT_FLUSH_ROWS,
) -> list[DownloadResult]:
    """Candles (and optionally funding history and one order-book snapshot) for each symbol.

    ``exchange`` is a ready ccxt instance (tests pass one with a fake HTTP layer); by default
    one is built from ``exchange_id``, which is also the catalog's exchange name.
    """
    ex = exchange if exchange is not None else make_exchange(exchange_id)
    ex.enableRateLimit = True
    timeframe_ms(timeframe)
    if ex.timeframes and timeframe not in ex.timeframes:
        raise DownloadError(f"{exchange_id} has no {timeframe} candles; it offers {', '.join(ex.timeframes)}")
    ex.load_markets()
    for symbol in symbols:
        parse_symbol(symbol)
        if symbol not in ex.markets:
            raise DownloadError(f"{exchange_id} has no market {symbol!r}")
    end = until_ms if until_ms is not None else int(ex.milliseconds())
    results: list[DownloadResult] = []
    for symbol in symbols:
        job = _Job(catalog, ex, exchange_id, symbol, progress, page_limit, flush_rows)
        results.append(job.candles(timeframe, since_ms, end))
        if funding:
            results.append(job.funding(since_ms, end))
        if book:
            results.append(job.book(book_depth))
    return results


@dataclass
class _Job:
    catalog: Catalog
    ex: Any
    exchange_id: str
    symbol: str
    progress: ProgressFn | None
    page_limit: int
    flush_rows: int

    def _resume(self, kind: DataKind, timeframe: str | None, since_ms: int, step: int) -> int:
        info = self.catalog.dataset(self.symbol, kind, timeframe, exchange=self.exchange_id)
        if info is None or info.last_ts is None:
            return since_ms
        return max(since_ms, info.last_ts + step)

    @property
    def _source(self) -> WriteSource:
        """Recorded with each write: the venue itself, and its market (a ccxt symbol says spot or perpetual)."""
        return WriteSource(loader="ccxt download", venue=self.exchange_id,
                           market_type="perp" if ":" in self.symbol else "spot")

    def _report(self, kind: DataKind, start: int, done: int, end: int, rows: int, requests: int) -> None:
        if self.progress is not None:
            self.progress(DownloadProgress(self.symbol, kind, start, min(done, end), end, rows, requests))

    def candles(self, timeframe: str, since_ms: int, end_ms: int) -> DownloadResult:
        step = timeframe_ms(timeframe)
        start = cursor = self._resume(DataKind.CANDLES, timeframe, since_ms, step)
        closed_before = int(self.ex.milliseconds()) - step  # bars opening after this are still forming
        pending: list[list[Any]] = []
        writes: list[WriteResult] = []
        requests = rows = 0
        self._report(DataKind.CANDLES, start, cursor, end_ms, rows, requests)
        try:
            while cursor < end_ms:
                page = self.ex.fetch_ohlcv(self.symbol, timeframe, since=cursor, limit=self.page_limit)
                requests += 1
                fresh = [r for r in page if cursor <= r[0] < end_ms and r[0] <= closed_before]
                if not fresh:
                    break
                pending.extend(fresh)
                rows += len(fresh)
                cursor = int(fresh[-1][0]) + step
                if len(pending) >= self.flush_rows:
                    writes.append(self._write_bars(pending, timeframe))
                    pending = []
                self._report(DataKind.CANDLES, start, cursor, end_ms, rows, requests)
        finally:
            if pending:
                writes.append(self._write_bars(pending, timeframe))
        self._report(DataKind.CANDLES, start, end_ms, end_ms, rows, requests)
        return DownloadResult(self.symbol, DataKind.CANDLES, timeframe, start, requests, rows, tuple(writes))

    def _write_bars(self, rows: list[list[Any]], timeframe: str) -> WriteResult:
        frame = pd.DataFrame(
            [r[:6] for r in rows], columns=["ts", "open", "high", "low", "close", "volume"]
        ).astype({"ts": "int64", "open": "float64", "high": "float64", "low": "float64", "close": "float64",
                  "volume": "float64"})
        frame = frame.drop_duplicates("ts", keep="last").sort_values("ts", kind="stable")
        source = f"{self.exchange_id} {self.symbol} {timeframe} download"
        report = check_frame(frame, DataKind.CANDLES, timeframe=timeframe, source=source)
        if not report.ok:
            raise QualityError(report)
        series = BarSeries(self.symbol, timeframe, *(frame[c].to_numpy() for c in frame.columns))
        return self.catalog.write(series, exchange=self.exchange_id, source=self._source)

    def funding(self, since_ms: int, end_ms: int) -> DownloadResult:
        start = cursor = self._resume(DataKind.FUNDING, None, since_ms, 1)
        pending: dict[int, float] = {}
        requests = 0
        try:
            while cursor < end_ms:
                page = self.ex.fetch_funding_rate_history(self.symbol, since=cursor, limit=self.page_limit)
                requests += 1
                fresh = [(int(r["timestamp"]), float(r["fundingRate"])) for r in page
                         if r.get("timestamp") is not None and cursor <= int(r["timestamp"]) < end_ms]
                if not fresh:
                    break
                pending.update(fresh)
                cursor = max(ts for ts, _ in fresh) + 1
                self._report(DataKind.FUNDING, start, cursor, end_ms, len(pending), requests)
        finally:
            writes = (self._write_funding(pending),) if pending else ()
        return DownloadResult(self.symbol, DataKind.FUNDING, None, start, requests, len(pending), writes)

    def _write_funding(self, pending: dict[int, float]) -> WriteResult:
        ts = np.array(sorted(pending), dtype=np.int64)
        rate = np.array([pending[t] for t in ts.tolist()], dtype=np.float64)
        frame = pd.DataFrame({"ts": ts, "rate": rate})
        report = check_frame(frame, DataKind.FUNDING, source=f"{self.exchange_id} {self.symbol} funding download")
        if not report.ok:
            raise QualityError(report)
        return self.catalog.write(FundingSeries(self.symbol, ts, rate), exchange=self.exchange_id,
                                  source=self._source)

    def book(self, depth: int) -> DownloadResult:
        """One L2 snapshot, stored as one BOOK row (NaN price / 0 size past the book's depth)."""
        ob = self.ex.fetch_order_book(self.symbol, limit=depth)
        ts = int(ob.get("timestamp") or self.ex.milliseconds())
        sides = []
        for levels in (ob["bids"], ob["asks"]):
            px = np.full((1, depth), np.nan)
            sz = np.zeros((1, depth))
            for i, level in enumerate(levels[:depth]):
                px[0, i], sz[0, i] = float(level[0]), float(level[1])
            sides.append((px, sz))
        series = BookSeries(self.symbol, np.array([ts], dtype=np.int64), sides[0][0], sides[0][1], sides[1][0],
                            sides[1][1])
        frame = pd.DataFrame({"ts": series.ts} | {
            f"{name}_{i}": arr[:, i] for name, arr in (("bid_px", series.bid_px), ("bid_sz", series.bid_sz),
                                                        ("ask_px", series.ask_px), ("ask_sz", series.ask_sz))
            for i in range(depth)})
        report = check_frame(frame, DataKind.BOOK, source=f"{self.exchange_id} {self.symbol} order book")
        if not report.ok:
            raise QualityError(report)
        write = self.catalog.write(series, exchange=self.exchange_id, source=self._source)
        self._report(DataKind.BOOK, ts, ts, ts, 1, 1)
        return DownloadResult(self.symbol, DataKind.BOOK, None, ts, 1, 1, (write,))
