"""A position's exit at the simulated exchange: where it happens inside one bar, and the first bar that reaches it.

Pure functions of the bars, the position's side, its resting exits (``Protection``) and its liquidation
price; the exchange asks them for each position it holds. Inside a bar the adverse level nearer the price
(a long's higher one of liquidation and stop) is crossed first, and a bar touching both the stop and the
take-profit takes the stop unless finer bars say the target came first (``matching``). Over a stretch, the
first bar reaching the nearer adverse level is one scan, and a take-profit is looked for only before it.
"""

from __future__ import annotations

import numpy as np

from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.market import BarSeries
from quantum_trader.venues.simulated.book import (
    ADVERSE_LIQUIDATION,
    ADVERSE_STOP,
    TARGET,
    Protection,
    RestingLimit,
    first_hit,
    limit_fill_offset,
)
from quantum_trader.venues.simulated.matching import ExitKind, first_touch, stop_fill, target_fill

Exit = tuple[int, int, str, ExitKind | None, float]
"""(priority, column, symbol, kind, price) of a position's exit in a bar; the lowest (priority, column) goes first."""


def exit_in_bar(chunk: MarketChunk, row: int, col: int, symbol: str, long: bool, protection: Protection,
                liquidation: float | None, finer: BarSeries | None) -> Exit | None:
    """The position's exit in bar ``row`` (a bar of its symbol), or None."""
    bar = (float(chunk.open[row, col]), float(chunk.high[row, col]), float(chunk.low[row, col]))
    stop = protection.stop_price
    target = protection.target_price
    if target is not None and int(chunk.ts[row]) < protection.target_from:
        target = None
    adverse = []
    if liquidation is not None and ((bar[2] <= liquidation) if long else (bar[1] >= liquidation)):
        adverse.append((liquidation, ADVERSE_LIQUIDATION))
    if stop is not None and ((bar[2] <= stop) if long else (bar[1] >= stop)):
        adverse.append((stop, ADVERSE_STOP))
    if adverse:
        # Within one bar the adverse level nearer the price is crossed first (a long's higher one).
        level, priority = max(adverse) if long else min(adverse)
        if priority == ADVERSE_STOP and target is not None and _target_first(chunk, row, long, level, target, bar,
                                                                              finer):
            return (TARGET, col, symbol, None, target)
        gap = stop_fill(long, level, *bar)
        price = level if gap is None else gap.price
        kind = None if priority == ADVERSE_LIQUIDATION else (gap.kind if gap is not None else ExitKind.STOP)
        return (priority, col, symbol, kind, price)
    if target is not None and target_fill(long, target, *bar) is not None:
        return (TARGET, col, symbol, None, target)
    return None


def _target_first(chunk: MarketChunk, row: int, long: bool, stop: float, target: float,
                  bar: tuple[float, float, float], finer: BarSeries | None) -> bool:
    """A bar touched both: the finer bars inside it, when loaded, say whether the target came first."""
    if finer is None or target_fill(long, target, *bar) is None:
        return False
    lo, hi = np.searchsorted(finer.ts, [int(chunk.ts[row]), int(chunk.ts[row]) + chunk.step])
    first = first_touch(long, stop, target, finer.open[lo:hi], finer.high[lo:hi], finer.low[lo:hi])
    return first is not None and first.kind in (ExitKind.TARGET, ExitKind.TARGET_GAP)


def first_exit_row(chunk: MarketChunk, col: int, long: bool, protection: Protection, liquidation: float | None,
                   start: int, stop: int) -> int:
    """The first row in [start, stop) where the position's liquidation, stop or take-profit is reached (``stop``
    if none)."""
    found = stop
    stop_price = protection.stop_price
    # A bar reaching either adverse level reaches the nearer one (a long's higher, a short's lower): one scan
    level = stop_price if liquidation is None else liquidation if stop_price is None else (
        max(liquidation, stop_price) if long else min(liquidation, stop_price))
    if level is not None:
        hit = (first_hit(chunk.low[start:stop, col], level, above=False) if long
               else first_hit(chunk.high[start:stop, col], level, above=True))
        if hit >= 0:
            found = start + hit
    target = protection.target_price
    if target is not None and found > start:  # (a take-profit after the adverse hit changes nothing)
        skip = max(0, int(np.searchsorted(chunk.ts[start:found], protection.target_from, side="left")))
        hit = (first_hit(chunk.high[start + skip:found, col], target, above=True) if long
               else first_hit(chunk.low[start + skip:found, col], target, above=False))
        if hit >= 0:
            found = start + skip + hit
    return found


def first_limit_row(chunk: MarketChunk, limit: RestingLimit, start: int, stop: int, *, through: bool) -> int:
    """The first row in [start, stop) where a resting limit fills, or where it expires (``stop`` if neither)."""
    end = stop
    if limit.expire_ts is not None:
        end = min(stop, start + int(np.searchsorted(chunk.ts[start:stop], limit.expire_ts, side="left")))
    hit = limit_fill_offset(limit, chunk.high[start:end, limit.column], chunk.low[start:end, limit.column],
                            through=through)
    if hit >= 0:
        return start + hit
    return end
