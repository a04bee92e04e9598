"""Every default of the policy equals the number the spec states (a drifted default fails here)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.config.spec_tables import SPEC, bound, money, percent, spec_tables

from quantum_trader.config import Policy, load_policy


@pytest.fixture(scope="module")
def spec_text() -> str:
    if not SPEC.is_file():
        pytest.skip(f"spec not found at {SPEC} (present in CI, absent in a user's clone)")
    return SPEC.read_text("utf-8")


@pytest.fixture(scope="module")
def tables(spec_text: str) -> dict[str, Any]:
    return spec_tables(spec_text)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(env={})


def test_yaml_defaults_equal_model_defaults(policy: Policy) -> None:
    assert policy == Policy(), "default_policy.yaml and the model defaults disagree"


def test_risk_limits(tables: dict[str, Any], policy: Policy) -> None:
    limits = tables["MULTI_ASSET_RISK_LIMITS"]
    assert limits["per_asset"] == policy.per_asset.model_dump()
    assert limits["portfolio"] == policy.portfolio.model_dump()


def test_correlation_sketch(tables: dict[str, Any], policy: Policy) -> None:
    body = tables["check_correlation_limit"]
    threshold = float(re.search(r"if correlation > ([\d.]+)", body).group(1))  # type: ignore[union-attr]
    limit = float(re.search(r"portfolio_equity > ([\d.]+)", body).group(1))  # type: ignore[union-attr]
    assert policy.correlation.high_correlation_threshold == threshold
    assert policy.portfolio.max_correlated_exposure == limit


def test_position_slots(tables: dict[str, Any], policy: Policy) -> None:
    spec = tables["position_slots"]
    slots = policy.position_slots
    assert slots.total_slots == spec["total_slots"]
    alloc = spec["allocation_by_tier"]
    assert slots.allocation_by_tier.tier_1.reserved_slots == alloc["tier_1"]["reserved_slots"]
    assert slots.allocation_by_tier.tier_2.max_slots == alloc["tier_2"]["max_slots"]
    assert slots.allocation_by_tier.tier_3.max_slots == alloc["tier_3"]["max_slots"]
    words = {"edge_score": "edge score", "correlation_to_existing": "correlation", "liquidity": "liquidity"}
    assert len(slots.priority_on_conflict) == len(spec["priority_on_conflict"])
    for key, text in zip(slots.priority_on_conflict, spec["priority_on_conflict"], strict=True):
        assert words[key] in text.lower()


def test_asset_requirements(tables: dict[str, Any], policy: Policy) -> None:
    spec = tables["asset_requirements"]
    req = policy.asset_requirements
    assert req.liquidity.min_daily_volume == money(spec["liquidity"]["min_daily_volume"])
    assert req.liquidity.min_depth_at_1pct == money(spec["liquidity"]["min_depth_at_1pct"])
    assert req.liquidity.max_spread == pytest.approx(percent(spec["liquidity"]["max_spread"]))
    for key, value in spec["infrastructure"].items():
        assert getattr(req.infrastructure, key) is value
    assert req.correlation.btc_correlation_90d == bound(spec["correlation"]["btc_correlation_90d"])
    assert req.tradability.funding_rate_reasonable is spec["tradability"]["funding_rate_reasonable"]
    assert req.tradability.liquidation_risk == spec["tradability"]["liquidation_risk"]


def test_funding_limit_from_comment(spec_text: str, policy: Policy) -> None:
    match = re.search(r"funding_rate_reasonable: true\s+# < ([\d.]+%) per 8h", spec_text)
    assert match is not None
    assert policy.asset_requirements.tradability.max_typical_funding_8h == pytest.approx(percent(match.group(1)))


def test_tiers(spec_text: str, policy: Policy) -> None:
    rows = re.findall(r"│\s+([A-Z]{3})\s+- (\w+)\s+- (\$\d+B\+) daily volume\s+- ([^│]+?)\s+│", spec_text)
    assert len(rows) == 5
    tiers = policy.asset_tiers
    for code, name, volume, note in rows:
        tier = tiers.tier_1 if code in ("BTC", "ETH") else tiers.tier_2
        asset = tier.assets[code]
        assert (asset.name, asset.typical_daily_volume, asset.note) == (name, money(volume), note)
    tier3 = re.search(r"TIER 3.*?\n.*?\n\s*│\s+([A-Z, ]+), etc\.", spec_text)
    assert tier3 is not None
    assert set(tier3.group(1).replace(" ", "").split(",")) == set(tiers.tier_3.assets)
    assert tiers.tier_3.requires_identified_edge


def test_phases(spec_text: str, policy: Policy) -> None:
    phases = re.findall(r"PHASE (\d): ([A-Z ]+?) \((?:Current - )?Month ([\d+-]+)\)", spec_text)
    assert [int(n) for n, _, _ in phases] == [0, 1, 2, 3]
    for n, name, months in phases:
        phase = policy.expansion.phases[int(n)]
        assert (phase.name, phase.months) == (name, months)
    assert policy.phase_assets(0) == ("BTC",)
    assert "ETH" in policy.phase_assets(1) and "• Add ETH/USDT perpetual" in spec_text
    assert {"SOL", "BNB"} <= set(policy.phase_assets(2)) and "• Add SOL and/or BNB" in spec_text
    assert policy.expansion.phases[3].tier_3_selective


def test_phase_gates(tables: dict[str, Any], policy: Policy) -> None:
    spec = tables["phase_gates"]
    g01, g12, g23 = (policy.expansion.phase_gates.phase_0_to_1, policy.expansion.phase_gates.phase_1_to_2,
                     policy.expansion.phase_gates.phase_2_to_3)
    req01 = {k: v for item in spec["phase_0_to_1"]["required"] for k, v in item.items()}
    rec01 = {k: v for item in spec["phase_0_to_1"]["recommended"] for k, v in item.items()}
    assert g01.required.months_profitable_btc == 3 and req01["3_months_profitable_btc"] is True
    assert g01.required.max_drawdown_experienced == bound(req01["max_drawdown_experienced"])
    assert g01.required.kill_switch_tested is req01["kill_switch_tested"]
    assert g01.required.operations_stable is req01["operations_stable"]
    assert g01.recommended.sharpe_ratio == bound(rec01["sharpe_ratio"])
    assert g01.recommended.win_rate == bound(rec01["win_rate"])
    req12 = {k: v for item in spec["phase_1_to_2"]["required"] for k, v in item.items()}
    rec12 = {k: v for item in spec["phase_1_to_2"]["recommended"] for k, v in item.items()}
    assert g12.required.months_profitable_multi == 2 and req12["2_months_profitable_multi"] is True
    assert g12.required.correlation_monitoring_working is req12["correlation_monitoring_working"]
    assert g12.required.no_portfolio_limit_breaches is req12["no_portfolio_limit_breaches"]
    assert g12.recommended.eth_performance_positive is rec12["eth_performance_positive"]
    assert g12.recommended.portfolio_sharpe == bound(rec12["portfolio_sharpe"])
    req23 = {k: v for item in spec["phase_2_to_3"]["required"] for k, v in item.items()}
    assert req23["3_months_stable_3_assets"] is True
    assert (g23.required.months_stable_assets, g23.required.min_assets) == (3, 3)
    assert g23.required.slot_management_working is req23["slot_management_working"]
    assert g23.required.position_sizing_validated is req23["position_sizing_validated"]


def test_asset_models(tables: dict[str, Any], policy: Policy) -> None:
    spec = tables["ASSET_MODEL_CONFIG"]
    assert set(spec) == set(policy.signals.asset_models)
    for asset, values in spec.items():
        model = policy.signals.asset_models[asset].model_dump()
        for key, value in values.items():
            assert model[key] == value, f"{asset}.{key}"


def test_cross_asset_signals(tables: dict[str, Any], policy: Policy) -> None:
    spec = tables["CROSS_ASSET_SIGNALS"]
    cross = policy.signals.cross_asset
    div = spec["btc_divergence"]
    assert cross.btc_divergence.lookback == div["lookback"]
    assert cross.btc_divergence.threshold_std == float(div["threshold"].split("_")[0])
    assert cross.btc_divergence.expected_reversion is div["expected_reversion"]
    sector = spec["sector_momentum"]
    assert cross.sector_momentum.lookback == sector["lookback"]
    assert list(cross.sector_momentum.assets_in_sector) == sector["assets_in_sector"]
    assert cross.sector_momentum.signal_type == sector["signal_type"]
    brk = spec["correlation_breakdown"]
    assert cross.correlation_breakdown.normal_correlation == brk["normal_correlation"]
    assert cross.correlation_breakdown.current_correlation == brk["current_correlation"]
    assert cross.correlation_breakdown.signal_on_breakdown is brk["signal_on_breakdown"]


def test_scenarios(tables: dict[str, Any], policy: Policy) -> None:
    spec = tables["scenarios"]
    assert set(spec) == set(policy.scenarios)
    for name, values in spec.items():
        ours = policy.scenarios[name]
        assert ours.description == values["description"]
        assert ours.probability == values["probability"]
        assert list(ours.mitigation) == values["mitigation"]
        assert ours.worst_case == values["worst_case"]
        if "%" in values["worst_case"]:
            assert ours.worst_case_loss == pytest.approx(abs(percent(values["worst_case"])))
        if "per year" in values["probability"]:
            assert ours.probability_per_year == pytest.approx(percent(values["probability"]))


def test_scenario_mitigations_match_limits(policy: Policy) -> None:
    crash = policy.scenarios["correlated_crash"]
    assert f"{policy.portfolio.max_total_exposure:.0%}" in crash.mitigation[0]
    assert crash.worst_case_loss == policy.portfolio.max_drawdown_portfolio
    assert policy.scenarios["single_asset_anomaly"].worst_case_loss == policy.per_asset.max_daily_loss_per_asset


def test_dashboard_and_alerts(tables: dict[str, Any], policy: Policy) -> None:
    spec = tables["multi_asset_dashboard"]
    assert list(policy.dashboard.portfolio_view) == spec["portfolio_view"]
    assert list(policy.dashboard.per_asset_view) == spec["per_asset_view"]
    exposure_alert = next(a for a in spec["alerts"] if "exposure" in a)
    assert policy.dashboard.alerts.portfolio_exposure_above == pytest.approx(bound(exposure_alert.split("exposure")[1]))
    assert policy.drift.exposure_alert == policy.dashboard.alerts.portfolio_exposure_above
    assert len(spec["alerts"]) == 4


def test_data_requirements(tables: dict[str, Any], policy: Policy) -> None:
    spec = tables["data_requirements"]
    names = {
        "candles_1m": "1m candles", "candles_5m": "5m candles", "candles_1h": "1h candles",
        "orderbook_l2": "Order book snapshots (L2)", "trade_flow": "Trade flow", "funding_rate": "Funding rate",
    }
    assert [names[f] for f in policy.data_requirements.per_asset] == [
        re.sub(r" \(real-time\)", "", item) for item in spec["per_asset"]
    ]
    assert len(policy.data_requirements.cross_asset) == len(spec["cross_asset"])
    assert "24h" in spec["cross_asset"][0] and policy.correlation.window == "24h"


def test_capacity(tables: dict[str, Any], policy: Policy) -> None:
    spec = tables["capacity_scaling"]
    assert {k: v.model_dump() for k, v in policy.capacity_scaling.items()} == spec


def test_summary_box(spec_text: str, policy: Policy) -> None:
    summary = spec_text[spec_text.index("RISK LIMITS:"):spec_text.index("KEY PRINCIPLE:")]
    stated = {label.strip(): value for value, label in re.findall(r"• (\d+%?) ([a-z ]+?)(?: \(|\s+│)", summary)}
    assert stated, "summary box not parsed"
    ours = {
        "per trade": policy.per_asset.max_risk_per_trade,
        "daily loss": policy.portfolio.max_daily_loss_portfolio,
        "drawdown": policy.portfolio.max_drawdown_portfolio,
        "max total exposure": policy.portfolio.max_total_exposure,
        "max correlated exposure": policy.portfolio.max_correlated_exposure,
        "max positions": float(policy.portfolio.max_positions),
    }
    assert set(stated) == set(ours)
    for label, text in stated.items():
        value = percent(text) if text.endswith("%") else float(text)
        assert ours[label] == pytest.approx(value), label
