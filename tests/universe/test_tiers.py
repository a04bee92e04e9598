"""Tiers: screening failures remove or demote with an event; tier 3 follows the edge."""

from __future__ import annotations

from quantum_trader.config import Policy
from quantum_trader.domain.trading import Intent, Side
from quantum_trader.universe.screening import CORRELATION, CRITERIA, VOLUME, AssetScreen, CriterionResult, Status
from quantum_trader.universe.tiers import State, TierEventKind, assign_tiers, edge_figures

T0 = 1_735_689_600_000
DAY = 86_400_000
POLICY = Policy()


def screen(asset: str, **statuses: Status) -> AssetScreen:
    """A screen where every criterion passes except those named."""
    crits = tuple(
        CriterionResult(c, statuses.get(c, Status.PASS), None if statuses.get(c) is Status.UNKNOWN else 1.0, 0.5,
                        ">=", "usd", f"evidence for {c}")
        for c in CRITERIA
    )
    return AssetScreen(asset, f"{asset}/USDT:USDT", crits)


def all_pass() -> dict[str, AssetScreen]:
    return {a: screen(a) for a in POLICY.tradable_universe()}


def test_everything_passing_keeps_policy_tiers_and_raises_no_tier_1_2_event() -> None:
    result = assign_tiers(POLICY, all_pass(), ts=T0)
    assert result.tier_of("BTC") == 1 and result.tier_of("SOL") == 2
    assert result.tier_of("AVAX") is None and result.members["AVAX"].state is State.NO_EDGE
    assert result.events == ()
    assert result.tradable(POLICY, 1) == ("BTC", "ETH")


def test_failing_liquidity_removes_a_tier_1_asset_with_an_alert_event() -> None:
    screens = all_pass() | {"ETH": screen("ETH", **{VOLUME: Status.FAIL})}
    result = assign_tiers(POLICY, screens, ts=T0)
    eth = result.members["ETH"]
    assert eth.state is State.REMOVED and eth.tier is None
    (event,) = result.events
    assert event.kind is TierEventKind.REMOVED and event.asset == "ETH"
    assert event.message.startswith("ETH removed from tier 1")
    assert any("volume_24h" in e for e in event.evidence)
    assert result.tradable(POLICY, 1) == ("BTC",)


def test_too_correlated_demotes_one_tier_and_tier_3_then_needs_edge() -> None:
    screens = all_pass() | {"ETH": screen("ETH", **{CORRELATION: Status.FAIL}),
                            "SOL": screen("SOL", **{CORRELATION: Status.FAIL})}
    result = assign_tiers(POLICY, screens, ts=T0)
    assert result.members["ETH"].state is State.DEMOTED and result.tier_of("ETH") == 2
    assert result.members["SOL"].state is State.NO_EDGE and result.tier_of("SOL") is None
    kinds = {e.asset: e.kind for e in result.events}
    assert kinds == {"ETH": TierEventKind.DEMOTED, "SOL": TierEventKind.TIER3_DROPPED}


def test_unknown_criteria_suspend_the_asset_until_verified() -> None:
    screens = all_pass() | {"BTC": screen("BTC", **{"perpetual_listed": Status.UNKNOWN})}
    result = assign_tiers(POLICY, screens, ts=T0)
    assert result.members["BTC"].state is State.UNVERIFIED and result.tier_of("BTC") is None
    assert result.events[0].kind is TierEventKind.UNVERIFIED


def test_tier_3_admitted_while_edge_holds_then_dropped_when_it_disappears() -> None:
    lookback = POLICY.asset_tiers.tier_3.edge_lookback
    strong = [Intent(T0 - i * DAY, "AVAX/USDT:USDT", Side.LONG, 0.8, 30.0, 28.0) for i in range(5)]
    edges = edge_figures(strong, T0, lookback)
    assert edges["AVAX"].count == 5 and edges["AVAX"].mean == 0.8
    first = assign_tiers(POLICY, all_pass(), ts=T0, edges=edges)
    assert first.tier_of("AVAX") == 3
    assert [e.kind for e in first.events] == [TierEventKind.TIER3_ADMITTED]
    assert "edge 0.80 over 5 signals" in first.events[0].evidence[-1]
    assert "AVAX" in first.tradable(POLICY, 3) and "AVAX" not in first.tradable(POLICY, 2)
    # 40 days later no AVAX signal falls inside the 30d lookback: the edge has disappeared
    later = T0 + 40 * DAY
    second = assign_tiers(POLICY, all_pass(), ts=later, edges=edge_figures(strong, later, lookback), previous=first)
    assert second.tier_of("AVAX") is None
    (event,) = second.events
    assert event.kind is TierEventKind.TIER3_DROPPED and "edge disappeared" in event.message
    # a weak edge is not enough either
    weak = [Intent(later, "AVAX/USDT:USDT", Side.LONG, 0.3, 30.0, 28.0)]
    third = assign_tiers(POLICY, all_pass(), ts=later, edges=edge_figures(weak, later, lookback), previous=first)
    assert third.tier_of("AVAX") is None and "edge 0.30" in third.members["AVAX"].reasons[-1]


def test_events_fire_on_change_only_and_recovery_is_reported() -> None:
    bad = all_pass() | {"SOL": screen("SOL", **{VOLUME: Status.FAIL})}
    first = assign_tiers(POLICY, bad, ts=T0)
    again = assign_tiers(POLICY, bad, ts=T0 + DAY, previous=first)
    assert again.events == ()
    recovered = assign_tiers(POLICY, all_pass(), ts=T0 + 2 * DAY, previous=again)
    (event,) = recovered.events
    assert event.kind is TierEventKind.RESTORED and event.to_tier == 2
