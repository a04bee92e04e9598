"""Strategies as the kernel sees them: decisions precomputed in batch, read by index.

Signals are computed once over the whole history before the loop (the signals layer
proves its batch output equal to its live, bar-by-bar output), so the loop only looks
up what was decided at each decision time. A decision at index k is *known* at
``close_ts[k]``: the close of the bar it was computed on, never earlier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from quantum_trader.config import Policy
from quantum_trader.data.resample import resample_bars
from quantum_trader.domain.market import F64, I64, BarSeries
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.domain.trading import Intent, Side
from quantum_trader.signals.pipeline import BatchSignals, SignalSet, union_clock


@dataclass(frozen=True, slots=True)
class Held:
    """A held position as a strategy sees it: which way, opened by which signal, at which decision."""

    side: Side
    source: str
    opened_k: int
    resting: bool = False
    """Not held yet: a limit entry resting at the venue (an exit for it cancels the order)."""


class Decisions(Protocol):
    """A strategy's decisions over a replay, precomputed in batch and read by index."""

    @property
    def close_ts(self) -> I64:
        """(D,) ascending: when each decision becomes known."""
        ...

    @property
    def symbols(self) -> tuple[str, ...]: ...

    def active(self) -> I64:
        """The decision indices at which the strategy can emit an intent or an exit, whatever is held
        (ascending; ``every_decision(self.close_ts)`` when it cannot tell). The replay skips the others: a 1m
        strategy that acts a few times a day costs a few Python steps a day, not 1,440."""
        ...

    def intents(self, k: int) -> list[Intent]: ...

    def exits(self, k: int, held: Mapping[str, Held]) -> list[tuple[str, str]]:
        """(symbol, reason) of held positions the strategy closes at decision k."""
        ...

    def correlation(self, k: int) -> F64 | None:
        """Correlation matrix known at decision k, rows/columns in ``symbols`` order."""
        ...

    def correlation_time(self, k: int) -> int | None:
        """When the matrix known at decision k was computed (None: the strategy keeps no dated matrix)."""
        ...


def every_decision(close_ts: I64) -> I64:
    """Every decision index: for a strategy that cannot tell where it will act."""
    return np.arange(int(close_ts.size), dtype=np.int64)


def active_decisions(decisions: Decisions) -> I64:
    """``decisions.active()``, checked: strictly increasing indices of existing decisions."""
    out = np.asarray(decisions.active(), dtype=np.int64)
    size = int(decisions.close_ts.size)
    if out.ndim != 1 or (out.size and (out[0] < 0 or out[-1] >= size or bool(np.any(out[1:] <= out[:-1])))):
        raise ValueError(f"decisions.active() must be strictly increasing indices in 0..{size - 1}")
    return out


class Strategy(Protocol):
    name: str

    def prepare(self, bars: Mapping[str, BarSeries], policy: Policy) -> Decisions: ...


def _on_timeframe(bars: Mapping[str, BarSeries], timeframe: str) -> dict[str, BarSeries]:
    """Each symbol's bars resampled to ``timeframe``, on its own clock (the signals take the union)."""
    return {s: (b if b.timeframe == timeframe else resample_bars(b, timeframe)) for s, b in bars.items()}


@dataclass(frozen=True)
class MultiAssetDecisions:
    """The spec's multi-asset strategy: per-asset trend models plus cross-asset signals.

    A position opened on the trend model is closed when its momentum (the model's
    volatility-normalised trend) turns against it, not on every wobble of the regime; one
    opened on a cross-asset signal is held for the signal's lookback (its
    horizon: 4h for divergence, 24h for sector momentum), then closed unless the trend
    model points its way. A trend pointing against any position closes it at once.
    """

    symbols: tuple[str, ...]
    close_ts: I64
    result: BatchSignals
    model_step: int
    corr_index: I64
    horizons: Mapping[str, int]
    corr_step: int = 0
    _intents: dict[int, list[Intent]] = field(default_factory=dict, repr=False, compare=False)
    """Intents already built, by decision: the kernel, the exits and the edge measure all ask."""

    def active(self) -> I64:
        return every_decision(self.close_ts)

    def intents(self, k: int) -> list[Intent]:
        cached = self._intents.get(k)
        if cached is None:
            cached = self._intents[k] = self.result.intents_at(k)
        return list(cached)

    def exits(self, k: int, held: Mapping[str, Held]) -> list[tuple[str, str]]:
        """Positions to close at decision k; one the same decision would reopen on the same side is held
        (closing and reopening at the same open pays two fees for nothing)."""
        out = []
        for symbol, h in held.items():
            frame = self.result.frames[symbol]
            direction = int(frame.decision.direction[k])
            momentum = float(frame.features["trend_z"][k]) * h.side.sign
            if direction == -h.side.sign or (h.source == "trend" and momentum < 0):
                out.append((symbol, "signal", h.side))
            elif h.source in self.horizons and direction != h.side.sign and k - h.opened_k >= self.horizons[h.source]:
                out.append((symbol, "horizon", h.side))
        if not out:
            return []
        reopened = {(i.symbol, i.side) for i in self.intents(k)}
        return [(symbol, reason) for symbol, reason, side in out if (symbol, side) not in reopened]

    def correlation(self, k: int) -> F64 | None:
        history = self.result.correlation
        if history is None or self.corr_index[k] < 0:
            return None
        return np.asarray(history.matrix[self.corr_index[k]], dtype=np.float64)

    def correlation_time(self, k: int) -> int | None:
        """When the matrix known at decision k was computed (its returns bar's close)."""
        history = self.result.correlation
        if history is None or self.corr_index[k] < 0:
            return None
        return int(history.ts[self.corr_index[k]]) + self.corr_step


class MultiAssetStrategy:
    name = "multi-asset"

    def prepare(self, bars: Mapping[str, BarSeries], policy: Policy) -> MultiAssetDecisions:
        signal_set = SignalSet(tuple(bars), policy)
        model_tf = policy.signals.model.timeframe
        corr_tf = policy.correlation.returns_timeframe
        have = next(iter(bars.values())).timeframe
        for name, wanted in (("correlation.returns_timeframe", corr_tf), ("signals.model.timeframe", model_tf)):
            if timeframe_ms(wanted) % timeframe_ms(have):
                raise ValueError(
                    f"the policy's {name} ({wanted}) cannot be built from {have} bars: backtest on finer bars, "
                    f"or set it to a multiple of {have} (e.g. QT__{name.upper().replace('.', '__')}={have})"
                )
        model_bars = _on_timeframe(bars, model_tf)
        corr_bars = _on_timeframe(bars, corr_tf)
        result = signal_set.batch(model_bars, corr_bars)
        step = timeframe_ms(model_tf)
        close_ts = result.ts + step
        history = result.correlation
        corr_index = np.full(close_ts.shape, -1, dtype=np.int64)
        if history is not None:
            corr_index = np.searchsorted(history.ts, close_ts - timeframe_ms(corr_tf), side="right") - 1
        cross = policy.signals.cross_asset
        horizons = {
            "btc_divergence": max(1, timeframe_ms(cross.btc_divergence.lookback) // step),
            "sector_momentum": max(1, timeframe_ms(cross.sector_momentum.lookback) // step),
        }
        return MultiAssetDecisions(tuple(bars), close_ts, result, step, corr_index, horizons, timeframe_ms(corr_tf))


_CROSS_REASONS = {Side.LONG: ("sma cross long",), Side.SHORT: ("sma cross short",)}


@dataclass(frozen=True)
class SmaCrossDecisions:
    """backtesting.py's classic SmaCross: on every cross, close what is held and enter the cross's way.

    A fast SMA crossing above the slow one closes any position and opens a long; crossing
    below closes and opens a short. A cross in the direction already held (possible when
    the averages touch and part again) closes and reopens too, exactly as the reference
    does, so the two engines trade the same bars.
    """

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
                side = Side.LONG if long else Side.SHORT
                out.append(Intent(int(self.ts[k]), symbol, side, 1.0, float(self.close[symbol][k]), None,
                                  source="sma-cross", reasons=_CROSS_REASONS[side]))
        return out

    def exits(self, k: int, held: Mapping[str, Held]) -> list[tuple[str, str]]:
        return [(symbol, "signal") for symbol in held if self.long_cross[symbol][k] or self.short_cross[symbol][k]]

    def correlation(self, k: int) -> F64 | None:
        return None

    def correlation_time(self, k: int) -> int | None:
        return None


def sma(values: F64, window: int) -> F64:
    """Simple moving average, NaN until ``window`` values exist.

    Computed by pandas' rolling mean, bit for bit what backtesting.py's reference SMA
    gives, so the two engines see the same crosses even where the averages nearly touch
    (a running cumulative sum would drift by ~1e-6 over a year of minutes and could
    flip such a cross).
    """
    return pd.Series(values).rolling(window).mean().to_numpy(dtype=np.float64)


TIE_RTOL = 1e-12
"""Averages closer than this, relative to their size, are equal: a rolling mean carries float error of
about the window length times 1e-16, so "equal" must not depend on that noise (or on the price scale)."""


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


class SmaCrossStrategy:
    """The reference strategy for comparisons with other engines (backtesting.py's SmaCross)."""

    name = "sma-cross"

    def __init__(self, fast: int = 10, slow: int = 30) -> None:
        if not 0 < fast < slow:
            raise ValueError(f"sma-cross: need 0 < fast < slow, got fast={fast}, slow={slow}")
        self.fast, self.slow = fast, slow

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
