"""Block-bootstrap resampling of a market: new paths made of the market's own days, in another order.

A Monte Carlo run over one market path learns about that path only. Resampling whole blocks
of days (``block_days`` in a row, blocks drawn with replacement) keeps what one day holds:
the intraday shape of every bar, the volatility clustering within the block, every asset's
move on the same day (so the cross-asset correlation of that day), the books and the funding
settled then. Each day keeps its time of day (funding stays at its hours) and is moved to its
new date; its prices are rescaled so that the new path is continuous: the first bar of each
day continues from the last close before it, exactly as the source day continued from its own.
"""

from __future__ import annotations

import numpy as np

from quantum_trader.analytics.stress.market import StressMarket, StressMarketError
from quantum_trader.domain.market import F64, I64, BarSeries, BookSeries, FundingSeries
from quantum_trader.domain.time import MS_PER_DAY


def day_order(days: int, block_days: int, rng: np.random.Generator) -> I64:
    """Source day of each new day: blocks of ``block_days`` consecutive days, starts drawn uniformly."""
    if days < 1 or block_days < 1:
        raise StressMarketError(f"bootstrap: needs at least one day and a block of one, got {days}, {block_days}")
    block = min(block_days, days)
    starts = rng.integers(0, days - block + 1, size=-(-days // block))
    order = (starts[:, None] + np.arange(block)[None, :]).ravel()[:days]
    return np.asarray(order, dtype=np.int64)


def _day_bounds(ts: I64, origin: int, days: int) -> I64:
    """Row bounds of each day of ``ts`` (sorted): rows of day d are ``bounds[d]:bounds[d + 1]``."""
    return np.asarray(np.searchsorted(ts, origin + np.arange(days + 1, dtype=np.int64) * MS_PER_DAY, side="left"),
                      dtype=np.int64)


def _levels(series: BarSeries, order: I64, origin: int) -> F64:
    """Per new day, the factor its source day's prices are multiplied by (continuity of the close)."""
    days = order.size
    bounds = _day_bounds(series.ts, origin, days)
    factor = np.ones(days)
    level = float(series.open[0])  # where the new path stands before each new day
    for new, src in enumerate(order.tolist()):
        lo, hi = int(bounds[src]), int(bounds[src + 1])
        if hi <= lo:  # the asset has no bar that day: its level carries
            factor[new] = factor[new - 1] if new else 1.0
            continue
        base = float(series.close[lo - 1]) if lo > 0 else float(series.open[lo])
        factor[new] = level / base
        level = float(series.close[hi - 1]) * factor[new]
    return factor


def _remap(ts: I64, order: I64, origin: int) -> tuple[I64, I64, I64]:
    """(rows to take, in new order; their new times; the new day of each)."""
    bounds = _day_bounds(ts, origin, order.size)
    rows, new_ts, new_day = [], [], []
    for new, src in enumerate(order.tolist()):
        take = np.arange(bounds[src], bounds[src + 1], dtype=np.int64)
        rows.append(take)
        new_ts.append(ts[take] + (new - src) * MS_PER_DAY)
        new_day.append(np.full(take.size, new, dtype=np.int64))
    return np.concatenate(rows), np.concatenate(new_ts).astype(np.int64), np.concatenate(new_day)


def _bars(series: BarSeries, order: I64, origin: int, factor: F64) -> BarSeries:
    rows, ts, day = _remap(series.ts, order, origin)
    f = factor[day]
    return BarSeries(series.symbol, series.timeframe, ts, series.open[rows] * f, series.high[rows] * f,
                     series.low[rows] * f, series.close[rows] * f, series.volume[rows])


def resample_market(market: StressMarket, rng: np.random.Generator, *, block_days: int = 1) -> StressMarket:
    """A market of the same length made of the source's days in blocks (see the module docstring).

    Days are counted from the first bar's open, so a market that does not start at midnight keeps its hours."""
    origin = market.start_ms
    days = -(-(market.end_ms - origin) // MS_PER_DAY)
    order = day_order(days, block_days, rng)
    bars, marks, finer, books, funding = {}, {}, {}, {}, {}
    for symbol, series in market.bars.items():
        factor = _levels(series, order, origin)
        bars[symbol] = _bars(series, order, origin, factor)
        if symbol in market.marks:
            marks[symbol] = _bars(market.marks[symbol], order, origin, factor)
        if symbol in market.finer:
            finer[symbol] = _bars(market.finer[symbol], order, origin, factor)
        if symbol in market.books:
            book = market.books[symbol]
            rows, ts, day = _remap(book.ts, order, origin)
            f = factor[day][:, None]
            books[symbol] = BookSeries(symbol, ts, book.bid_px[rows] * f, book.bid_sz[rows], book.ask_px[rows] * f,
                                       book.ask_sz[rows])
        if symbol in market.funding:
            old = market.funding[symbol]
            rows, ts, _ = _remap(old.ts, order, origin)
            funding[symbol] = FundingSeries(symbol, ts, old.rate[rows])
    empty = [s for s, b in bars.items() if len(b) == 0]
    if empty:
        raise StressMarketError(f"bootstrap: the resampled days hold no bars of {', '.join(empty)}")
    return market.with_series(bars=bars, marks=marks, finer=finer, books=books, funding=funding)
