"""Signal model settings: spec section 6 (``ASSET_MODEL_CONFIG``, ``CROSS_ASSET_SIGNALS``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from quantum_trader.config.base import PolicyModel
from quantum_trader.config.types import (
    AssetCode,
    Correlation,
    Duration,
    NonNegative,
    Positive,
    PositiveInt,
    Timeframe,
    UnitInterval,
)

VolumeSignificance = Literal["low", "medium", "high"]


class AssetModelConfig(PolicyModel):
    regime_sensitivity: Positive = 1.0
    trend_lookback_hours: PositiveInt = 24
    volume_significance: VolumeSignificance = "medium"
    btc_correlation_factor: UnitInterval | None = None
    """How much the asset follows BTC; None for BTC itself."""
    narrative_component: bool = False
    """Meme/narrative driven: weight volume and momentum bursts."""


def _default_models() -> dict[str, AssetModelConfig]:
    return {
        "BTC": AssetModelConfig(regime_sensitivity=1.0, trend_lookback_hours=24, volume_significance="medium"),
        "ETH": AssetModelConfig(
            regime_sensitivity=1.1, trend_lookback_hours=18, volume_significance="medium",
            btc_correlation_factor=0.8,
        ),
        "SOL": AssetModelConfig(
            regime_sensitivity=1.5, trend_lookback_hours=12, volume_significance="high",
            btc_correlation_factor=0.6, narrative_component=True,
        ),
    }


class VolumeThresholds(PolicyModel):
    """Volume z-score a bar needs to count as significant, per ``volume_significance``."""

    low: float = 0.5
    medium: float = 1.0
    high: float = 1.5


class SignalModelPolicy(PolicyModel):
    timeframe: Timeframe = "1h"
    """Bar timeframe the per-asset models decide on."""
    baseline_asset: AssetCode = "BTC"
    """Assets missing from ``asset_models`` use this asset's config."""
    atr_period: PositiveInt = 14
    stop_atr_multiple: Positive = 2.0
    volatility_lookback_days: PositiveInt = 30
    volume_zscore_window: PositiveInt = 48
    volume_thresholds: VolumeThresholds = VolumeThresholds()
    min_edge_score: UnitInterval = 0.0
    """Intents below this edge are not emitted."""


class BtcDivergence(PolicyModel):
    lookback: Duration = "4h"
    threshold_std: Positive = 2.0
    """spec: threshold: 2_std"""
    expected_reversion: bool = True
    zscore_window: Duration = "30d"


class SectorMomentum(PolicyModel):
    lookback: Duration = "24h"
    assets_in_sector: tuple[AssetCode, ...] = ("SOL", "AVAX", "MATIC")
    signal_type: Literal["momentum"] = "momentum"
    min_sector_return: NonNegative = 0.02


class CorrelationBreakdown(PolicyModel):
    normal_correlation: Correlation = 0.7
    current_correlation: Literal["real-time"] = "real-time"
    signal_on_breakdown: bool = True
    breakdown_margin: NonNegative = 0.2
    """Breakdown when correlation to BTC falls below ``normal_correlation - breakdown_margin``."""
    edge_adjustment: float = Field(default=0.1, ge=-1, le=1)
    """Added to the edge of intents on a broken-down asset (negative lowers it)."""


class CrossAssetSignals(PolicyModel):
    btc_divergence: BtcDivergence = BtcDivergence()
    sector_momentum: SectorMomentum = SectorMomentum()
    correlation_breakdown: CorrelationBreakdown = CorrelationBreakdown()


class Signals(PolicyModel):
    asset_models: dict[AssetCode, AssetModelConfig] = Field(default_factory=_default_models)
    model: SignalModelPolicy = SignalModelPolicy()
    cross_asset: CrossAssetSignals = CrossAssetSignals()

    def model_for(self, asset: str) -> AssetModelConfig:
        return self.asset_models.get(asset) or self.asset_models[self.model.baseline_asset]
