"""The whole policy: every number of spec/multi-asset-expansion.md, typed and cross-checked.

Field rules catch a bad value; the validators here catch values that are each fine but
contradict one another (slot caps that exceed the slots, a per-asset daily loss larger
than the portfolio's), which would otherwise surface as a limit that can never bind.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from quantum_trader.config.base import PolicyModel
from quantum_trader.config.limits import (
    CorrelationPolicy,
    DriftPolicy,
    KillSwitchPolicy,
    LiquidityPolicy,
    MarginPolicy,
    PerAssetLimits,
    PortfolioLimits,
    SizingPolicy,
)
from quantum_trader.config.operations import CapacityRow as CapacityRow
from quantum_trader.config.operations import (
    Dashboard,
    DataIngestPolicy,
    DataRequirements,
    MarketReference,
    Scenario,
    Venue,
    _default_capacity,
    _default_scenarios,
)
from quantum_trader.config.signals import Signals
from quantum_trader.config.universe import AssetRequirements, AssetTiers, Expansion, PositionSlots, Rescreening


def _in_order(*pairs: tuple[str, float, str, float]) -> None:
    """Each ``(a, value_a, b, value_b)`` must have ``value_a <= value_b``; the first that does not is the error."""
    for low, low_value, high, high_value in pairs:
        if low_value > high_value:
            raise ValueError(f"{low} ({low_value}) must be <= {high} ({high_value})")


class Policy(PolicyModel):
    per_asset: PerAssetLimits = PerAssetLimits()
    portfolio: PortfolioLimits = PortfolioLimits()
    correlation: CorrelationPolicy = CorrelationPolicy()
    sizing: SizingPolicy = SizingPolicy()
    liquidity: LiquidityPolicy = LiquidityPolicy()
    kill_switch: KillSwitchPolicy = KillSwitchPolicy()
    drift: DriftPolicy = DriftPolicy()
    margin: MarginPolicy = MarginPolicy()
    position_slots: PositionSlots = PositionSlots()
    asset_requirements: AssetRequirements = AssetRequirements()
    asset_tiers: AssetTiers = AssetTiers()
    universe: Rescreening = Rescreening()
    expansion: Expansion = Expansion()
    signals: Signals = Signals()
    scenarios: dict[str, Scenario] = Field(default_factory=_default_scenarios)
    dashboard: Dashboard = Dashboard()
    data_requirements: DataRequirements = DataRequirements()
    data_ingest: DataIngestPolicy = DataIngestPolicy()
    capacity_scaling: dict[str, CapacityRow] = Field(default_factory=_default_capacity)
    venue: Venue = Venue()
    market_reference: MarketReference = MarketReference()

    @model_validator(mode="after")
    def _limits_consistent(self) -> Policy:
        pa, pf, slots = self.per_asset, self.portfolio, self.position_slots
        _in_order(
            ("per_asset.max_daily_loss_per_asset", pa.max_daily_loss_per_asset,
             "portfolio.max_daily_loss_portfolio", pf.max_daily_loss_portfolio),
            ("portfolio.max_daily_loss_portfolio", pf.max_daily_loss_portfolio,
             "portfolio.max_drawdown_portfolio", pf.max_drawdown_portfolio),
            ("per_asset.max_position_size", pa.max_position_size,
             "portfolio.max_total_exposure", pf.max_total_exposure),
            ("portfolio.max_correlated_exposure", pf.max_correlated_exposure,
             "portfolio.max_total_exposure", pf.max_total_exposure),
            ("per_asset.max_risk_per_trade", pa.max_risk_per_trade,
             "per_asset.max_daily_loss_per_asset", pa.max_daily_loss_per_asset),
            ("drift.exposure_alert", self.drift.exposure_alert, "portfolio.max_total_exposure", pf.max_total_exposure),
            ("portfolio.max_positions", pf.max_positions, "position_slots.total_slots", slots.total_slots),
        )
        return self

    @model_validator(mode="after")
    def _costs_cover_the_taker_fee(self) -> Policy:
        """The exit at the stop is a market order: an estimate below the taker fee makes 2% risk more than 2%."""
        sizing, exchange = self.sizing, self.venue.exchange
        fees = self.venue.fees.get(exchange)
        estimate = sizing.fee_estimate + sizing.slippage_estimate
        if fees is not None and estimate < fees.taker:
            raise ValueError(
                f"sizing.fee_estimate + sizing.slippage_estimate ({estimate:.10g}) must be >= "
                f"venue.fees.{exchange}.taker ({fees.taker}): a stop exit pays the taker fee"
            )
        return self

    @model_validator(mode="after")
    def _slots_consistent(self) -> Policy:
        slots = self.position_slots
        alloc = slots.allocation_by_tier
        reserved, t2, t3 = alloc.tier_1.reserved_slots, alloc.tier_2.max_slots, alloc.tier_3.max_slots
        free = slots.total_slots - reserved
        tiers = "position_slots.allocation_by_tier"
        if reserved > slots.total_slots:
            raise ValueError(
                f"{tiers}.tier_1.reserved_slots ({reserved}) exceeds position_slots.total_slots ({slots.total_slots})"
            )
        for name, cap in (("tier_2", t2), ("tier_3", t3)):
            if cap > free:
                raise ValueError(
                    f"{tiers}.{name}.max_slots ({cap}) exceeds the {free} slots left after "
                    f"{tiers}.tier_1.reserved_slots ({reserved}) of position_slots.total_slots ({slots.total_slots})"
                )
        tier1 = len(self.asset_tiers.tier_1.assets)
        if reserved > tier1:
            raise ValueError(
                f"{tiers}.tier_1.reserved_slots ({reserved}) exceeds the {tier1} tier-1 assets (asset_tiers.tier_1) "
                "that could use them"
            )
        return self

    @model_validator(mode="after")
    def _assets_known(self) -> Policy:
        known = {
            *self.asset_tiers.tier_1.assets, *self.asset_tiers.tier_2.assets, *self.asset_tiers.tier_3.assets,
        }
        for n, phase in self.expansion.phases.items():
            unknown = set(phase.assets) - known
            if unknown:
                raise ValueError(f"expansion.phases.{n}.assets: {sorted(unknown)} are in no asset tier")
        if self.signals.model.baseline_asset not in self.signals.asset_models:
            raise ValueError(
                f"signals.model.baseline_asset ({self.signals.model.baseline_asset}) has no entry in "
                "signals.asset_models"
            )
        if self.venue.exchange not in self.venue.fees:
            raise ValueError(f"venue.exchange ({self.venue.exchange}) has no entry in venue.fees")
        return self

    # Convenience views used across layers -------------------------------------------------

    def tier_of(self, asset: str) -> int | None:
        return self.asset_tiers.tier_of(asset)

    def phase_assets(self, phase: int) -> tuple[str, ...]:
        return self.expansion.phases[phase].assets

    def as_fixed_fraction(self, fraction: float = 1.0) -> Policy:
        """This policy under the comparison profile (``--policy plain``): each entry takes ``fraction`` of
        equity divided among the symbols, sized at the fill; no portfolio limit, no kill switch, no lock."""
        sizing = self.sizing.model_copy(update={"mode": "fixed_fraction", "fixed_fraction": fraction})
        return self.model_copy(update={"sizing": sizing})

    @property
    def fixed_fraction(self) -> bool:
        return self.sizing.mode == "fixed_fraction"

    def tradable_universe(self) -> tuple[str, ...]:
        """Every asset listed in a tier, tier 1 first."""
        tiers = self.asset_tiers
        return (*tiers.tier_1.assets, *tiers.tier_2.assets, *tiers.tier_3.assets)
