"""The shape of a price shock in time, and how a bar, a mark or a book snapshot is moved by it.

A shock is a multiplicative path ``F(t) = exp(L(t))`` laid over the market's own prices, so
the market keeps its noise, its wicks and its spreads while the level moves. ``L`` is
piecewise linear in time:

- ``gap``: nothing before ``at``; from ``at`` on, the full move at once. The bar opening at
  ``at`` opens beyond every stop in between: a stop fills at that open (``stop_gap``);
- ``slide``: the move spread evenly over ``duration``, then held;
- ``v``: a slide, then back to the start level over ``recovery`` (a gap with a recovery is a
  flash crash: the V's floor reached at once).

A bar's open takes ``F`` at its open time, its close ``F`` at its close time, and its high
and low the highest and lowest ``F`` inside the bar, so a V's floor inside a bar still shows
as the bar's low. Only bars ending after the shock starts are touched, so a gap at a bar's
open falls between that bar and the one before: the one before closes where it did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from quantum_trader.domain.market import F64, I64, BarSeries, BookSeries
from quantum_trader.domain.time import timeframe_ms

Shape = Literal["gap", "slide", "v"]


@dataclass(frozen=True, slots=True)
class ShockPath:
    """``L(t)``: ``log_move`` reached ``duration_ms`` after ``at_ms`` (0: at once), then held, or undone
    linearly over ``recovery_ms`` when given."""

    at_ms: int
    log_move: float
    duration_ms: int = 0
    recovery_ms: int | None = None

    def __post_init__(self) -> None:
        if self.duration_ms < 0 or (self.recovery_ms is not None and self.recovery_ms <= 0):
            raise ValueError(f"shock path: duration must be >= 0 and recovery > 0, got {self.duration_ms}, "
                             f"{self.recovery_ms}")
        if not np.isfinite(self.log_move):
            raise ValueError(f"shock path: the move must be finite, got {self.log_move}")

    @classmethod
    def of(cls, shape: Shape, at_ms: int, move: float, *, duration_ms: int = 0,
           recovery_ms: int | None = None) -> ShockPath:
        """A shape by name; ``move`` is a fraction of the price (-0.2: down 20%), above -1."""
        if not move > -1.0:
            raise ValueError(f"shock path: a move of {move:.0%} would take the price to zero or below")
        if shape == "gap":
            return cls(at_ms, float(np.log1p(move)), 0, recovery_ms)
        if shape == "slide":
            return cls(at_ms, float(np.log1p(move)), max(duration_ms, 1), None)
        if recovery_ms is None:
            raise ValueError("shock path: a V needs a recovery time")
        return cls(at_ms, float(np.log1p(move)), max(duration_ms, 1), recovery_ms)

    @property
    def end_ms(self) -> int:
        """When the path stops changing."""
        return self.at_ms + self.duration_ms + (self.recovery_ms or 0)

    def breakpoints(self) -> tuple[int, ...]:
        points = [self.at_ms, self.at_ms + self.duration_ms]
        if self.recovery_ms is not None:
            points.append(self.end_ms)
        return tuple(points)

    def value(self, t: I64) -> F64:
        """``L`` at times ``t`` (right-continuous: at ``at`` a gap has happened)."""
        t = np.asarray(t, dtype=np.int64)
        since = (t - self.at_ms).astype(np.float64)
        if self.duration_ms > 0:
            reached = np.clip(since / self.duration_ms, 0.0, 1.0)
        else:
            reached = (since >= 0).astype(np.float64)
        out = self.log_move * reached
        if self.recovery_ms is not None:
            back = np.clip((since - self.duration_ms) / self.recovery_ms, 0.0, 1.0)
            out = np.where(since >= self.duration_ms, self.log_move * (1.0 - back), out)
        return np.asarray(out, dtype=np.float64)


def bar_factors(path: ShockPath, ts: I64, step_ms: int) -> tuple[F64, F64, F64, F64]:
    """Per bar (open times ``ts``, each ending after the path starts: see ``touched``): the log factor at its open,
    at its close, and the highest and lowest inside."""
    at_open = path.value(ts)
    at_close = path.value(ts + step_ms)
    high = np.maximum(at_open, at_close)
    low = np.minimum(at_open, at_close)
    for point in path.breakpoints():  # a kink strictly inside a bar (a V's floor) is the bar's extreme
        inside = (ts < point) & (point < ts + step_ms)
        if inside.any():
            level = float(path.value(np.array([point], dtype=np.int64))[0])
            high = np.where(inside, np.maximum(high, level), high)
            low = np.where(inside, np.minimum(low, level), low)
    return at_open, at_close, high, low


def touched(path: ShockPath, ts: I64, step_ms: int) -> np.ndarray:
    """Bars whose prices the path moves: those ending after it starts (a held move moves every later bar)."""
    after = ts + step_ms > path.at_ms
    if path.recovery_ms is None:
        return np.asarray(after)
    return np.asarray(after & (ts < path.end_ms))


def shock_bars(series: BarSeries, path: ShockPath) -> BarSeries:
    """The bars moved by the path; the high and low stay the bar's extremes (never inside open and close)."""
    step = timeframe_ms(series.timeframe)
    rows = touched(path, series.ts, step)
    if not rows.any():
        return series
    lo, lc, lh, ll = bar_factors(path, series.ts[rows], step)
    open_, high, low, close = (a.copy() for a in (series.open, series.high, series.low, series.close))
    o = series.open[rows] * np.exp(lo)
    c = series.close[rows] * np.exp(lc)
    open_[rows] = o
    close[rows] = c
    high[rows] = np.maximum(series.high[rows] * np.exp(lh), np.maximum(o, c))
    low[rows] = np.minimum(series.low[rows] * np.exp(ll), np.minimum(o, c))
    return BarSeries(series.symbol, series.timeframe, series.ts, open_, high, low, close, series.volume)


def scale_book(book: BookSeries, log_factor: F64) -> BookSeries:
    """Every price of each snapshot times ``exp(log_factor)`` (one per snapshot); sizes unchanged."""
    factor = np.exp(log_factor)[:, None]
    return BookSeries(book.symbol, book.ts, book.bid_px * factor, book.bid_sz, book.ask_px * factor, book.ask_sz)


def shock_book(book: BookSeries, path: ShockPath) -> BookSeries:
    """A snapshot is the book at its own instant: it moves with the path's value then."""
    if len(book) == 0:
        return book
    return scale_book(book, path.value(book.ts))
