"""Which assets may be traded and when: spec sections 2 (criteria, tiers), 3 (slots), 4 (phases, gates)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from quantum_trader.config.base import PolicyModel
from quantum_trader.config.types import (
    AssetCode,
    Correlation,
    Duration,
    Fraction,
    NonNegative,
    PercentFraction,
    Positive,
    PositiveInt,
)


class LiquidityRequirements(PolicyModel):
    min_daily_volume: Positive = 500_000_000
    """USD, 24h perpetual futures volume."""
    min_depth_at_1pct: Positive = 5_000_000
    """USD within 1% of mid, each side of the book."""
    max_spread: PercentFraction = 0.0005
    """Bid-ask spread as a fraction of mid (spec: 0.05%)."""


class InfrastructureRequirements(PolicyModel):
    perpetual_futures: bool = True
    reliable_data_feed: bool = True
    api_stability: bool = True
    max_gap_share: Fraction = 0.01
    """Reliable data feed: share of missing bars allowed over ``reliability_window``."""
    reliability_window: Duration = "30d"


class CorrelationRequirements(PolicyModel):
    btc_correlation_90d: Correlation = 0.85
    """Upper bound: an asset must correlate with BTC strictly below this over 90 days."""


class TradabilityRequirements(PolicyModel):
    funding_rate_reasonable: bool = True
    max_typical_funding_8h: PercentFraction = 0.001
    """Typical (median absolute) 8h funding must stay below this (spec: < 0.1% per 8h)."""
    max_share_above_funding_limit: Fraction = 0.10
    funding_window: Duration = "30d"
    liquidation_risk: Literal["acceptable"] = "acceptable"


class AssetRequirements(PolicyModel):
    liquidity: LiquidityRequirements = LiquidityRequirements()
    infrastructure: InfrastructureRequirements = InfrastructureRequirements()
    correlation: CorrelationRequirements = CorrelationRequirements()
    tradability: TradabilityRequirements = TradabilityRequirements()


class TierAsset(PolicyModel):
    name: str
    typical_daily_volume: NonNegative | None = None
    """USD, the spec's "$50B+ daily volume" figures: informative, screening uses measured data."""
    note: str = ""


class Tier(PolicyModel):
    description: str
    assets: dict[AssetCode, TierAsset]
    requires_identified_edge: bool = False
    """Tier 3: "Added only when clear edge identified"."""
    min_edge_score: Fraction = 0.6
    edge_lookback: Duration = "30d"


class AssetTiers(PolicyModel):
    tier_1: Tier = Tier(
        description="Core Assets (Deploy First)",
        assets={
            "BTC": TierAsset(name="Bitcoin", typical_daily_volume=50e9, note="Anchor asset"),
            "ETH": TierAsset(name="Ethereum", typical_daily_volume=20e9, note="Second largest"),
        },
    )
    tier_2: Tier = Tier(
        description="Major Alts (After Tier 1 Stable)",
        assets={
            "SOL": TierAsset(name="Solana", typical_daily_volume=5e9, note="High beta"),
            "BNB": TierAsset(name="Binance", typical_daily_volume=2e9, note="Exchange token"),
            "XRP": TierAsset(name="Ripple", typical_daily_volume=2e9, note="Different dynamics"),
        },
    )
    tier_3: Tier = Tier(
        description="Selective Alts (Opportunistic)",
        assets={
            "AVAX": TierAsset(name="Avalanche"),
            "MATIC": TierAsset(name="Polygon"),
            "LINK": TierAsset(name="Chainlink"),
        },
        requires_identified_edge=True,
    )

    @model_validator(mode="after")
    def _each_asset_in_one_tier(self) -> AssetTiers:
        seen: dict[str, str] = {}
        for tier_name in ("tier_1", "tier_2", "tier_3"):
            for code in getattr(self, tier_name).assets:
                if code in seen:
                    raise ValueError(f"asset {code} is listed in both {seen[code]} and {tier_name}")
                seen[code] = tier_name
        return self

    def tier_of(self, asset: str) -> int | None:
        for number, tier in ((1, self.tier_1), (2, self.tier_2), (3, self.tier_3)):
            if asset in tier.assets:
                return number
        return None


class Tier1Slots(PolicyModel):
    reserved_slots: int = Field(default=2, ge=0)
    """BTC, ETH can always have a slot: tiers 2 and 3 together never take the last ones."""


class CappedSlots(PolicyModel):
    max_slots: int = Field(ge=0)


class SlotAllocation(PolicyModel):
    tier_1: Tier1Slots = Tier1Slots()
    tier_2: CappedSlots = CappedSlots(max_slots=2)
    tier_3: CappedSlots = CappedSlots(max_slots=1)


ConflictKey = Literal["edge_score", "correlation_to_existing", "liquidity"]


class PositionSlots(PolicyModel):
    total_slots: PositiveInt = 5
    allocation_by_tier: SlotAllocation = SlotAllocation()
    priority_on_conflict: tuple[ConflictKey, ...] = ("edge_score", "correlation_to_existing", "liquidity")
    """Higher edge score, then lower correlation to existing, then higher liquidity."""

    @model_validator(mode="after")
    def _priority_keys_once(self) -> PositionSlots:
        if len(set(self.priority_on_conflict)) != len(self.priority_on_conflict):
            raise ValueError("priority_on_conflict lists a key twice")
        return self


class Phase(PolicyModel):
    name: str
    months: str
    assets: tuple[AssetCode, ...]
    """Assets admitted in this phase (cumulative)."""
    tier_3_selective: bool = False
    """Phase 3: tier-3 assets are admitted one by one, on identified edge."""
    notes: tuple[str, ...] = ()


def _default_phases() -> dict[int, Phase]:
    return {
        0: Phase(name="BTC ONLY", months="0-3", assets=("BTC",),
                 notes=("Single asset, single strategy", "Prove risk framework works")),
        1: Phase(name="ADD ETHEREUM", months="4-6", assets=("BTC", "ETH"),
                 notes=("Same strategy, different asset", "Portfolio limits activated")),
        2: Phase(name="MAJOR ALTS", months="7-9", assets=("BTC", "ETH", "SOL", "BNB"),
                 notes=("Full correlation monitoring", "Position slot management active")),
        3: Phase(name="SELECTIVE EXPANSION", months="10+", assets=("BTC", "ETH", "SOL", "BNB"),
                 tier_3_selective=True,
                 notes=("Opportunistic additions to Tier 3", "May remove assets if edge disappears")),
    }


EVIDENCE_KINDS = ("live", "paper", "testnet", "drill", "backtest")
"""Where evidence comes from: a journalled session's mode, or a ``killswitch drill`` (a paper ledger)."""


def _evidence_kinds(value: str) -> str:
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in EVIDENCE_KINDS]
    if unknown:
        raise ValueError(f"evidence kind(s) {', '.join(unknown)}: expected some of {', '.join(EVIDENCE_KINDS)}")
    if "backtest" in kinds:
        raise ValueError("a backtest is never a gate's evidence (it may only be shown beside it as supporting)")
    if not kinds:
        raise ValueError("accept at least one kind of evidence (live, paper, testnet, drill)")
    return ",".join(kinds)


Accepts = Annotated[str, AfterValidator(_evidence_kinds)]
"""The kinds of evidence a criterion accepts, comma-separated (a scalar, so ``--set`` can change it)."""


def accepted(value: str) -> frozenset[str]:
    return frozenset(value.split(","))


class GateOperations(PolicyModel):
    """How operation is measured from a journal (ours: the spec says "operations stable and automated", "N months
    profitable"). A month is ``month_length`` of operation counted back from the latest evidence."""

    month_length: Duration = "30d"
    min_uptime_share: Fraction = 0.99
    """Share of the evidence period with the system running (risk snapshots no further apart than ``max_feed_gap``)."""
    max_feed_gap: Duration = "2h"
    """Longest stretch between two bar closes (within a session or across a restart) that is not downtime."""
    max_restarts_per_30d: int = Field(default=2, ge=0)
    max_unresolved_incidents: int = Field(default=0, ge=0)
    max_reconciliation_differences: int = Field(default=0, ge=0)
    """Incidents of kind ``reconciliation*`` (the journal and the exchange disagreed) over the period."""
    kill_switch_flat_within: Duration = "1h"
    """A trip's close-out is confirmed when the book is flat in the journal within this after the trip."""


class Gate01Evidence(PolicyModel):
    """Operation in real conditions: live only; the kill switch also by a testnet trip when no live one happened."""

    months_profitable_btc: Accepts = "live"
    max_drawdown_experienced: Accepts = "live"
    kill_switch_tested: Accepts = "live,testnet"
    operations_stable: Accepts = "live"
    sharpe_ratio: Accepts = "live"
    win_rate: Accepts = "live"


class Gate12Evidence(PolicyModel):
    """Profit needs live money; the multi-asset mechanics (monitoring, limits) may be shown on paper too."""

    months_profitable_multi: Accepts = "live"
    correlation_monitoring_working: Accepts = "live,paper"
    no_portfolio_limit_breaches: Accepts = "live,paper"
    eth_performance_positive: Accepts = "live"
    portfolio_sharpe: Accepts = "live"


class Gate23Evidence(PolicyModel):
    months_stable_assets: Accepts = "live"
    slot_management_working: Accepts = "live,paper"
    position_sizing_validated: Accepts = "live,paper"


class Gate01Required(PolicyModel):
    months_profitable_btc: PositiveInt = 3
    """spec: 3_months_profitable_btc"""
    max_drawdown_experienced: float = Field(default=-0.15, lt=0, ge=-1)
    """Worst drawdown must be better (greater) than this (spec: < -15%)."""
    kill_switch_tested: bool = True
    operations_stable: bool = True


class Gate01Recommended(PolicyModel):
    sharpe_ratio: float = 0.8
    win_rate: Fraction = 0.50


class Gate01(PolicyModel):
    required: Gate01Required = Gate01Required()
    recommended: Gate01Recommended = Gate01Recommended()
    evidence: Gate01Evidence = Gate01Evidence()


class Gate12Required(PolicyModel):
    months_profitable_multi: PositiveInt = 2
    """spec: 2_months_profitable_multi"""
    correlation_monitoring_working: bool = True
    max_correlation_update_gap: Duration = "1h"
    """Monitoring counts as working while the matrix never goes longer than this without update."""
    no_portfolio_limit_breaches: bool = True


class Gate12Recommended(PolicyModel):
    eth_performance_positive: bool = True
    portfolio_sharpe: float = 0.7


class Gate12(PolicyModel):
    required: Gate12Required = Gate12Required()
    recommended: Gate12Recommended = Gate12Recommended()
    evidence: Gate12Evidence = Gate12Evidence()


class Gate23Required(PolicyModel):
    months_stable_assets: PositiveInt = 3
    """spec: 3_months_stable_3_assets"""
    min_assets: PositiveInt = 3
    slot_management_working: bool = True
    position_sizing_validated: bool = True
    sizing_tolerance: Fraction = 0.25
    """Realised loss on stopped trades within this share of planned risk."""


class Gate23(PolicyModel):
    required: Gate23Required = Gate23Required()
    evidence: Gate23Evidence = Gate23Evidence()


class PhaseGates(PolicyModel):
    phase_0_to_1: Gate01 = Gate01()
    phase_1_to_2: Gate12 = Gate12()
    phase_2_to_3: Gate23 = Gate23()
    operations: GateOperations = GateOperations()


class Demotion(PolicyModel):
    """What a demotion does to a running session (manual, on a drawdown trip, or an asset leaving its tier).

    New entries in what the new phase does not admit stop at the next decision in every case; ``positions``
    says what happens to those held: ``close`` (default) exits them at the next decision, ``freeze`` keeps
    them to their own stop, target or exit and lets nothing add to them."""

    positions: Literal["close", "freeze"] = "close"
    on_drawdown_trip: bool = True
    """A drawdown trip of the kill switch demotes one phase (recorded with the trip's reason)."""


class Rescreening(PolicyModel):
    """Screening during a run (ours, not the spec's): "may remove assets if edge disappears".

    Every ``rescreen_every`` the assets are screened again on the data strictly before that
    time, and the tiers that result admit and remove assets for the run's next stretch.
    """

    rescreen_every: Duration = "7d"
    in_backtests: bool = True
    """Screen during backtests too (off: the policy's tiers hold for the whole run)."""


class Expansion(PolicyModel):
    phases: dict[int, Phase] = Field(default_factory=_default_phases)
    phase_gates: PhaseGates = PhaseGates()
    demotion: Demotion = Demotion()
    start_phase: int = Field(default=0, ge=0, le=3)

    @model_validator(mode="after")
    def _phases_complete_and_growing(self) -> Expansion:
        if sorted(self.phases) != [0, 1, 2, 3]:
            raise ValueError(f"phases must be exactly 0, 1, 2, 3, got {sorted(self.phases)}")
        for n in (1, 2, 3):
            missing = set(self.phases[n - 1].assets) - set(self.phases[n].assets)
            if missing:
                raise ValueError(f"phase {n} drops {sorted(missing)} admitted in phase {n - 1}")
        return self
