"""Bars to longer bars (1m -> 5m -> 1h, any whole multiple), vectorised on bucket boundaries.

Buckets are aligned to the UTC epoch and LEFT-labelled (a 1h bar stamped 10:00 covers
10:00 <= t < 11:00), which is how exchanges stamp candles, so a resampled 1h bar equals
the exchange's own 1h bar. Weekly buckets therefore start on Thursdays (the epoch's
weekday); use 7d-free frames if you need Monday weeks.

The trailing bucket is dropped by default when its last source bar is not in yet: a
half-formed 1h bar would otherwise look like a real, oddly quiet hour to every signal.
Interior buckets with missing source bars (exchange outages) are kept with what they have;
the quality check reports those gaps. Empty buckets produce no bar at all.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from quantum_trader.domain.market import BarSeries, TradeFlowSeries
from quantum_trader.domain.time import timeframe_ms

__all__ = ["ResampleError", "bucket_starts", "resample_bars", "resample_trade_flow"]


class ResampleError(ValueError):
    """A target timeframe that is not a whole multiple of the source."""


def _factor(symbol: str, source: str, target: str) -> tuple[int, int]:
    src, dst = timeframe_ms(source), timeframe_ms(target)
    if dst < src or dst % src:
        raise ResampleError(
            f"{symbol}: cannot resample {source} to {target}; the target must be a whole multiple of {source}"
        )
    return src, dst


def bucket_starts(
    ts: npt.NDArray[np.int64], source_ms: int, target_ms: int, *, keep_partial: bool = False
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], int]:
    """(index of each bucket's first row, bucket open times, rows used) for sorted ``ts``.

    ``rows used`` is ``ts.size`` unless the incomplete trailing bucket was dropped.
    """
    if ts.size == 0:
        return np.empty(0, np.intp), np.empty(0, np.int64), 0
    bucket = ts - ts % target_ms
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    labels = bucket[starts]
    used = int(ts.size)
    if not keep_partial and ts[-1] + source_ms < labels[-1] + target_ms:
        used = int(starts[-1])
        starts, labels = starts[:-1], labels[:-1]
    return starts, labels, used


def resample_bars(bars: BarSeries, timeframe: str, *, keep_partial: bool = False) -> BarSeries:
    """OHLCV of each bucket: first open, max high, min low, last close, summed volume."""
    src, dst = _factor(bars.symbol, bars.timeframe, timeframe)
    if src == dst:
        return bars
    starts, labels, used = bucket_starts(bars.ts, src, dst, keep_partial=keep_partial)
    if starts.size == 0:
        empty = np.empty(0, np.float64)
        return BarSeries(bars.symbol, timeframe, labels, empty, empty, empty, empty, empty)
    ends = np.r_[starts[1:], used] - 1
    return BarSeries(
        bars.symbol,
        timeframe,
        labels.astype(np.int64, copy=False),
        bars.open[starts],
        np.maximum.reduceat(bars.high[:used], starts),
        np.minimum.reduceat(bars.low[:used], starts),
        bars.close[ends],
        np.add.reduceat(bars.volume[:used], starts),
    )


def resample_trade_flow(flow: TradeFlowSeries, timeframe: str, *, keep_partial: bool = False) -> TradeFlowSeries:
    """Taker buy and sell volumes summed per bucket, same buckets as ``resample_bars``."""
    src, dst = _factor(flow.symbol, flow.timeframe, timeframe)
    if src == dst:
        return flow
    starts, labels, used = bucket_starts(flow.ts, src, dst, keep_partial=keep_partial)
    if starts.size == 0:
        empty = np.empty(0, np.float64)
        return TradeFlowSeries(flow.symbol, timeframe, labels, empty, empty)
    return TradeFlowSeries(
        flow.symbol,
        timeframe,
        labels.astype(np.int64, copy=False),
        np.add.reduceat(flow.taker_buy_volume[:used], starts),
        np.add.reduceat(flow.taker_sell_volume[:used], starts),
    )
