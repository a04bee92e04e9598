"""Signals: per-asset regime detectors and models, cross-asset signals; pure logic, batch and live.

The composition of everything (``SignalSet``, batch and live) is in
:mod:`quantum_trader.signals.pipeline`; it is not re-exported here because it reads the
correlation monitor of :mod:`quantum_trader.universe`, which itself builds on these
indicators (importing it here would make the two packages import each other).
"""

from quantum_trader.indicators.bar_indicators import ATR, LogReturn, RollingMoments, VolumeZScore
from quantum_trader.indicators.rolling import Ewm, RollingSums, ScalarRollingSums, ewm, rolling_sum
from quantum_trader.signals.cross_asset import BtcDivergence, SectorMomentum, apply_correlation_breakdown
from quantum_trader.signals.features import AssetFeatures, FeatureWindows, SignalInputError
from quantum_trader.signals.lookahead import LookaheadReport, check_lookahead, shipped_signals
from quantum_trader.signals.model import AssetModel, Decision, ModelFrame, ModelParams, decide, edge_from_z
from quantum_trader.signals.regime import Regime, classify_regime

__all__ = [
    "ATR",
    "AssetFeatures",
    "AssetModel",
    "BtcDivergence",
    "Decision",
    "Ewm",
    "FeatureWindows",
    "LogReturn",
    "LookaheadReport",
    "ModelFrame",
    "ModelParams",
    "Regime",
    "RollingMoments",
    "RollingSums",
    "ScalarRollingSums",
    "SectorMomentum",
    "SignalInputError",
    "VolumeZScore",
    "apply_correlation_breakdown",
    "check_lookahead",
    "classify_regime",
    "decide",
    "edge_from_z",
    "ewm",
    "rolling_sum",
    "shipped_signals",
]
