"""Per-asset regime: trending up, trending down, ranging or high-volatility.

Method (fast, causal, rule-based; what the engine runs on every closed bar):

1. ``vol_ratio`` (volatility of bar returns over the asset's ``trend_lookback_hours``
   divided by its volatility over ``volatility_lookback_days``) at or above
   ``1 + (HIGH_VOL_RATIO - 1) / regime_sensitivity`` -> **high volatility**. It is tested
   first: in a volatility burst a trend reading is mostly noise and stops are too tight.
2. else ``trend_z`` (lookback log return in units of the random-walk move, see
   :mod:`quantum_trader.signals.features`) at or above ``TREND_Z_THRESHOLD /
   regime_sensitivity`` -> **trending up**; at or below its negative -> **trending down**.
3. else **ranging**; and **unknown** while any input is still warming up.

``regime_sensitivity`` divides the distance of both thresholds from neutral, so SOL at
1.5 enters a trend at z = 0.67 and a volatility regime at 1.53x its normal volatility,
while BTC at 1.0 needs z = 1 and 1.8x. Because both inputs are normalised by the asset's
own volatility, the same thresholds mean the same thing on every asset.

A hidden Markov / Markov-switching model (statsmodels ``MarkovRegression``) fits these
states better in hindsight, but its smoothed probabilities use the whole sample (look-ahead)
and its filtered ones cost a fit per bar; it belongs to research, not to this path.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Final

import numpy as np
import numpy.typing as npt

TREND_Z_THRESHOLD: Final = 1.0
"""|trend_z| an asset of sensitivity 1 needs to count as trending (a one-sigma move)."""
HIGH_VOL_RATIO: Final = 1.8
"""Short/long volatility ratio an asset of sensitivity 1 needs to count as high-volatility."""


class Regime(IntEnum):
    UNKNOWN = 0
    RANGING = 1
    TRENDING_UP = 2
    TRENDING_DOWN = 3
    HIGH_VOLATILITY = 4

    @property
    def label(self) -> str:
        return self.name.lower()


def regime_thresholds(sensitivity: float | npt.NDArray[np.float64]) -> tuple[Any, Any]:
    """(trend z threshold, volatility ratio threshold) for a ``regime_sensitivity`` (float or array)."""
    return TREND_Z_THRESHOLD / sensitivity, 1.0 + (HIGH_VOL_RATIO - 1.0) / sensitivity


def classify_regime(
    trend_z: npt.ArrayLike, vol_ratio: npt.ArrayLike, sensitivity: npt.ArrayLike
) -> npt.NDArray[np.int8]:
    """Regime codes (:class:`Regime` values) for aligned arrays, or one value per asset."""
    trend_thr, vol_thr = regime_thresholds(np.asarray(sensitivity, dtype=np.float64))
    return classify_with_thresholds(
        np.asarray(trend_z, dtype=np.float64), np.asarray(vol_ratio, dtype=np.float64), trend_thr, vol_thr
    )


def classify_with_thresholds(
    tz: npt.NDArray[np.float64], vr: npt.NDArray[np.float64], trend_thr: Any, vol_thr: Any
) -> npt.NDArray[np.int8]:
    """:func:`classify_regime` with precomputed thresholds (the live path calls this every bar)."""
    code = np.where(tz >= trend_thr, Regime.TRENDING_UP.value, Regime.RANGING.value)
    code[tz <= -trend_thr] = Regime.TRENDING_DOWN.value
    code[vr >= vol_thr] = Regime.HIGH_VOLATILITY.value
    code[(tz != tz) | (vr != vr)] = Regime.UNKNOWN.value
    return code.astype(np.int8)
