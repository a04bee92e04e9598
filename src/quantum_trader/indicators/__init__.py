"""Incremental statistics under both signals and the universe: rolling window sums, smoothing,
and the per-asset bar indicators, each in a batch and a live form proven equal.

They sit below ``signals`` and ``universe`` so those two can share them without importing
each other both ways (``universe`` never imports ``signals``).
"""

from quantum_trader.indicators.bar_indicators import ATR, LogReturn, RollingMoments, VolumeZScore
from quantum_trader.indicators.rolling import Ewm, RollingSums, ScalarRollingSums, ewm, rolling_sum

__all__ = ["ATR", "Ewm", "LogReturn", "RollingMoments", "RollingSums", "ScalarRollingSums", "VolumeZScore", "ewm",
           "rolling_sum"]
