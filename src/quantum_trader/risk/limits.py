"""The policy's risk numbers, compiled once into a plain slotted object for the hot path.

Reading ``policy.portfolio.max_total_exposure`` walks pydantic attributes on every
call; the risk engine evaluates hundreds of intents a minute, so it reads floats,
ints and frozensets from here instead. Compile once per policy (the engine keeps the
result); ``evaluate`` also accepts a ``Policy`` and compiles it, at a cost.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from quantum_trader.config.policy import Policy


class CompiledLimits:
    """Every figure a rule reads, named as in the policy file (fractions of equity)."""

    __slots__ = (
        "cancel_on_trip",
        "close_on_trip",
        "corr_threshold",
        "correlated_exposure",
        "cost_rate",
        "daily_loss_asset",
        "daily_loss_portfolio",
        "depth_fraction",
        "drawdown",
        "drift_alert",
        "drift_trim",
        "fill_buffer",
        "fixed_fraction",
        "max_positions",
        "measure_is_risk",
        "phase_assets",
        "phase_tier3",
        "position_size",
        "priority",
        "reduce",
        "reserved_tier1",
        "risk_per_trade",
        "slippage_estimate",
        "tier2_max",
        "tier3_max",
        "tier3_min_edge",
        "tier3_requires_edge",
        "tiers",
        "total_exposure",
        "total_slots",
    )

    def __init__(self, policy: Policy) -> None:
        pa, pf, corr = policy.per_asset, policy.portfolio, policy.correlation
        slots = policy.position_slots
        alloc = slots.allocation_by_tier
        self.risk_per_trade: float = pa.max_risk_per_trade
        self.daily_loss_asset: float = pa.max_daily_loss_per_asset
        self.position_size: float = pa.max_position_size
        self.total_exposure: float = pf.max_total_exposure
        self.correlated_exposure: float = pf.max_correlated_exposure
        self.daily_loss_portfolio: float = pf.max_daily_loss_portfolio
        self.drawdown: float = pf.max_drawdown_portfolio
        self.total_slots: int = slots.total_slots
        self.max_positions: int = min(pf.max_positions, slots.total_slots)
        """Both ``portfolio.max_positions`` and ``position_slots.total_slots`` bind: the smaller wins."""
        self.corr_threshold: float = corr.high_correlation_threshold
        self.measure_is_risk: bool = corr.exposure_measure == "risk_amount"
        self.cost_rate: float = policy.sizing.fee_estimate + policy.sizing.slippage_estimate
        """Per side, fraction of notional: paid on entry and again at the stop."""
        self.slippage_estimate: float = policy.sizing.slippage_estimate
        self.fill_buffer: float = policy.sizing.fill_buffer
        self.fixed_fraction: float | None = (policy.sizing.fixed_fraction if policy.sizing.mode == "fixed_fraction"
                                             else None)
        """Set under the comparison profile: entries take this share of equity, and no limit applies."""
        self.reduce: bool = policy.sizing.reduce_instead_of_refuse
        self.depth_fraction: float = policy.liquidity.max_fraction_of_depth_1pct
        self.reserved_tier1: int = alloc.tier_1.reserved_slots
        self.tier2_max: int = alloc.tier_2.max_slots
        self.tier3_max: int = alloc.tier_3.max_slots
        tier3 = policy.asset_tiers.tier_3
        self.tier3_requires_edge: bool = tier3.requires_identified_edge
        self.tier3_min_edge: float = tier3.min_edge_score
        self.tiers: Mapping[str, int] = MappingProxyType(
            {a: n for n in (1, 2, 3) for a in getattr(policy.asset_tiers, f"tier_{n}").assets}
        )
        phases = policy.expansion.phases
        self.phase_assets: Mapping[int, frozenset[str]] = MappingProxyType(
            {n: frozenset(p.assets) for n, p in phases.items()}
        )
        self.phase_tier3: Mapping[int, bool] = MappingProxyType(
            {n: p.tier_3_selective for n, p in phases.items()}
        )
        self.priority: tuple[str, ...] = tuple(slots.priority_on_conflict)
        self.drift_alert: float = policy.drift.exposure_alert
        self.drift_trim: bool = policy.drift.action == "trim"
        self.close_on_trip: bool = policy.kill_switch.close_positions_on_trip
        self.cancel_on_trip: bool = policy.kill_switch.cancel_orders_on_trip


def compile_limits(policy: Policy | CompiledLimits) -> CompiledLimits:
    """The compiled form of ``policy`` (returned as is when already compiled)."""
    return policy if isinstance(policy, CompiledLimits) else CompiledLimits(policy)
