"""The live market: each symbol's closed candles as rows on one clock, with the exchange's marks, funding and books.

Only closed bars leave the feed. A candle is closed when its close time has passed by the exchange's
clock (``ExchangeClock``: this machine's clock plus the measured offset); the forming candle an exchange
returns last is held back until then. Candles are polled (``fetch_ohlcv`` from the next open expected):
nothing is asked before the close is due, the first poll comes a moment after it (``grace_s``), then one
every ``poll_s`` until every symbol's
bar is in; a symbol whose bar does not come within ``straggler_s`` of the first one's is left out of the
row (NaN, not tradable on that bar), as the replay treats a bar an exchange never printed.

With ``FeedOptions.streams`` the exchange's kline stream (``stream_candles``: ccxt.pro ``watch_ohlcv``) is
watched as well: a candle it shows closed is taken at once, without a request, and the candles are polled only
for what it has not brought ``stream_grace_s`` after the close was due (at once for a close long past: a session
catching up reads REST), or while it is down (an incident says so, another when it is back).

With each row: the exchange's mark price per symbol (``fetch_funding_rates``: premiumIndex, one request),
the funding settlements that fell since the last row (``fetch_funding_rate_history``, asked only once a
settlement time has passed), and an order book snapshot per symbol (``fetch_order_book``); each can be
switched off (``FeedOptions``), which a comparison with a backtest of bars alone needs.

An exchange that cannot be reached (after the reads' retries) is asked again and again, never given up on:
the row waits (and goes stale), or goes without its marks, funding or books, each failure an incident.

A stale feed: no new closed bar for ``stale_bars`` intervals (measured on this machine's monotonic clock
from the last row, so a replay's historical timestamps do not count as stale) halts entries and raises an
incident; the next row lifts the halt and says so.

Where a session starts: the bar forming now (the one after the newest closed candle), so its first decision
is taken at that bar's close and not late over a bar that closed before the session began. ``history``
fetches the closed bars before it for the strategy to warm up on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import numpy as np

from quantum_trader.domain.chunk import FundingAt
from quantum_trader.domain.market import F64, BarSeries, BookSeries
from quantum_trader.domain.time import format_time, timeframe_ms
from quantum_trader.venues.ccxt.clock import ExchangeClock
from quantum_trader.venues.ccxt.incidents import Halts, Incident, IncidentKind, Listener
from quantum_trader.venues.ccxt.retry import Backoff, answer_lost, read
from quantum_trader.venues.ccxt.stream_candles import CandleStream

T = TypeVar("T")
HISTORY_PAGE = 1000
STALE_HALT = "stale_feed"


@dataclass(frozen=True)
class FeedOptions:
    marks: bool = True
    funding: bool = True
    books: bool = True
    book_depth: int = 20
    grace_s: float = 1.0
    poll_s: float = 2.0
    max_wait_s: float = 60.0
    """The longest sleep before a bar's close (the clock is read again after it)."""
    straggler_s: float = 30.0
    stale_bars: int = 2
    stale_after_s: float | None = None
    """Overrides ``stale_bars`` intervals (tests)."""
    funding_hours_utc: tuple[int, ...] = (0, 8, 16)
    """When settlements fall, for a feed without marks (with marks, the exchange's next funding time is used)."""
    streams: bool = False
    """Take closed candles from the exchange's kline stream first (the exchange must be ccxt.pro's class)."""
    stream_grace_s: float = 3.0
    """After a bar's close is due, how long the stream has to bring it before the candles are polled."""
    stream_quiet_s: float = 90.0
    """A kline stream silent this long is down (the exchanges push several times a minute)."""


@dataclass(frozen=True)
class BarRow:
    """One closed bar of every symbol at ``ts`` (its open); NaN where a symbol had none."""

    ts: int
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    mark: F64
    """The exchange's mark price at the close where read, else NaN (the bar's close stands in)."""
    funding: tuple[FundingAt, ...] = ()
    books: dict[str, tuple[F64, F64, F64, F64]] = field(default_factory=dict)
    """Per symbol: bid prices, bid sizes, ask prices, ask sizes of the snapshot taken at the close."""

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.open)


@dataclass
class LiveFeed:
    exchange: Any
    symbols: tuple[str, ...]
    timeframe: str
    clock: ExchangeClock
    options: FeedOptions = field(default_factory=FeedOptions)
    halts: Halts = field(default_factory=Halts)
    on_incident: Listener | None = None
    backoff: Backoff = field(default_factory=Backoff)
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Any] = asyncio.sleep
    next_open: int | None = None
    """Open time of the next row to deliver (set by ``start``)."""
    replayed_until: int = 0
    """Bars closing before this (a resumed session's, closed while it was down) go without marks and books: the
    exchange's are of now, not of then; they are valued at their closes."""
    _pending: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    _next_funding: dict[str, int] = field(default_factory=dict)
    _last_row_at: float = 0.0
    _stale: bool = False
    stream: CandleStream | None = None
    """The kline stream (``FeedOptions.streams``; made by ``start``)."""

    @property
    def step(self) -> int:
        return timeframe_ms(self.timeframe)

    # ------------------------------------------------------------------ where to start, what came before
    async def start(self) -> int:
        """The open of the bar forming now: the first row the session will get. Returns it."""
        if self.options.streams and self.stream is None:
            self.stream = CandleStream(self.exchange, self.symbols, self.timeframe, self._tell, self.clock.now,
                                       self.options.stream_quiet_s, monotonic=self.monotonic)
            self.stream.start()
        newest = None
        for symbol in self.symbols:
            rows = await read(partial(self.exchange.fetch_ohlcv, symbol, self.timeframe, None, 3), self.backoff)
            closed = [int(r[0]) for r in rows if self._closed(int(r[0]))]
            if closed:
                newest = max(newest or closed[-1], closed[-1])
        if newest is None:
            raise ValueError(f"{self.exchange.id} has no closed {self.timeframe} candle of "
                             f"{', '.join(self.symbols)} to start after")
        self.next_open = newest + self.step
        self._last_row_at = self.monotonic()
        return self.next_open

    async def history(self, bars: int) -> dict[str, BarSeries]:
        """Up to ``bars`` closed candles per symbol before the first row (the strategy's warm-up)."""
        assert self.next_open is not None, "start() first"
        out: dict[str, BarSeries] = {}
        if bars <= 0:
            return out
        for symbol in self.symbols:
            since = self.next_open - bars * self.step
            got: dict[int, list[float]] = {}
            while since < self.next_open:
                page = await read(partial(self.exchange.fetch_ohlcv, symbol, self.timeframe, since, HISTORY_PAGE),
                                  self.backoff)
                page = [r for r in page if int(r[0]) < self.next_open and self._closed(int(r[0]))]
                if not page:
                    break
                got.update({int(r[0]): [float(v) for v in r[1:6]] for r in page})
                since = int(page[-1][0]) + self.step
                if len(page) < HISTORY_PAGE:
                    break
            if got:
                ts = np.array(sorted(got), dtype=np.int64)
                values = np.array([got[t] for t in ts.tolist()], dtype=np.float64)
                out[symbol] = BarSeries(symbol, self.timeframe, ts, values[:, 0].copy(), values[:, 1].copy(),
                                        values[:, 2].copy(), values[:, 3].copy(), values[:, 4].copy())
        return out

    # ------------------------------------------------------------------ rows
    def _closed(self, open_ts: int) -> bool:
        return open_ts + self.step <= self.clock.now()

    async def close(self) -> None:
        """Stop watching the kline stream (before the exchange is closed)."""
        if self.stream is not None:
            await self.stream.close()

    async def rows(self) -> AsyncIterator[BarRow]:
        """Every closed row from ``start()`` on, as it closes; never ends by itself."""
        assert self.next_open is not None, "start() first"
        first_seen: float | None = None
        while True:
            due = self.next_open + self.step - self.clock.now()
            self._from_stream()
            if due > 0 and not self._complete():  # not closed yet by the exchange's clock: nothing to ask for
                self._check_stale()
                await self._pause(min(due / 1000 + self.options.grace_s, self.options.max_wait_s))
                continue
            left = self._stream_left(due)
            if left > 0 and not self._complete():  # the stream brings it any moment
                self._check_stale()
                await self._pause(min(left, self.options.max_wait_s))
                continue
            if not self._complete():
                try:
                    await self._poll()
                except Exception as exc:
                    if not answer_lost(exc):
                        raise
                    self._failed("candles", exc)  # the exchange is unreachable: keep asking; staleness halts entries
            have = [s for s in self.symbols if self.next_open in self._pending.get(s, {})]
            if have and first_seen is None:
                first_seen = self.monotonic()
            late = first_seen is not None and self.monotonic() - first_seen >= self.options.straggler_s
            if have and (self._complete() or late):
                yield await self._row()
                first_seen = None
                continue
            self._check_stale()
            await self._pause(self.options.poll_s)

    def _complete(self) -> bool:
        """Every symbol has the bar, or has passed it (no bar at this time), and one has it."""
        assert self.next_open is not None
        at = self.next_open
        pending = [self._pending.get(s, {}) for s in self.symbols]
        return any(at in p for p in pending) and all(at in p or any(t > at for t in p) for p in pending)

    def _from_stream(self) -> None:
        """The stream's closed candles from the next row on, into the pending bars."""
        if self.stream is None or self.next_open is None:
            return
        for symbol in self.symbols:
            for ts, values in self.stream.closed(symbol, self.next_open).items():
                self._pending.setdefault(symbol, {}).setdefault(ts, values)

    def _stream_left(self, due_ms: int) -> float:
        """Seconds the stream still has to bring a bar whose close was due ``-due_ms`` ago (0: poll now)."""
        if self.stream is None or not self.stream.live:
            return 0.0
        return self.options.stream_grace_s + due_ms / 1000

    async def _pause(self, seconds: float) -> None:
        """Sleep, or while the stream delivers, wait for its next message (at most ``seconds``)."""
        if self.stream is not None and self.stream.live:
            await self.stream.wait(seconds)
        else:
            await self.sleep(seconds)

    async def _poll(self) -> None:
        assert self.next_open is not None
        for symbol in self.symbols:
            known = self._pending.setdefault(symbol, {})
            if self.next_open in known:
                continue
            rows = await read(partial(self.exchange.fetch_ohlcv, symbol, self.timeframe, self.next_open, 10),
                              self.backoff)
            for r in rows:
                t = int(r[0])
                if t >= self.next_open and self._closed(t):
                    known[t] = [float(v) for v in r[1:6]]

    async def _row(self) -> BarRow:
        assert self.next_open is not None
        ts = self.next_open
        values = np.full((5, len(self.symbols)), np.nan)
        for j, symbol in enumerate(self.symbols):
            bar = self._pending.get(symbol, {}).pop(ts, None)
            if bar is not None:
                values[:, j] = bar
        close_ts = ts + self.step
        past = close_ts < self.replayed_until  # a resumed session's bar that closed while it was down
        nan = np.full(len(self.symbols), np.nan)
        marks = nan if past else await self._extra("marks", self._marks(), nan)
        funding = await self._extra("funding", self._funding(close_ts), ())
        books = {} if past else await self._extra("order books", self._books(), {})
        self.next_open = ts + self.step
        self._last_row_at = self.monotonic()
        if self._stale:
            self._stale = False
            self.halts.lift(STALE_HALT)
            self._tell(Incident(close_ts, IncidentKind.FEED_RESUMED, f"a closed bar arrived again "
                                f"({format_time(close_ts)})", action="entries resumed" if not self.halts else ""))
        return BarRow(ts, values[0], values[1], values[2], values[3], values[4], marks, funding, books)

    async def _extra(self, what: str, call: Awaitable[T], fallback: T) -> T:
        """A row's marks, funding or books; unreachable, the row goes without them (an incident says so)."""
        try:
            return await call
        except Exception as exc:
            if not answer_lost(exc):
                raise
            self._failed(what, exc)
            return fallback

    def _failed(self, what: str, exc: BaseException) -> None:
        self._tell(Incident(self.next_open or 0, IncidentKind.SYNC_FAILED, f"reading {what} failed after retries "
                            f"({type(exc).__name__}); trying again", action="alert"))

    def _check_stale(self) -> None:
        limit = self.options.stale_after_s
        if limit is None:
            limit = self.options.stale_bars * self.step / 1000 + self.options.grace_s
        if self._stale or self.monotonic() - self._last_row_at < limit:
            return
        self._stale = True
        assert self.next_open is not None
        message = (f"no closed {self.timeframe} bar for {self.options.stale_bars} intervals (waiting for the bar "
                   f"opening {format_time(self.next_open)})")
        self.halts.hold(STALE_HALT, f"stale feed: {message}")
        self._tell(Incident(self.next_open, IncidentKind.STALE_FEED, message, action="entries halted"))

    def _tell(self, incident: Incident) -> None:
        if self.on_incident is not None:
            self.on_incident(incident)

    # ------------------------------------------------------------------ marks, funding, books
    async def _marks(self) -> F64:
        marks = np.full(len(self.symbols), np.nan)
        if not self.options.marks:
            return marks
        rates = await read(lambda: self.exchange.fetch_funding_rates(list(self.symbols)), self.backoff)
        for j, symbol in enumerate(self.symbols):
            entry = rates.get(symbol) or {}
            if entry.get("markPrice") is not None:
                marks[j] = float(entry["markPrice"])
            if entry.get("fundingTimestamp"):
                self._next_funding.setdefault(symbol, int(entry["fundingTimestamp"]))
        return marks

    def _due_settlement(self, symbol: str, close_ts: int) -> int | None:
        known = self._next_funding.get(symbol)
        if known is not None:
            return known if known <= close_ts else None
        hours = sorted(self.options.funding_hours_utc)
        day = close_ts - close_ts % 86_400_000
        times = [day + h * 3_600_000 for h in hours]
        passed = [t for t in times if close_ts - self.step < t <= close_ts]
        return passed[0] if passed else None

    async def _funding(self, close_ts: int) -> tuple[FundingAt, ...]:
        if not self.options.funding:
            return ()
        out: list[FundingAt] = []
        for symbol in self.symbols:
            due = self._due_settlement(symbol, close_ts)
            if due is None:
                continue
            history = await read(partial(self.exchange.fetch_funding_rate_history, symbol, due, 3), self.backoff)
            for entry in history:
                at = int(entry.get("timestamp") or 0)
                if due <= at <= close_ts and entry.get("fundingRate") is not None:
                    out.append((symbol, at, float(entry["fundingRate"])))
            self._next_funding.pop(symbol, None)
        return tuple(sorted(out, key=lambda f: (f[1], f[0])))

    async def _books(self) -> dict[str, tuple[F64, F64, F64, F64]]:
        if not self.options.books:
            return {}
        out = {}
        depth = self.options.book_depth
        for symbol in self.symbols:
            book = await read(partial(self.exchange.fetch_order_book, symbol, depth), self.backoff)
            out[symbol] = (*_levels(book.get("bids") or [], depth), *_levels(book.get("asks") or [], depth))
        return out


def _levels(levels: Sequence[Sequence[float]], depth: int) -> tuple[F64, F64]:
    px = np.full(depth, np.nan)
    sz = np.zeros(depth)
    for i, level in enumerate(levels[:depth]):
        px[i], sz[i] = float(level[0]), float(level[1])
    return px, sz


def append_book(books: dict[str, BookSeries], symbol: str, ts: int, levels: tuple[F64, F64, F64, F64],
                keep: int = 60) -> None:
    """Add a snapshot to ``symbol``'s series, keeping the last ``keep`` (the slippage model walks the newest)."""
    bid_px, bid_sz, ask_px, ask_sz = (a[None, :] for a in levels)
    old = books.get(symbol)
    if old is not None and old.levels == bid_px.shape[1] and int(old.ts[-1]) < ts:
        arrays = [np.vstack([getattr(old, n)[-keep + 1:], new]) for n, new in
                  (("bid_px", bid_px), ("bid_sz", bid_sz), ("ask_px", ask_px), ("ask_sz", ask_sz))]
        stamps = np.append(old.ts[-keep + 1:], ts).astype(np.int64)
    else:
        arrays, stamps = [bid_px, bid_sz, ask_px, ask_sz], np.array([ts], dtype=np.int64)
    books[symbol] = BookSeries(symbol, stamps, *arrays)
