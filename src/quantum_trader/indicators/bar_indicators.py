"""The per-asset indicators, each defined once with a batch and an incremental form.

An indicator object holds only its parameters. ``batch(...)`` maps whole arrays to whole
arrays (backtests, research); ``stream()`` returns a fresh state whose ``update(...)``
takes one bar and returns the value the batch form gives at that bar (live). Both forms
use the same formulas and the window sums of :mod:`quantum_trader.indicators.rolling`, and a
test on real Binance data holds them equal to 1e-9. Every value at bar ``t`` uses bars
``<= t`` only (tests truncate the input at random ``t`` to prove it).

Returns are log returns: they add over time, so a 24h return is the sum of its hourly
returns and its volatility scales with ``sqrt(bars)``, which is what lets
:mod:`quantum_trader.signals.features` turn a trend into a z-score.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import numpy.typing as npt

from quantum_trader.indicators.rolling import ScalarRollingSums, ewm, mean_std_from_sums, rolling_sum

F64 = npt.NDArray[np.float64]
NAN = float("nan")


def _f64(x: npt.ArrayLike) -> F64:
    return np.asarray(x, dtype=np.float64)


class LogReturn:
    """``log(close[t] / close[t - lag])``; NaN for the first ``lag`` bars."""

    def __init__(self, lag: int) -> None:
        if lag < 1:
            raise ValueError(f"log return lag must be >= 1 bar, got {lag}")
        self.lag = int(lag)

    def batch(self, close: npt.ArrayLike) -> F64:
        c = _f64(close)
        out = np.full(c.shape, np.nan)
        if c.size > self.lag:
            out[self.lag :] = np.log(c[self.lag :] / c[: -self.lag])
        return out

    def stream(self) -> LogReturnState:
        return LogReturnState(self.lag)


class LogReturnState:
    __slots__ = ("_closes", "lag")

    def __init__(self, lag: int) -> None:
        self.lag = lag
        self._closes: deque[float] = deque(maxlen=lag + 1)

    def update(self, close: float) -> float:
        self._closes.append(close)
        if len(self._closes) <= self.lag:
            return NAN
        return math.log(close / self._closes[0])


class RollingMoments:
    """Rolling mean and sample standard deviation over ``window`` values.

    The incremental form skips NaN inputs (a warm-up value of an upstream indicator)
    exactly as the batch form does: NaNs are only allowed as a leading run.
    """

    def __init__(self, window: int) -> None:
        if window < 2:
            raise ValueError(f"rolling moments need a window of >= 2 values, got {window}")
        self.window = int(window)

    def batch(self, x: npt.ArrayLike) -> tuple[F64, F64]:
        arr = _f64(x)
        mean = np.full(arr.shape, np.nan)
        std = np.full(arr.shape, np.nan)
        finite = np.isfinite(arr)
        start = int(np.argmax(finite)) if finite.any() else arr.size
        body = arr[start:]
        if body.size and not np.isfinite(body).all():
            bad = start + int(np.argmin(np.isfinite(body)))
            raise ValueError(f"rolling moments: non-finite value at row {bad} after the warm-up")
        sums = rolling_sum(np.stack([body, body * body], axis=1), self.window)
        m, s = mean_std_from_sums(float(self.window), sums[:, 0], sums[:, 1])
        mean[start:], std[start:] = m, s
        return mean, std

    def stream(self) -> RollingMomentsState:
        return RollingMomentsState(self.window)


class RollingMomentsState:
    __slots__ = ("_n", "_sums")

    def __init__(self, window: int) -> None:
        self._sums = ScalarRollingSums(window, 2)
        self._n = float(window)

    def update(self, x: float) -> tuple[float, float]:
        if x != x:
            return NAN, NAN
        sums = self._sums.update((x, x * x))
        if sums is None:
            return NAN, NAN
        mean = sums[0] / self._n
        var = (sums[1] - sums[0] * mean) / (self._n - 1.0)
        return mean, math.sqrt(var) if var > 0.0 else 0.0


class ATR:
    """Average true range with Wilder's smoothing (``alpha = 1 / period``).

    The first bar's true range is its high - low (there is no previous close); values
    are NaN until ``period`` bars have been seen, so a stop is never set from one bar.
    """

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"ATR period must be >= 1 bar, got {period}")
        self.period = int(period)

    def batch(self, high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> F64:
        h, lo, c = _f64(high), _f64(low), _f64(close)
        prev = np.concatenate([c[:1], c[:-1]])
        tr = np.maximum(h, prev) - np.minimum(lo, prev)
        if tr.size:
            tr[0] = h[0] - lo[0]
        out = ewm(tr, 1.0 / self.period)
        out[: self.period - 1] = np.nan
        return out

    def stream(self) -> ATRState:
        return ATRState(self.period)


class ATRState:
    __slots__ = ("_alpha", "_beta", "_count", "_prev_close", "_value", "period")

    def __init__(self, period: int) -> None:
        self.period = period
        self._alpha = 1.0 / period
        self._beta = 1.0 - self._alpha
        self._prev_close = NAN
        self._value = NAN
        self._count = 0

    def update(self, high: float, low: float, close: float) -> float:
        pc = self._prev_close
        tr = high - low if pc != pc else max(high, pc) - min(low, pc)
        v = self._value
        self._value = tr if v != v else self._alpha * tr + self._beta * v
        self._prev_close = close
        self._count += 1
        return self._value if self._count >= self.period else NAN


class VolumeZScore:
    """Z-score of ``log(1 + volume)`` against its rolling mean and std over ``window`` bars.

    Logs tame the heavy right tail of volume, so one liquidation cascade does not make
    every other bar of the window look quiet; the current bar is part of its baseline.
    A window of identical volumes has no spread: its z-score is 0, not a division by 0.
    """

    def __init__(self, window: int) -> None:
        self.moments = RollingMoments(window)

    def batch(self, volume: npt.ArrayLike) -> F64:
        lv = np.log1p(_f64(volume))
        mean, std = self.moments.batch(lv)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(std > 0.0, (lv - mean) / np.where(std > 0.0, std, 1.0), 0.0)
        return np.where(np.isnan(mean), np.nan, z)

    def stream(self) -> VolumeZScoreState:
        return VolumeZScoreState(self.moments.window)


class VolumeZScoreState:
    __slots__ = ("_moments",)

    def __init__(self, window: int) -> None:
        self._moments = RollingMomentsState(window)

    def update(self, volume: float) -> float:
        lv = math.log1p(volume)
        mean, std = self._moments.update(lv)
        if mean != mean:
            return NAN
        return (lv - mean) / std if std > 0.0 else 0.0
