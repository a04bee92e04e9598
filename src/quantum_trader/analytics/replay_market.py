"""The market a replay hands the kernel: bars aligned, and every other feed only where it is fresh.

A book snapshot, an exchange mark or a funding rate describes the market at its own time.
Carried forward without a bound, one old book decides every fill and every liquidity check
of a two-year run. So each feed has a maximum age (``data_requirements.max_age``): past it
the value counts as missing, the venue falls back to its no-feed model, and the share of
bars each feed was missing or stale is kept for the run's data notes.

Instruments come from the exchange's stored markets (``quantum-trader data markets``); a
symbol without them is guessed from its first close, and the notes say so. Where the
catalog recorded that candles are spot data filed under a perpetual, the notes say that too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from quantum_trader.analytics.data_notes import FINER_TIMEFRAME
from quantum_trader.config import Policy
from quantum_trader.config.operations import FeedMaxAge
from quantum_trader.data.catalog import Catalog, CatalogError
from quantum_trader.data.markets import MarketsError, stored_instruments
from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.market import F64, I64, BarSeries, BookSeries, DataKind, FundingSeries
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.engine.grid import MarketGrid, build_grid, overlay_marks
from quantum_trader.engine.inputs import MarketData
from quantum_trader.venues.simulated.instruments import guessed_note, instruments_with_fallback

_FUNDING_INTERVAL_MS = 8 * 3_600_000


@dataclass(frozen=True, slots=True)
class FeedAges:
    """Maximum age, in ms, of each feed's latest value (resolved for one run's bar length)."""

    book: int
    mark: int
    funding: int

    @classmethod
    def of(cls, policy: Policy | None, timeframe: str) -> FeedAges:
        ages = policy.data_requirements.max_age if policy is not None else FeedMaxAge()
        interval = policy.venue.funding_interval_ms if policy is not None else _FUNDING_INTERVAL_MS
        bar = timeframe_ms(timeframe)
        return cls(book=ages.resolve_ms("book", bar, interval), mark=ages.resolve_ms("mark", bar, interval),
                   funding=ages.resolve_ms("funding", bar, interval))


def stale_share(feed_ts: I64 | None, grid_ts: I64, valid: np.ndarray, max_age_ms: int) -> float:
    """Share of the symbol's bars whose latest feed value (at or before the bar) is absent or too old."""
    bars = grid_ts[valid]
    if bars.size == 0:
        return 0.0
    if feed_ts is None or feed_ts.size == 0:
        return 1.0
    idx = np.searchsorted(feed_ts, bars, side="right") - 1
    age = bars - feed_ts[np.clip(idx, 0, None)]
    return float(np.mean((idx < 0) | (age > max_age_ms)))


def book_depth(book: BookSeries, fraction: float = 0.01) -> F64:
    """Per snapshot: quote depth within ``fraction`` of mid (the smaller side)."""
    mid = (book.bid_px[:, 0] + book.ask_px[:, 0]) / 2.0
    lo = (mid * (1.0 - fraction))[:, None]
    hi = (mid * (1.0 + fraction))[:, None]
    bid_px = np.nan_to_num(book.bid_px)
    ask_px = np.nan_to_num(book.ask_px, nan=np.inf)
    bid = np.sum(np.where(bid_px >= lo, bid_px * book.bid_sz, 0.0), axis=1)
    ask = np.sum(np.where(ask_px <= hi, np.nan_to_num(book.ask_px) * book.ask_sz, 0.0), axis=1)
    return np.asarray(np.minimum(bid, ask), dtype=np.float64)


def book_spreads(book: BookSeries) -> F64:
    """Per snapshot: the relative bid-ask spread."""
    mid = (book.bid_px[:, 0] + book.ask_px[:, 0]) / 2.0
    return np.asarray((book.ask_px[:, 0] - book.bid_px[:, 0]) / mid, dtype=np.float64)


def typical_spread(spreads: F64) -> float:
    return float(np.nanmedian(spreads)) if spreads.size else 0.0


def book_depth_and_spread(book: BookSeries, fraction: float = 0.01) -> tuple[F64, float]:
    """Per snapshot: quote depth within ``fraction`` of mid (the smaller side); and the median spread."""
    return book_depth(book, fraction), typical_spread(book_spreads(book))


def with_mark_prices(grid: MarketGrid, marks: Mapping[str, BarSeries], max_age_ms: int | None = None) -> MarketGrid:
    """The grid with the exchange's mark prices over its carried closes where fresh (``engine.grid.overlay_marks``)."""
    return replace(grid, mark=overlay_marks(grid.ts, grid.mark, grid.symbols, marks, max_age_ms))


def _feed_gaps(grid: MarketGrid, ages: FeedAges, books: Mapping[str, BookSeries],
               marks: Mapping[str, BarSeries], funding: Mapping[str, FundingSeries]) -> dict[str, dict[str, float]]:
    gaps: dict[str, dict[str, float]] = {"book": {}, "mark": {}, "funding": {}}
    for j, symbol in enumerate(grid.symbols):
        valid = grid.valid[:, j]
        for feed, series, age in (("book", books.get(symbol), ages.book), ("mark", marks.get(symbol), ages.mark),
                                  ("funding", funding.get(symbol), ages.funding)):
            ts = None if series is None or len(series) == 0 else series.ts
            gaps[feed][symbol] = stale_share(ts, grid.ts, valid, age)
    return gaps


def assemble_market(bars: Mapping[str, BarSeries], funding: Mapping[str, FundingSeries] | None = None,
                    books: Mapping[str, BookSeries] | None = None,
                    marks: Mapping[str, BarSeries] | None = None, *, policy: Policy | None = None,
                    instruments: Mapping[str, Instrument] | None = None,
                    notes: Sequence[str] = (), exchange: str = "binanceusdm") -> MarketData:
    """Align bars onto one grid and derive what the kernel reads from the books (depth, spread).

    Shared by the catalog replay and by in-memory markets (benchmarks, tests, the demo),
    so both hand the kernel exactly the same shape of data. ``policy`` sets the feeds'
    maximum ages (default: the policy's defaults); ``instruments`` the exchange's contracts
    (default: guessed from each symbol's first close; a catalog replay names the guessed ones
    in the notes, as from ``exchange``'s missing market listing).
    """
    timeframe = next(iter(bars.values())).timeframe
    ages = FeedAges.of(policy, timeframe)
    funding = {s: f for s, f in (funding or {}).items() if s in bars}
    marks = {s: m for s, m in (marks or {}).items() if s in bars and len(m)}
    depth_ts: dict[str, I64] = {}
    depth: dict[str, F64] = {}
    spread: dict[str, float] = {}
    kept: dict[str, BookSeries] = {}
    for symbol, book in (books or {}).items():
        if symbol in bars and len(book):
            depth[symbol], spread[symbol] = book_depth_and_spread(book)
            depth_ts[symbol] = book.ts
            kept[symbol] = book
    grid = build_grid(bars)
    if marks:
        grid = with_mark_prices(grid, marks, ages.mark)
    chosen, guessed = instruments_with_fallback({s: float(b.close[0]) for s, b in bars.items()}, instruments or {})
    guess = guessed_note(guessed, exchange) if instruments is not None else None
    return MarketData(grid=grid, instruments=chosen, funding=funding, depth_ts=depth_ts, depth=depth, spread=spread,
                      books=kept, exchange_marks=frozenset(marks), book_max_age_ms=ages.book,
                      feed_gaps=_feed_gaps(grid, ages, kept, marks, funding),
                      feed_ages={"book": ages.book, "mark": ages.mark, "funding": ages.funding},
                      notes=(*notes, *(() if guess is None else (guess,))))


def spot_stand_ins(catalog: Catalog, symbols: Sequence[str], timeframe: str, exchange: str | None) -> frozenset[str]:
    """Perpetual symbols whose candles the catalog recorded as spot (or partly spot) data."""
    out = set()
    for symbol in symbols:
        try:
            source = catalog.source(symbol, DataKind.CANDLES, timeframe, exchange=exchange)
        except CatalogError:
            continue
        if source is not None and source.stand_in_note(symbol) is not None:
            out.add(symbol)
    return frozenset(out)


def source_notes(catalog: Catalog, symbols: Sequence[str], timeframe: str, exchange: str | None) -> list[str]:
    notes = []
    for symbol in symbols:
        try:
            source = catalog.source(symbol, DataKind.CANDLES, timeframe, exchange=exchange)
        except CatalogError:
            continue
        note = None if source is None else source.stand_in_note(symbol)
        if note is not None:
            notes.append(note)
    return notes


def catalog_instruments(catalog: Catalog, symbols: Sequence[str], exchange: str | None) -> dict[str, Instrument]:
    """The exchange's contracts for the symbols, from the markets stored in the catalog ({} if none)."""
    names = [exchange] if exchange is not None else sorted({d.exchange for d in catalog.datasets()})
    found: dict[str, Instrument] = {}
    for name in names:
        try:
            stored = stored_instruments(catalog, name, symbols)
        except MarketsError:
            continue
        found.update({s: i for s, i in stored.items() if s not in found})
    return found


@dataclass(frozen=True)
class StoredSeries:
    """A range of the catalog as stored, unaligned: each symbol's bars (symbols without bars in the range are
    left out), its exchange marks, funding and books where the catalog has them, and 1m bars beside coarser
    ones (they order a stop and a target touched in one bar). The backtest, the stress scenarios and the
    research studies read a range through this one reader."""

    bars: dict[str, BarSeries]
    funding: dict[str, FundingSeries]
    books: dict[str, BookSeries]
    marks: dict[str, BarSeries]
    finer: dict[str, BarSeries]
    venue: str
    """The exchange the candles came from (the one asked, else the catalog's)."""


def read_stored(catalog: Catalog, symbols: Sequence[str], *, timeframe: str, exchange: str | None,
                start_ms: int | None, end_ms: int | None) -> StoredSeries:
    read = {s: catalog.read_bars(s, timeframe, exchange=exchange, start_ms=start_ms, end_ms=end_ms) for s in symbols}
    bars = {s: series for s, series in read.items() if len(series)}
    if not bars:
        raise CatalogError(f"no {timeframe} bars in the requested range for {', '.join(symbols)}")
    funding: dict[str, FundingSeries] = {}
    books: dict[str, BookSeries] = {}
    marks: dict[str, BarSeries] = {}
    finer: dict[str, BarSeries] = {}
    coarser = timeframe_ms(timeframe) > timeframe_ms(FINER_TIMEFRAME)
    for symbol in bars:
        if catalog.dataset(symbol, DataKind.MARK, timeframe, exchange=exchange) is not None:
            marks[symbol] = catalog.read_bars(symbol, timeframe, exchange=exchange, start_ms=start_ms, end_ms=end_ms,
                                              kind=DataKind.MARK)
        if catalog.dataset(symbol, DataKind.FUNDING, exchange=exchange) is not None:
            funding[symbol] = catalog.read_funding(symbol, exchange=exchange, start_ms=start_ms, end_ms=end_ms)
        if catalog.dataset(symbol, DataKind.BOOK, exchange=exchange) is not None:
            books[symbol] = catalog.read_book(symbol, exchange=exchange, start_ms=start_ms, end_ms=end_ms)
        if coarser and catalog.dataset(symbol, DataKind.CANDLES, FINER_TIMEFRAME, exchange=exchange) is not None:
            finer[symbol] = catalog.read_bars(symbol, FINER_TIMEFRAME, exchange=exchange, start_ms=start_ms,
                                              end_ms=end_ms)
    info = catalog.dataset(next(iter(bars)), DataKind.CANDLES, timeframe, exchange=exchange)
    venue = exchange if exchange is not None else (info.exchange if info is not None else "binanceusdm")
    return StoredSeries(bars, funding, books, marks, finer, venue)


def load_market(catalog: Catalog, symbols: Sequence[str], *, timeframe: str, exchange: str | None,
                start_ms: int | None, end_ms: int | None,
                policy: Policy | None = None) -> tuple[dict[str, BarSeries], MarketData]:
    stored = read_stored(catalog, symbols, timeframe=timeframe, exchange=exchange, start_ms=start_ms, end_ms=end_ms)
    bars = stored.bars
    symbols = list(bars)  # an asset without bars in the range is not traded (the run's first lines say so)
    data = assemble_market(bars, stored.funding, stored.books, stored.marks, policy=policy,
                           instruments=catalog_instruments(catalog, symbols, exchange),
                           notes=source_notes(catalog, symbols, timeframe, exchange), exchange=stored.venue)
    return bars, replace(data, finer=stored.finer) if stored.finer else data
