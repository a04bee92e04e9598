"""Tiers: the policy's tier lists joined with screening and, for tier 3, with measured edge.

The policy says where an asset *belongs* (BTC, ETH tier 1; SOL, BNB, XRP tier 2; a few
tier-3 alts); screening says whether it *qualifies now*. The join, in this order:

1. a failed liquidity or infrastructure criterion (volume, depth, spread, perpetual
   listed, data feed) **removes** the asset: it cannot be traded safely at any tier;
2. any ``unknown`` criterion leaves it **unverified**: not tradable until measured
   (unknown is never a pass);
3. a failed diversification or tradability criterion (BTC correlation, funding)
   **demotes** it one tier: it may still be traded, under the lower tier's slot caps,
   and in tier 3 only on identified edge; a tier-3 asset has no lower tier and is removed;
4. a tier-3 asset (by policy or by demotion) is **admitted** only while its edge from
   the signals, averaged over ``tier_3.edge_lookback``, stays at or above
   ``tier_3.min_edge_score``, and is dropped when the edge disappears.

Changes against the previous assignment are events carrying the evidence, worded for
the alerting layer ("ETH removed from tier 1 ..."). Pure logic: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from quantum_trader.config.policy import Policy
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import duration_ms, format_time
from quantum_trader.domain.trading import Intent
from quantum_trader.universe.screening import (
    CORRELATION,
    DEPTH,
    FEED,
    FUNDING_SHARE,
    FUNDING_TYPICAL,
    LISTED,
    SPREAD,
    VOLUME,
    AssetScreen,
    CriterionResult,
    Status,
)

REMOVING = frozenset({VOLUME, DEPTH, SPREAD, LISTED, FEED})
"""Criteria whose failure removes an asset from every tier."""
DEMOTING = frozenset({CORRELATION, FUNDING_TYPICAL, FUNDING_SHARE})
"""Criteria whose failure moves an asset down one tier."""


class State(StrEnum):
    ACTIVE = "active"
    DEMOTED = "demoted"
    REMOVED = "removed"
    UNVERIFIED = "unverified"
    NO_EDGE = "no_edge"
    """Tier 3 without an identified edge: listed, qualifies, not admitted."""


class TierEventKind(StrEnum):
    REMOVED = "asset_removed"
    DEMOTED = "asset_demoted"
    UNVERIFIED = "asset_unverified"
    RESTORED = "asset_restored"
    TIER3_ADMITTED = "tier3_admitted"
    TIER3_DROPPED = "tier3_dropped"


@dataclass(frozen=True, slots=True)
class EdgeFigure:
    """Mean edge score of an asset's intents over the lookback, and how many there were."""

    mean: float | None
    count: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class TierMember:
    asset: str
    policy_tier: int
    tier: int | None
    """Effective tier; None when the asset may not be traded."""
    state: State
    reasons: tuple[str, ...]

    @property
    def tradable(self) -> bool:
        return self.tier is not None


@dataclass(frozen=True, slots=True)
class TierEvent:
    ts: int
    kind: TierEventKind
    asset: str
    from_tier: int | None
    to_tier: int | None
    message: str
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TierAssignment:
    ts: int
    members: Mapping[str, TierMember]
    events: tuple[TierEvent, ...]

    def tier_of(self, asset: str) -> int | None:
        member = self.members.get(asset)
        return None if member is None else member.tier

    def tradable(self, policy: Policy, phase: int) -> tuple[str, ...]:
        """Assets the phase admits and the tiers allow: phase assets, plus admitted tier 3 in a selective phase."""
        p = policy.expansion.phases[phase]
        out = [a for a in p.assets if a in self.members and self.members[a].tradable]
        if p.tier_3_selective:
            out.extend(a for a, m in self.members.items() if m.tier == 3 and m.tradable and a not in out)
        return tuple(out)


def edge_figures(intents: Iterable[Intent], end_ms: int, lookback: str) -> dict[str, EdgeFigure]:
    """Per asset, the mean edge score of the intents in ``(end_ms - lookback, end_ms]``."""
    start = end_ms - duration_ms(lookback)
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for intent in intents:
        if start < intent.ts <= end_ms:
            asset = asset_of(intent.symbol)
            sums[asset] = sums.get(asset, 0.0) + intent.edge_score
            counts[asset] = counts.get(asset, 0) + 1
    return {a: EdgeFigure(sums[a] / counts[a], counts[a], start, end_ms) for a in counts}


def _describe(c: CriterionResult) -> str:
    value = "unknown" if c.value is None else (f"{c.value:.4g}" if isinstance(c.value, float) else str(c.value))
    return f"{c.criterion} {value} (needs {c.comparison} {c.threshold}): {c.evidence}"


def _classify(screen: AssetScreen | None, policy_tier: int) -> tuple[State, int | None, tuple[str, ...]]:
    """State and effective tier from screening alone (tier 3's edge is applied afterwards)."""
    if screen is None:
        return State.UNVERIFIED, None, ("not screened: no screening result for this asset",)
    fails = [c for c in screen.criteria if c.status is Status.FAIL]
    removing = [c for c in fails if c.criterion in REMOVING]
    if removing:
        return State.REMOVED, None, tuple(_describe(c) for c in removing)
    unknown = [c for c in screen.criteria if c.status is Status.UNKNOWN]
    if unknown:
        return State.UNVERIFIED, None, tuple(_describe(c) for c in unknown)
    demoting = [c for c in fails if c.criterion in DEMOTING]
    if demoting:
        why = tuple(_describe(c) for c in demoting)
        if policy_tier >= 3:
            return State.REMOVED, None, why
        return State.DEMOTED, policy_tier + 1, why
    return State.ACTIVE, policy_tier, ()


def _apply_edge(asset: str, state: State, tier: int | None, reasons: tuple[str, ...], edge: EdgeFigure | None,
                min_edge: float, lookback: str) -> tuple[State, int | None, tuple[str, ...]]:
    if tier != 3:
        return state, tier, reasons
    if edge is None or edge.count == 0 or edge.mean is None:
        return State.NO_EDGE, None, (*reasons, f"no {asset} signal in the last {lookback}: no identified edge")
    figure = (f"edge {edge.mean:.2f} over {edge.count} signals {format_time(edge.start)} .. "
              f"{format_time(edge.end)} (needs >= {min_edge:.2f})")
    if edge.mean < min_edge:
        return State.NO_EDGE, None, (*reasons, figure)
    return state, tier, (*reasons, figure)


def _baseline(policy_tier: int) -> TierMember:
    """What an asset is before any evidence: tier 1/2 as the policy lists it, tier 3 not admitted."""
    if policy_tier == 3:
        return TierMember("", 3, None, State.NO_EDGE, ())
    return TierMember("", policy_tier, policy_tier, State.ACTIVE, ())


def _event(ts: int, before: TierMember, after: TierMember) -> TierEvent | None:
    if (before.tier, before.state) == (after.tier, after.state):
        return None
    a, old, new = after.asset, before.tier, after.tier
    if new == 3 and after.tradable and old != 3:
        kind, text = TierEventKind.TIER3_ADMITTED, f"{a} admitted to tier 3 on identified edge"
        if after.state is State.DEMOTED:
            text = f"{a} removed from tier {old} (demoted to tier 3) and admitted on identified edge"
    elif old == 3 and after.state is State.NO_EDGE:
        kind, text = TierEventKind.TIER3_DROPPED, f"{a} dropped from tier 3: the edge disappeared"
    elif after.state is State.REMOVED:
        kind, text = TierEventKind.REMOVED, f"{a} removed from tier {old or after.policy_tier}"
    elif after.state is State.DEMOTED:
        kind, text = TierEventKind.DEMOTED, f"{a} removed from tier {old} (demoted to tier {new})"
    elif after.state is State.UNVERIFIED:
        kind = TierEventKind.UNVERIFIED
        text = f"{a} removed from tier {old or after.policy_tier} until verified: screening data missing"
    elif after.state is State.NO_EDGE:
        kind, text = TierEventKind.TIER3_DROPPED, f"{a} not admitted to tier 3: no identified edge"
    else:
        kind, text = TierEventKind.RESTORED, f"{a} restored to tier {new}"
    return TierEvent(ts, kind, a, old, new, text, after.reasons)


def assign_tiers(
    policy: Policy,
    screens: Mapping[str, AssetScreen],
    *,
    ts: int,
    edges: Mapping[str, EdgeFigure] | None = None,
    previous: TierAssignment | None = None,
    keep_unverified: bool = False,
    assets: Iterable[str] | None = None,
) -> TierAssignment:
    """Effective tier of every asset the policy lists, and the events of what changed since ``previous``.

    ``screens`` is keyed by asset code; ``edges`` by asset code (see :func:`edge_figures`).
    With no ``previous``, the baseline is the policy itself: tiers 1-2 active, tier 3 not
    admitted, so a first evaluation already reports every removal. ``keep_unverified``:
    an asset whose screening is only *unknown* (a window not yet filled, as at the start of
    a replay) keeps its previous tier (first the policy's) and says so, instead of being
    removed until measured; a measured failure still removes or demotes it. ``assets``
    limits the assignment to those of the policy's assets (default: all of them).
    """
    t3 = policy.asset_tiers.tier_3
    edges = edges or {}
    members: dict[str, TierMember] = {}
    events: list[TierEvent] = []
    wanted = None if assets is None else set(assets)
    for asset in policy.tradable_universe():
        if wanted is not None and asset not in wanted:
            continue
        policy_tier = policy.tier_of(asset)
        assert policy_tier is not None
        state, tier, reasons = _classify(screens.get(asset), policy_tier)
        if state is State.UNVERIFIED and keep_unverified:
            prior = (previous.members.get(asset) if previous is not None else None) or _baseline(policy_tier)
            kept = "in no tier" if prior.tier is None else f"tier {prior.tier}"
            state, tier = (State.ACTIVE, policy_tier) if prior.state is State.NO_EDGE else (prior.state, prior.tier)
            reasons = (*reasons, f"not measured yet: keeps {kept} meanwhile")
        if t3.requires_identified_edge and state in (State.ACTIVE, State.DEMOTED):
            state, tier, reasons = _apply_edge(asset, state, tier, reasons, edges.get(asset), t3.min_edge_score,
                                               t3.edge_lookback)
        member = TierMember(asset, policy_tier, tier, state, reasons)
        members[asset] = member
        before = previous.members.get(asset) if previous is not None else None
        event = _event(ts, before or _baseline(policy_tier), member)
        if event is not None:
            events.append(event)
    return TierAssignment(ts, members, tuple(events))
