"""Risk limits of spec section 3 (``MULTI_ASSET_RISK_LIMITS``) and how the engine applies them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from quantum_trader.config.base import PolicyModel
from quantum_trader.config.types import (
    Correlation,
    Duration,
    FeeEstimate,
    FillBuffer,
    Fraction,
    NonNegative,
    Positive,
    PositiveInt,
    SlippageEstimate,
    Timeframe,
)


class PerAssetLimits(PolicyModel):
    """Per-asset limits, "same as single-asset" in the spec."""

    max_risk_per_trade: Fraction = 0.02
    """Loss at the stop (plus estimated costs) as a share of equity."""
    max_daily_loss_per_asset: Fraction = 0.03
    """Loss on one asset in the UTC day; when hit the asset is flattened and locked."""
    max_position_size: Fraction = 0.10
    """Notional of one position as a share of equity."""


class PortfolioLimits(PolicyModel):
    max_total_exposure: Fraction = 0.40
    max_correlated_exposure: Fraction = 0.25
    max_daily_loss_portfolio: Fraction = 0.05
    """Kill switch: loss from day-start equity, marked to market."""
    max_drawdown_portfolio: Fraction = 0.20
    """Kill switch: loss from peak equity; stays tripped until an operator resets it."""
    max_positions: PositiveInt = 5


ExposureMeasure = Literal["notional", "risk_amount"]


class CorrelationPolicy(PolicyModel):
    """How correlated exposure is measured and the rolling matrix is built."""

    high_correlation_threshold: Correlation = 0.70
    """Pairs above this count toward ``max_correlated_exposure`` (spec: ``correlation > 0.70``)."""
    exposure_measure: ExposureMeasure = "notional"
    """``notional`` (DESIGN.md default) or ``risk_amount`` (the spec's sketch sums risk at the stop)."""
    window: Duration = "24h"
    """Correlation matrix (24h rolling), spec section 5."""
    returns_timeframe: Timeframe = "5m"
    btc_correlation_window: Duration = "90d"
    spike_threshold: Correlation = 0.85
    """Average pairwise correlation above which a correlation spike is raised."""
    spike_jump: NonNegative = 0.15
    """...or a rise of the average pairwise correlation by this much within one window."""


class SizingPolicy(PolicyModel):
    """Cost estimates added to the loss at the stop, so 2% risk means 2% after costs.

    Together they must cover the venue's taker fee (checked in ``Policy``): the exit at
    the stop is a market order.
    """

    fee_estimate: FeeEstimate = 0.0005
    """Per side, as a fraction of notional (taker fee of Binance USD-M)."""
    slippage_estimate: SlippageEstimate = 0.0005
    """Per side, as a fraction of notional (the venue's own estimate replaces it for entries when it has one)."""
    fill_buffer: FillBuffer = 0.0005
    """Adverse move allowed between a market entry's decision price and the bar it fills at (the latency
    bar): entries are sized at the decision price moved by the slippage estimate plus this, so the limits
    hold at the fill price, not only at the decision. Raise it with ``venue.latency_bars`` > 1."""
    reduce_instead_of_refuse: bool = True
    """Where a limit binds only partly, approve a smaller quantity rather than refuse."""
    mode: Literal["risk", "fixed_fraction"] = "risk"
    """``risk``: the spec's framework (risk per trade, every limit, the kill switch). ``fixed_fraction``:
    a comparison profile, as engines without a risk engine trade: each entry takes ``fixed_fraction`` of
    equity divided among the run's symbols, sized at the fill; no portfolio limit, no kill switch, no lock."""
    fixed_fraction: Positive = 1.0
    """Above 1: leverage, as a comparison with a levered engine needs."""


class LiquidityPolicy(PolicyModel):
    max_fraction_of_depth_1pct: Fraction = 0.10
    """An order's notional may take at most this share of the book within 1% of mid."""


class KillSwitchPolicy(PolicyModel):
    """Thresholds live in ``portfolio``; this says what a trip does."""

    daily_rearm: Literal["next_utc_day"] = "next_utc_day"
    drawdown_reset: Literal["operator"] = "operator"
    close_positions_on_trip: bool = True
    cancel_orders_on_trip: bool = True


class DriftPolicy(PolicyModel):
    """Limits bind at entry; prices move afterwards. Drift is watched and optionally trimmed."""

    exposure_alert: Fraction = 0.35
    """Spec alert: "Portfolio exposure > 35%"."""
    action: Literal["alert", "trim"] = "alert"


class MaintenanceTier(PolicyModel):
    """One bracket of an exchange's maintenance-margin table (notional up to ``max_notional``)."""

    max_notional: float = Field(gt=0)
    maintenance_margin_rate: Fraction
    maintenance_amount: NonNegative = 0.0


def _default_maintenance_tiers() -> dict[str, tuple[MaintenanceTier, ...]]:
    return {
        "default": (
            MaintenanceTier(max_notional=50_000, maintenance_margin_rate=0.01),
            MaintenanceTier(max_notional=250_000, maintenance_margin_rate=0.02, maintenance_amount=500),
            MaintenanceTier(max_notional=1e12, maintenance_margin_rate=0.05, maintenance_amount=8_000),
        )
    }


class MarginPolicy(PolicyModel):
    leverage: float = Field(default=5.0, gt=0, le=125)
    """Initial-margin leverage used to compute margin used/free."""
    maintenance_tiers: dict[str, tuple[MaintenanceTier, ...]] = Field(
        default_factory=_default_maintenance_tiers
    )
    """Per asset code, or ``default``; brackets ascending by ``max_notional``."""
