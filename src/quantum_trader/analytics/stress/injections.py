"""Injections: pure functions from a market to a stressed market, one kind of damage each.

Each returns a new ``StressMarket`` and leaves its input untouched; series of symbols an
injection does not name are the very same objects. A scenario is a few of these in a row
(``analytics.stress.build``). None needs the engine to change: prices, books, funding and
bars are what the replay feed and the simulated venue read, so a widened book makes an exit
slip through the venue's own book walk, a removed bar is a bar the kernel never sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from quantum_trader.analytics.stress.market import StressMarket, StressMarketError, bar_log_returns
from quantum_trader.analytics.stress.shapes import Shape, ShockPath, scale_book, shock_bars, shock_book
from quantum_trader.domain.market import F64, I64, BarSeries, BookSeries, FundingSeries


def _known(market: StressMarket, symbols: Iterable[str], what: str) -> list[str]:
    names = list(symbols)
    unknown = [s for s in names if s not in market.bars]
    if unknown:
        raise StressMarketError(f"{what}: {', '.join(unknown)} not in the market ({', '.join(market.symbols)})")
    return names


# ---------------------------------------------------------------------------------------------- price shocks
def price_shock(market: StressMarket, moves: Mapping[str, float], *, at_ms: int, shape: Shape,
                duration_ms: int = 0, recovery_ms: int | None = None) -> StressMarket:
    """Each named symbol's prices (bars, marks, finer bars, book levels) moved by its own fraction along one shape.

    ``moves``: symbol -> fraction (-0.2: down 20% at the floor). The same shape and timing for all: a correlated
    shock; the differing fractions are each asset's share of it."""
    _known(market, moves, "price shock")
    bars, marks, finer, books = dict(market.bars), dict(market.marks), dict(market.finer), dict(market.books)
    for symbol, move in moves.items():
        path = ShockPath.of(shape, at_ms, move, duration_ms=duration_ms, recovery_ms=recovery_ms)
        bars[symbol] = shock_bars(bars[symbol], path)
        if symbol in marks:
            marks[symbol] = shock_bars(marks[symbol], path)
        if symbol in finer:
            finer[symbol] = shock_bars(finer[symbol], path)
        if symbol in books:
            books[symbol] = shock_book(books[symbol], path)
    return market.with_series(bars=bars, marks=marks, finer=finer, books=books)


# ---------------------------------------------------------------------------------------------- liquidity
def _widen(book: BookSeries, rows: np.ndarray, spread_mult: float, depth_mult: float) -> BookSeries:
    mid = ((book.bid_px[:, 0] + book.ask_px[:, 0]) / 2.0)[:, None]
    bid_px, ask_px = book.bid_px.copy(), book.ask_px.copy()
    bid_sz, ask_sz = book.bid_sz.copy(), book.ask_sz.copy()
    bid_px[rows] = (mid - (mid - book.bid_px) * spread_mult)[rows]
    ask_px[rows] = (mid + (book.ask_px - mid) * spread_mult)[rows]
    bid_sz[rows] *= depth_mult
    ask_sz[rows] *= depth_mult
    gone = ~(bid_px > 0)  # a level pushed to zero or below is no longer in the book
    bid_px[gone] = np.nan
    bid_sz[gone] = 0.0
    return BookSeries(book.symbol, book.ts, bid_px, bid_sz, ask_px, ask_sz)


def liquidity_drain(market: StressMarket, symbols: Iterable[str], *, start_ms: int, end_ms: int,
                    spread_mult: float, depth_mult: float) -> StressMarket:
    """Spreads widen and depth collapses over [start, end): each book level's distance to mid times
    ``spread_mult``, each size times ``depth_mult``, mid unchanged.

    A symbol without books is priced by the venue's spread-and-impact model, which reads liquidity
    from the bar's volume: there the bars' volume is scaled by ``depth_mult`` instead (its spread is one
    figure for the whole run and cannot widen; ``liquidity_channel`` says which applies)."""
    if not (spread_mult >= 1.0 and 0.0 < depth_mult <= 1.0):
        raise StressMarketError(f"liquidity drain: spread x{spread_mult} must be >= 1 and depth x{depth_mult} "
                                "in (0, 1]")
    names = _known(market, symbols, "liquidity drain")
    books, bars = dict(market.books), dict(market.bars)
    for symbol in names:
        book = books.get(symbol)
        if book is not None and len(book):
            rows = (book.ts >= start_ms) & (book.ts < end_ms)
            if rows.any():
                books[symbol] = _widen(book, rows, spread_mult, depth_mult)
            continue
        series = bars[symbol]
        rows = (series.ts >= start_ms) & (series.ts < end_ms)
        volume = np.where(rows, series.volume * depth_mult, series.volume)
        bars[symbol] = BarSeries(series.symbol, series.timeframe, series.ts, series.open, series.high,
                                 series.low, series.close, volume)
    return market.with_series(books=books, bars=bars)


def liquidity_channel(market: StressMarket, symbol: str) -> str:
    """How a liquidity drain reaches the venue for ``symbol``: 'book' or 'volume' (see ``liquidity_drain``)."""
    book = market.books.get(symbol)
    return "book" if book is not None and len(book) else "volume"


# ---------------------------------------------------------------------------------------------- funding
def funding_jump(market: StressMarket, rates: Mapping[str, float], *, start_ms: int, end_ms: int,
                 every_ms: int) -> StressMarket:
    """Funding over [start, end) replaced by settlements every ``every_ms`` at each symbol's rate.

    Exchanges shorten the funding interval when rates hit their cap (8h to 4h or 1h), so a spike is
    both a higher rate and more settlements; a positive rate is paid by longs."""
    if every_ms <= 0 or end_ms <= start_ms:
        raise StressMarketError(f"funding jump: needs every > 0 and end after start, got every {every_ms} ms, "
                                f"window {start_ms}..{end_ms}")
    names = _known(market, rates, "funding jump")
    funding = dict(market.funding)
    times = np.arange(start_ms, end_ms, every_ms, dtype=np.int64)
    for symbol in names:
        old = funding.get(symbol)
        ts = np.empty(0, dtype=np.int64) if old is None else old.ts
        rate = np.empty(0) if old is None else old.rate
        keep = (ts < start_ms) | (ts >= end_ms)
        merged_ts = np.concatenate([ts[keep], times])
        merged_rate = np.concatenate([rate[keep], np.full(times.size, float(rates[symbol]))])
        order = np.argsort(merged_ts, kind="stable")
        funding[symbol] = FundingSeries(symbol, merged_ts[order], merged_rate[order].astype(np.float64))
    return market.with_series(funding=funding)


# ---------------------------------------------------------------------------------------------- missing bars
def _cut(series: BarSeries, keep: np.ndarray) -> BarSeries:
    return BarSeries(series.symbol, series.timeframe, series.ts[keep], series.open[keep], series.high[keep],
                     series.low[keep], series.close[keep], series.volume[keep])


def _cut_book(book: BookSeries, keep: np.ndarray) -> BookSeries:
    return BookSeries(book.symbol, book.ts[keep], book.bid_px[keep], book.bid_sz[keep], book.ask_px[keep],
                      book.ask_sz[keep])


def drop_bars(market: StressMarket, symbols: Iterable[str], *, start_ms: int, end_ms: int) -> StressMarket:
    """No bars, marks or book snapshots of the symbols over [start, end): a feed gone stale, an exchange down.

    Funding still settles (exchanges settle it through outages of their trading engine)."""
    names = _known(market, symbols, "missing bars")
    bars, marks, finer, books = dict(market.bars), dict(market.marks), dict(market.finer), dict(market.books)
    for symbol in names:
        keep = (bars[symbol].ts < start_ms) | (bars[symbol].ts >= end_ms)
        if not keep.any():
            raise StressMarketError(f"missing bars: {symbol} would have no bar left")
        bars[symbol] = _cut(bars[symbol], keep)
        for kind in (marks, finer):
            if symbol in kind:
                kind[symbol] = _cut(kind[symbol], (kind[symbol].ts < start_ms) | (kind[symbol].ts >= end_ms))
        if symbol in books:
            books[symbol] = _cut_book(books[symbol], (books[symbol].ts < start_ms) | (books[symbol].ts >= end_ms))
    return market.with_series(bars=bars, marks=marks, finer=finer, books=books)


def delist(market: StressMarket, symbol: str, *, at_ms: int) -> StressMarket:
    """The contract stops trading: the bar opening at ``at_ms`` is its last (its close the settlement price);
    no bar, mark, book or funding after it."""
    _known(market, [symbol], "delisting")
    series = market.bars[symbol]
    if at_ms < int(series.ts[0]):
        raise StressMarketError(f"delisting: {symbol} has no bar at or before the delisting time")
    end = at_ms + market.step_ms
    bars, marks, finer, books = dict(market.bars), dict(market.marks), dict(market.finer), dict(market.books)
    funding = dict(market.funding)
    bars[symbol] = _cut(series, series.ts <= at_ms)
    for kind in (marks, finer):
        if symbol in kind:
            kind[symbol] = _cut(kind[symbol], kind[symbol].ts < end)
    if symbol in books:
        books[symbol] = _cut_book(books[symbol], books[symbol].ts < end)
    if symbol in funding:
        old = funding[symbol]
        keep = old.ts < end
        funding[symbol] = FundingSeries(symbol, old.ts[keep], old.rate[keep])
    return market.with_series(bars=bars, marks=marks, finer=finer, books=books, funding=funding)


# ---------------------------------------------------------------------------------------------- correlation
def market_betas(market: StressMarket, leader: str, *, exponent: float = 0.7, bounds: tuple[float, float] = (0.5, 2.0)
                 ) -> dict[str, float]:
    """Each symbol's share of a market-wide move, from its own volatility against the leader's:
    ``(vol / leader vol) ** exponent``, within ``bounds`` (alts fall harder, but less than their vol ratio)."""
    _known(market, [leader], "betas")
    vols = {s: float(np.nanstd(bar_log_returns(b))) for s, b in market.bars.items()}
    base = vols[leader]
    out = {}
    for symbol, vol in vols.items():
        ratio = vol / base if base > 0 and np.isfinite(vol) and vol > 0 else 1.0
        out[symbol] = 1.0 if symbol == leader else float(np.clip(ratio ** exponent, *bounds))
    return out


def _aligned(leader: BarSeries, ts: I64) -> tuple[F64, F64, F64, F64]:
    """The leader's bar at each time of ``ts``; where it has none, a flat bar at its last close."""
    idx = np.searchsorted(leader.ts, ts, side="right") - 1
    safe = np.clip(idx, 0, None)
    exact = (idx >= 0) & (leader.ts[safe] == ts)
    close = np.where(idx >= 0, leader.close[safe], leader.open[0])
    cols = [np.where(exact, col[safe], close) for col in (leader.open, leader.high, leader.low)]
    return cols[0], cols[1], cols[2], close


def _ratio_at(ts: I64, series: BarSeries, new_close: F64, query: I64) -> F64:
    """The new-over-old close ratio of the bar holding each query time (1 before the first changed bar)."""
    ratio = new_close / series.close
    idx = np.searchsorted(ts, query, side="right") - 1
    return np.where(idx >= 0, ratio[np.clip(idx, 0, None)], 1.0)


def _follow(series: BarSeries, leader: BarSeries, beta: float, start_ms: int, end_ms: int) -> tuple[BarSeries, F64]:
    """One symbol's bars in the window rebuilt from the leader's returns times ``beta``, and after the window
    the old bars times the level reached; also the new closes (for marks and books)."""
    ts = series.ts
    window = np.flatnonzero((ts >= start_ms) & (ts < end_ms))
    if window.size == 0:
        return series, series.close
    k0, k1 = int(window[0]), int(window[-1]) + 1
    lo, lh, ll, lc = _aligned(leader, ts[k0:k1])
    before = np.searchsorted(leader.ts, ts[k0], side="left") - 1
    base_leader = float(leader.close[before]) if before >= 0 else float(lo[0])
    base = float(series.close[k0 - 1]) if k0 > 0 else float(series.open[k0])
    close = base * np.exp(beta * (np.log(lc) - np.log(base_leader)))
    prev_close = np.concatenate([[base], close[:-1]])
    prev_leader = np.concatenate([[base_leader], lc[:-1]])
    open_ = prev_close * np.exp(beta * np.log(lo / prev_leader))
    top, bottom = np.maximum(open_, close), np.minimum(open_, close)
    high = top * np.exp(beta * np.log(lh / np.maximum(lo, lc)))
    low = bottom * np.exp(beta * np.log(ll / np.minimum(lo, lc)))
    level = float(close[-1] / series.close[k1 - 1])
    cols = []
    for old, new in ((series.open, open_), (series.high, high), (series.low, low), (series.close, close)):
        out = old.copy()
        out[k0:k1] = new
        out[k1:] *= level
        cols.append(out)
    return BarSeries(series.symbol, series.timeframe, ts, cols[0], cols[1], cols[2], cols[3], series.volume), cols[3]


def follow_leader(market: StressMarket, leader: str, symbols: Iterable[str], *, start_ms: int, end_ms: int,
                  betas: Mapping[str, float] | None = None) -> StressMarket:
    """Correlation goes to one: over [start, end) each symbol's log returns are the leader's times its beta
    (1 by default), so every pair moves as one; afterwards each keeps its own returns from the level reached.
    Marks, finer bars and books follow each bar's new-over-old close ratio."""
    names = [s for s in _known(market, symbols, "correlation to one") if s != leader]
    _known(market, [leader], "correlation to one")
    bars, marks, finer, books = dict(market.bars), dict(market.marks), dict(market.finer), dict(market.books)
    lead = market.bars[leader]
    for symbol in names:
        old = bars[symbol]
        new, new_close = _follow(old, lead, 1.0 if betas is None else betas[symbol], start_ms, end_ms)
        bars[symbol] = new

        def moved(query: I64, old: BarSeries = old, new_close: F64 = new_close) -> F64:
            return _ratio_at(old.ts, old, new_close, query)

        for kind in (marks, finer):
            if symbol in kind:
                s = kind[symbol]
                r = moved(s.ts)
                kind[symbol] = BarSeries(s.symbol, s.timeframe, s.ts, s.open * r, s.high * r, s.low * r,
                                         s.close * r, s.volume)
        if symbol in books and len(books[symbol]):
            books[symbol] = scale_book(books[symbol], np.log(moved(books[symbol].ts)))
    return market.with_series(bars=bars, marks=marks, finer=finer, books=books)
