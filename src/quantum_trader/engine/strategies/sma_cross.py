"""backtesting.py's classic SmaCross, bar by bar (``on_bar``) and in batch (``prepare``, its accelerator).

On every cross, close what is held and enter the cross's way: a fast SMA crossing above the slow
one closes any position and opens a long; crossing below closes and opens a short. A cross in the
direction already held (possible when the averages touch and part again) closes and reopens too,
exactly as the reference does, so the two engines trade the same bars.

Both paths compute the averages exactly as pandas' rolling mean does (the batch calls it, the
incremental path repeats its running sum step by step), so they see the same crosses even where
the averages nearly touch: a test holds them equal at every decision.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantum_trader.config import Policy
from quantum_trader.domain.market import F64, I64, BarSeries
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.domain.trading import Intent, Side
from quantum_trader.engine.strategy import Decision, Held, StrategyView, Subscription
from quantum_trader.signals.pipeline import union_clock

_LONG = Side.LONG
_SHORT = Side.SHORT

SOURCE = "sma-cross"
_CROSS_REASONS = {_LONG: ("sma cross long",), _SHORT: ("sma cross short",)}

TIE_RTOL = 1e-12
"""Averages closer than this, relative to their size, are equal: a rolling mean carries float error of
about the window length times 1e-16, so "equal" must not depend on that noise (or on the price scale)."""


def sma(values: F64, window: int) -> F64:
    """Simple moving average, NaN until ``window`` values exist.

    Computed by pandas' rolling mean, bit for bit what backtesting.py's reference SMA
    gives, so the two engines see the same crosses even where the averages nearly touch
    (a plain running sum would drift by ~1e-6 over a year of minutes and could flip such a cross).
    """
    return pd.Series(values).rolling(window).mean().to_numpy(dtype=np.float64)


class RollingMean:
    """pandas' rolling mean one value at a time, bit for bit: O(1) per value.

    pandas keeps a Kahan-compensated running sum (one compensation for the values added, one for
    those removed), counts negatives so a sum of positives never reads below 0, and returns the value
    itself when the whole window is one repeated value. The same float operations in the same order
    give the same double, so the incremental crosses are the batch's (tested against pandas).
    """

    __slots__ = ("_add", "_neg", "_nobs", "_prev", "_remove", "_same", "_sum", "_values", "window")

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError(f"rolling mean: window must be >= 1, got {window}")
        self.window = window
        self._values: deque[float] = deque()
        self._sum = self._add = self._remove = 0.0
        self._nobs = self._neg = self._same = 0
        self._prev = math.nan

    def update(self, value: float) -> float:
        """The mean of the last ``window`` values with ``value`` added (NaN until there are ``window``)."""
        if self.window == 1:  # pandas starts a one-value window afresh: the mean is the value
            return value
        values = self._values
        if not values:
            self._prev = value
        if len(values) == self.window:
            old = values.popleft()
            self._nobs -= 1
            y = -old - self._remove
            t = self._sum + y
            self._remove = t - self._sum - y
            self._sum = t
            self._neg -= math.copysign(1.0, old) < 0
        values.append(value)
        self._nobs += 1
        y = value - self._add
        t = self._sum + y
        self._add = t - self._sum - y
        self._sum = t
        self._neg += math.copysign(1.0, value) < 0
        self._same = self._same + 1 if value == self._prev else 1
        self._prev = value
        if self._nobs < self.window:
            return math.nan
        mean = self._sum / self._nobs
        if self._same >= self._nobs:
            return self._prev
        if (self._neg == 0 and mean < 0) or (self._neg == self._nobs and mean > 0):
            return 0.0
        return mean


def compare(fast: F64, slow: F64) -> tuple[np.ndarray, np.ndarray]:
    """(fast above slow, fast below slow), with values equal within ``TIE_RTOL`` counted as neither.

    A cross is "below, then above" (or the reverse) on two consecutive bars, as backtesting.py's
    ``crossover`` has it; a bar where the averages are equal is neither, so a touch that parts
    the way it came is no cross, and one that parts the other way crosses on the bar after the
    touch only if the averages were strictly on one side the bar before.
    """
    tolerance = TIE_RTOL * np.maximum(np.abs(fast), np.abs(slow))
    with np.errstate(invalid="ignore"):
        return fast - slow > tolerance, slow - fast > tolerance


class _Crossing:
    """One symbol's averages and which side the fast one was on at the last bar."""

    __slots__ = ("_above", "_below", "fast", "slow")

    def __init__(self, fast: int, slow: int) -> None:
        self.fast, self.slow = RollingMean(fast), RollingMean(slow)
        self._above = self._below = False

    def update(self, close: float) -> Side | None:
        """The cross this close makes, if any (``compare`` on one bar: NaN compares as neither)."""
        fast, slow = self.fast.update(close), self.slow.update(close)
        above = below = False
        if fast == fast and slow == slow:
            tolerance = TIE_RTOL * max(abs(fast), abs(slow))
            above, below = fast - slow > tolerance, slow - fast > tolerance
        side = _LONG if self._below and above else _SHORT if self._above and below else None
        self._above, self._below = above, below
        return side


def _intent(ts: int, symbol: str, side: Side, close: float) -> Intent:
    return Intent(ts, symbol, side, 1.0, close, None, source=SOURCE, reasons=_CROSS_REASONS[side])


class SmaCrossStrategy:
    """The reference strategy for comparisons with other engines (backtesting.py's SmaCross)."""

    name = "sma-cross"

    def __init__(self, fast: int = 10, slow: int = 30) -> None:
        if not 0 < fast < slow:
            raise ValueError(f"sma-cross: need 0 < fast < slow, got fast={fast}, slow={slow}")
        self.fast, self.slow = fast, slow
        self._crossing: dict[str, _Crossing] = {}

    # ------------------------------------------------------------------ bar by bar
    def start(self, symbols: tuple[str, ...], timeframe: str, policy: Policy) -> Subscription:
        """On the market's own bars; no correlation monitor (backtesting.py has none)."""
        self._crossing = {s: _Crossing(self.fast, self.slow) for s in symbols}
        return Subscription(timeframe, lookback=1, correlation=False)

    def on_bar(self, view: StrategyView) -> Decision:
        intents = []
        for symbol in view.symbols:
            if symbol not in view.closed:
                continue
            bar = view.bars[symbol].last()
            side = self._crossing[symbol].update(bar.close)
            if side is not None:
                intents.append(_intent(bar.ts, symbol, side, bar.close))
        crossed = {i.symbol for i in intents}
        return Decision(intents, [(symbol, "signal") for symbol in view.held if symbol in crossed])

    # ------------------------------------------------------------------ the batch accelerator
    def prepare(self, bars: Mapping[str, BarSeries], policy: Policy) -> SmaCrossDecisions:
        """Crosses of each symbol on its own bars, placed on the union of the bar times."""
        step = timeframe_ms(next(iter(bars.values())).timeframe)
        ts = union_clock([b.ts for b in bars.values()])
        long_cross, short_cross, close = {}, {}, {}
        any_cross = np.zeros(ts.shape, dtype=bool)
        for symbol, series in bars.items():
            above, below = compare(sma(series.close, self.fast), sma(series.close, self.slow))
            rows = np.searchsorted(ts, series.ts)
            long_cross[symbol] = np.zeros(ts.shape, dtype=bool)
            short_cross[symbol] = np.zeros(ts.shape, dtype=bool)
            long_cross[symbol][rows] = np.r_[False, below[:-1]] & above
            short_cross[symbol][rows] = np.r_[False, above[:-1]] & below
            close[symbol] = np.full(ts.shape, np.nan)
            close[symbol][rows] = series.close
            any_cross |= long_cross[symbol] | short_cross[symbol]
        return SmaCrossDecisions(tuple(bars), ts + step, long_cross, short_cross, close, ts,
                                 np.flatnonzero(any_cross).astype(np.int64))


@dataclass(frozen=True)
class SmaCrossDecisions:
    """The crosses of a whole history, read by decision index (``SmaCrossStrategy.prepare``)."""

    symbols: tuple[str, ...]
    close_ts: I64
    long_cross: Mapping[str, np.ndarray]
    short_cross: Mapping[str, np.ndarray]
    close: Mapping[str, F64]
    ts: I64
    crossing: I64
    """Decision indices with a cross on any symbol: nothing can happen at the others."""

    def active(self) -> I64:
        return self.crossing

    def intents(self, k: int) -> list[Intent]:
        out = []
        for symbol in self.symbols:
            long = bool(self.long_cross[symbol][k])
            if long or self.short_cross[symbol][k]:
                out.append(_intent(int(self.ts[k]), symbol, _LONG if long else _SHORT,
                                   float(self.close[symbol][k])))
        return out

    def exits(self, k: int, held: Mapping[str, Held]) -> list[tuple[str, str]]:
        return [(symbol, "signal") for symbol in held if self.long_cross[symbol][k] or self.short_cross[symbol][k]]

    def correlation(self, k: int) -> F64 | None:
        return None

    def correlation_time(self, k: int) -> int | None:
        return None
