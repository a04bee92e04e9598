"""Closed-bar aggregation (1m -> 5m, 1h) inside the signal path, batch and incremental.

The models decide on 1h bars and the correlation monitor reads 5m closes while the feed
delivers 1m bars. A bucket is emitted only once it is closed: when its last sub-bar has
arrived or a bar of a later bucket shows up (a gap). Emitting a bucket still filling
would let a backtest see the 1h close at 10:00 that live only knows at 10:59 -- the
classic resampling look-ahead. ``data.resample`` serves the catalog; this module exists
because the signal layer may not import the data layer, and because the live path needs
the incremental form.
"""

from __future__ import annotations

import numpy as np

from quantum_trader.domain.market import Bar, BarSeries
from quantum_trader.domain.time import timeframe_ms


def _ratio(src: str, dst: str) -> tuple[int, int]:
    s, d = timeframe_ms(src), timeframe_ms(dst)
    if d % s:
        raise ValueError(f"cannot aggregate {src} bars into {dst}: {dst} is not a whole multiple of {src}")
    return s, d


def aggregate_bars(bars: BarSeries, timeframe: str) -> BarSeries:
    """Closed ``timeframe`` buckets of ``bars``; ``ts`` is each bucket's open time."""
    src, dst = _ratio(bars.timeframe, timeframe)
    ts = bars.ts
    if ts.size == 0:
        return BarSeries(bars.symbol, timeframe, ts.copy(), *(np.empty(0) for _ in range(5)))
    bucket = ts - ts % dst
    starts = np.flatnonzero(np.concatenate([[True], bucket[1:] != bucket[:-1]]))
    ends = np.concatenate([starts[1:], [ts.size]])
    last_complete = ts[-1] + src == bucket[-1] + dst
    keep = starts.size if last_complete else starts.size - 1
    return BarSeries(
        bars.symbol, timeframe, bucket[starts][:keep],
        bars.open[starts][:keep],
        np.maximum.reduceat(bars.high, starts)[:keep],
        np.minimum.reduceat(bars.low, starts)[:keep],
        bars.close[ends - 1][:keep],
        np.add.reduceat(bars.volume, starts)[:keep],
    )


class BarAggregator:
    """Incremental :func:`aggregate_bars`: feed sub-bars in order, get closed buckets back."""

    __slots__ = ("_cur", "_dst", "_src", "symbol", "timeframe")

    def __init__(self, symbol: str, source_timeframe: str, timeframe: str) -> None:
        self._src, self._dst = _ratio(source_timeframe, timeframe)
        self.symbol = symbol
        self.timeframe = timeframe
        self._cur: list[float] | None = None  # bucket, open, high, low, close, volume

    def update(self, ts: int, o: float, h: float, lo: float, c: float, v: float) -> tuple[Bar, ...]:
        bucket = ts - ts % self._dst
        out: tuple[Bar, ...] = ()
        cur = self._cur
        if cur is not None and cur[0] != bucket:
            out = (self._emit(cur),)
            cur = None
        if cur is None:
            cur = [bucket, o, h, lo, c, v]
        else:
            cur[2] = max(cur[2], h)
            cur[3] = min(cur[3], lo)
            cur[4] = c
            cur[5] += v
        if ts + self._src == bucket + self._dst:
            self._cur = None
            return (*out, self._emit(cur))
        self._cur = cur
        return out

    def _emit(self, cur: list[float]) -> Bar:
        return Bar(self.symbol, self.timeframe, int(cur[0]), cur[1], cur[2], cur[3], cur[4], cur[5])
