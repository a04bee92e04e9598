"""The numbers one asset's regime detector and signal model read, batch and incremental.

All of them are dimensionless where they are compared with a threshold, so one set of
thresholds serves BTC and SOL alike:

* ``trend_z``  = log return over the asset's ``trend_lookback_hours`` divided by
  ``sigma_long * sqrt(lookback bars)``: the trend in units of the move a driftless random
  walk with the asset's own recent volatility would make over the same span.
* ``vol_ratio`` = volatility of bar returns over the trend lookback / ``sigma_long``,
  where ``sigma_long`` is the std of bar log returns over ``volatility_lookback_days``:
  volatility against the asset's own history, not against BTC's.
* ``volume_z`` = volume z-score over ``volume_zscore_window`` bars (log volume).
* ``ret1_z``   = the last bar's log return in units of ``sigma_long`` (momentum burst).
* ``atr``      = Wilder ATR over ``atr_period`` bars, in price units, for the stop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quantum_trader.config.signals import AssetModelConfig, SignalModelPolicy
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.time import MS_PER_DAY, MS_PER_HOUR, timeframe_ms
from quantum_trader.indicators.bar_indicators import (
    ATR,
    LogReturn,
    RollingMoments,
    RollingMomentsState,
    VolumeZScore,
)

F64 = npt.NDArray[np.float64]
FEATURE_NAMES: tuple[str, ...] = ("close", "atr", "trend_z", "vol_ratio", "volume_z", "ret1_z", "sigma_long")


class SignalInputError(ValueError):
    """Market data a model cannot use (non-finite or non-positive prices); names the row."""


def bars_in(span_ms: int, timeframe: str, what: str) -> int:
    """Whole number of ``timeframe`` bars in a span; a fractional count is a policy error."""
    tf = timeframe_ms(timeframe)
    if span_ms % tf:
        raise ValueError(f"{what} ({span_ms / MS_PER_HOUR:g}h) is not a whole number of {timeframe} bars")
    return span_ms // tf


@dataclass(frozen=True, slots=True)
class FeatureWindows:
    """Window lengths in bars of the model timeframe, derived once from the policy."""

    trend: int
    long: int
    volume: int
    atr: int

    @classmethod
    def from_policy(cls, asset: str, cfg: AssetModelConfig, model: SignalModelPolicy, timeframe: str) -> FeatureWindows:
        trend = bars_in(
            cfg.trend_lookback_hours * MS_PER_HOUR, timeframe, f"signals.asset_models.{asset}.trend_lookback_hours"
        )
        long = bars_in(
            model.volatility_lookback_days * MS_PER_DAY, timeframe, "signals.model.volatility_lookback_days"
        )
        if trend < 2 or long < 2:
            raise ValueError(f"{asset}: trend and volatility windows need >= 2 {timeframe} bars")
        return cls(trend=trend, long=long, volume=max(2, model.volume_zscore_window), atr=model.atr_period)


def check_bars(bars: BarSeries) -> None:
    """One clear error for the first unusable row; models never guess around bad prices.

    Volume may be missing (NaN: a chart export without it): the volume z-score is then
    unknown there and never confirms a signal, which is the conservative reading.
    """
    for name in ("open", "high", "low", "close", "volume"):
        arr = getattr(bars, name)
        bad = (~np.isfinite(arr) | (arr <= 0)) if name != "volume" else (np.isinf(arr) | (arr < 0))
        if bad.any():
            row = int(np.argmax(bad))
            raise SignalInputError(
                f"{bars.symbol} {bars.timeframe} bars: {name} at row {row} (ts {int(bars.ts[row])}) "
                f"is {arr[row]!r}; prices must be finite and > 0, volume finite and >= 0"
            )


class AssetFeatures:
    """Computes :data:`FEATURE_NAMES` for one asset with fixed windows."""

    def __init__(self, windows: FeatureWindows) -> None:
        self.windows = windows

    def batch(self, bars: BarSeries) -> dict[str, F64]:
        check_bars(bars)
        w = self.windows
        close = bars.close
        ret1 = LogReturn(1).batch(close)
        _, sigma_long = RollingMoments(w.long).batch(ret1)
        _, sigma_short = RollingMoments(w.trend).batch(ret1)
        trend = LogReturn(w.trend).batch(close)
        # a flat price history has no volatility: the ratios are undefined (NaN), not infinite
        safe = np.where(sigma_long > 0.0, sigma_long, np.nan)
        trend_z = trend / (safe * math.sqrt(w.trend))
        vol_ratio = sigma_short / safe
        ret1_z = ret1 / safe
        return {
            "close": close.copy(),
            "atr": ATR(w.atr).batch(bars.high, bars.low, close),
            "trend_z": trend_z,
            "vol_ratio": vol_ratio,
            "volume_z": VolumeZScore(w.volume).batch(bars.volume),
            "ret1_z": ret1_z,
            "sigma_long": sigma_long,
        }

    def stream(self) -> AssetFeaturesState:
        return AssetFeaturesState(self.windows)


class AssetFeaturesState:
    """Incremental features: O(1) per bar (ring buffers and compensated sums)."""

    __slots__ = ("_atr", "_long", "_ret1", "_short", "_sqrt_trend", "_trend", "_volume", "symbol")

    def __init__(self, windows: FeatureWindows, symbol: str = "") -> None:
        self.symbol = symbol
        self._ret1 = LogReturn(1).stream()
        self._trend = LogReturn(windows.trend).stream()
        self._long: RollingMomentsState = RollingMoments(windows.long).stream()
        self._short: RollingMomentsState = RollingMoments(windows.trend).stream()
        self._atr = ATR(windows.atr).stream()
        self._volume = VolumeZScore(windows.volume).stream()
        self._sqrt_trend = math.sqrt(windows.trend)

    def update(
        self, ts: int, high: float, low: float, close: float, volume: float
    ) -> tuple[float, float, float, float, float, float, float]:
        """One closed bar in; the features in :data:`FEATURE_NAMES` order out."""
        if not (close > 0 and high > 0 and low > 0 and volume >= 0 and math.isfinite(high + low + close + volume)):
            raise SignalInputError(
                f"{self.symbol} bar at ts {ts}: high={high!r} low={low!r} close={close!r} volume={volume!r}; "
                "prices must be finite and > 0, volume finite and >= 0"
            )
        r1 = self._ret1.update(close)
        _, sl = self._long.update(r1)
        _, ss = self._short.update(r1)
        tr = self._trend.update(close)
        if sl > 0.0:
            trend_z, vol_ratio, ret1_z = tr / (sl * self._sqrt_trend), ss / sl, r1 / sl
        else:
            trend_z = vol_ratio = ret1_z = math.nan
        return (
            close,
            self._atr.update(high, low, close),
            trend_z,
            vol_ratio,
            self._volume.update(volume),
            ret1_z,
            sl,
        )
