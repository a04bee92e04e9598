"""A bad policy gets one line naming the key path, the value and the rule; nothing is guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantum_trader.config import PolicyError, load_policy, parse_policy


def _error(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "my.yaml", env=env or {})
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("portfolio: {max_total_exposure: 1.4}", "my.yaml:1: portfolio.max_total_exposure: must be in (0, 1], got 1.4"),
        ("portfolio: {max_total_exposure: 0}", "portfolio.max_total_exposure: must be in (0, 1], got 0"),
        ("portfolio: {max_positions: 0}", "portfolio.max_positions: must be a whole number > 0, got 0"),
        ("portfolio: {max_positions: '5'}", "portfolio.max_positions: Input should be a valid integer, got '5'"),
        ("portfolio: {max_postions: 3}", "portfolio.max_postions: unknown key"),
        ("correlation: {high_correlation_threshold: 1.2}", "must be a correlation in [-1, 1], got 1.2"),
        (
            "correlation: {exposure_measure: gross}",
            "correlation.exposure_measure: Input should be 'notional' or 'risk_amount'",
        ),
        ("correlation: {window: 24x}", "correlation.window: must be a duration such as 4h, 24h, 90d, got '24x'"),
        ("signals: {asset_models: {btc: {regime_sensitivity: 1}}}", "must be an upper-case asset code"),
        (
            "asset_requirements: {liquidity: {max_spread: 150%}}",
            "asset_requirements.liquidity.max_spread: must be in (0, 1]",
        ),
    ],
)
def test_field_errors_name_path_value_and_rule(text: str, expected: str) -> None:
    assert expected in _error(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "position_slots: {allocation_by_tier: {tier_2: {max_slots: 4}}}",
            "position_slots.allocation_by_tier.tier_2.max_slots (4) exceeds the 3 slots left after "
            "position_slots.allocation_by_tier.tier_1.reserved_slots (2) of position_slots.total_slots (5)",
        ),
        (
            "position_slots: {allocation_by_tier: {tier_1: {reserved_slots: 6}}}",
            "position_slots.allocation_by_tier.tier_1.reserved_slots (6) exceeds position_slots.total_slots (5)",
        ),
        (
            "portfolio: {max_correlated_exposure: 0.5}",
            "my.yaml:1: portfolio.max_correlated_exposure (0.5) must be <= portfolio.max_total_exposure (0.4)",
        ),
        (
            "portfolio: {max_positions: 6}",
            "my.yaml:1: portfolio.max_positions (6) must be <= position_slots.total_slots (5)",
        ),
        (
            "position_slots: {total_slots: 4, allocation_by_tier: {tier_2: {max_slots: 1}}}",
            "my.yaml:1: portfolio.max_positions (5) must be <= position_slots.total_slots (4)",
        ),
        (
            "sizing: {fee_estimate: 0.0001, slippage_estimate: 0.0002}",
            "my.yaml:1: sizing.fee_estimate + sizing.slippage_estimate (0.0003) must be >= "
            "venue.fees.binanceusdm.taker (0.0005)",
        ),
        (
            "venue: {exchange: bybit}\nsizing: {fee_estimate: 0.0005, slippage_estimate: 0}",
            "my.yaml:2: sizing.fee_estimate + sizing.slippage_estimate (0.0005) must be >= "
            "venue.fees.bybit.taker (0.00055)",
        ),
        ("venue: {funding_hours_utc: [0, 8, 8]}", "my.yaml:1: venue.funding_hours_utc: lists hour 8 twice"),
        (
            "per_asset: {max_daily_loss_per_asset: 0.06}",
            "per_asset.max_daily_loss_per_asset (0.06) must be <= portfolio.max_daily_loss_portfolio (0.05)",
        ),
        (
            "portfolio: {max_daily_loss_portfolio: 0.3}",
            "portfolio.max_daily_loss_portfolio (0.3) must be <= portfolio.max_drawdown_portfolio (0.2)",
        ),
        (
            "per_asset: {max_position_size: 0.5}",
            "per_asset.max_position_size (0.5) must be <= portfolio.max_total_exposure",
        ),
        ("drift: {exposure_alert: 0.45}", "drift.exposure_alert (0.45) must be <= portfolio.max_total_exposure (0.4)"),
        ("expansion: {phases: {1: {assets: [ETH]}}}", "phase 1 drops ['BTC'] admitted in phase 0"),
        (
            "expansion: {phases: {2: {assets: [BTC, ETH, DOGE]}, 3: {assets: [BTC, ETH, DOGE]}}}",
            "expansion.phases.2.assets: ['DOGE'] are in no asset tier",
        ),
        ("asset_tiers: {tier_2: {assets: {BTC: {name: Bitcoin}}}}", "asset BTC is listed in both tier_1 and tier_2"),
        ("venue: {exchange: kraken}", "venue.exchange (kraken) has no entry in venue.fees"),
    ],
)
def test_cross_field_rules(text: str, expected: str) -> None:
    assert expected in _error(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "sizing: {fee_estimate: 0.05}",
            "my.yaml:1: sizing.fee_estimate: must be in [0, 0.01] (per side: 0.0005 is 0.05%), got 0.05",
        ),
        (
            "sizing: {fee_estimate: -0.0001}",
            "sizing.fee_estimate: must be in [0, 0.01] (per side: 0.0005 is 0.05%), got -0.0001",
        ),
        (
            "sizing: {slippage_estimate: 0.5}",
            "my.yaml:1: sizing.slippage_estimate: must be in [0, 0.02] (per side: 0.0005 is 0.05%), got 0.5",
        ),
        (
            "venue: {funding_hours_utc: [0, 8, 24]}",
            "my.yaml:1: venue.funding_hours_utc.2: must be an hour 0..23, got 24",
        ),
        ("venue: {funding_hours_utc: [-1]}", "venue.funding_hours_utc.0: must be an hour 0..23, got -1"),
    ],
)
def test_cost_estimates_and_funding_hours_are_bounded(text: str, expected: str) -> None:
    assert expected in _error(text)


def test_limits_at_their_bounds_are_accepted() -> None:
    policy = parse_policy(
        "portfolio: {max_correlated_exposure: 0.4, max_total_exposure: 0.4}\n"
        "sizing: {fee_estimate: 0.01, slippage_estimate: 0.02}\n"
        "position_slots: {total_slots: 5}\nvenue: {funding_hours_utc: [0, 23]}\n",
        "my.yaml",
        env={},
    )
    assert policy.portfolio.max_correlated_exposure == policy.portfolio.max_total_exposure
    assert policy.venue.funding_hours_utc == (0, 23)


def test_several_errors_are_all_listed() -> None:
    message = _error("portfolio: {max_total_exposure: 2, max_positions: -1}")
    assert "portfolio.max_total_exposure" in message and "portfolio.max_positions" in message


def test_user_file_only_states_what_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("portfolio:\n  max_positions: 4\n")
    policy = load_policy(path, env={})
    assert policy.portfolio.max_positions == 4
    assert policy.portfolio.max_total_exposure == 0.40
    assert policy.per_asset.max_risk_per_trade == 0.02


@pytest.mark.parametrize("name", ["\n0\x850\u20280\u2028", "a\rb", "tab\there"])
def test_a_path_that_cannot_be_read_is_named_on_one_line(name: str) -> None:
    """A file name holding line breaks (``\\n``, NEL, LINE SEPARATOR) is shown escaped: the error stays one line
    a terminal prints as one, naming the path exactly as given."""
    with pytest.raises(PolicyError) as caught:
        load_policy(name, env={})
    message = str(caught.value)
    assert len(message.splitlines()) == 1 and message.isprintable(), message
    assert message.startswith(f"{name!r}: cannot read policy file")


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="missing.yaml: cannot read policy file"):
        load_policy(tmp_path / "missing.yaml", env={})
    bad = tmp_path / "bad.yaml"
    bad.write_text("portfolio: [unclosed\n")
    with pytest.raises(PolicyError, match="bad.yaml:2: not valid YAML"):
        load_policy(bad, env={})
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(PolicyError, match="must be a mapping of sections, got list"):
        load_policy(listed, env={})


def test_environment_overrides_scalars() -> None:
    policy = load_policy(env={"QT__PORTFOLIO__MAX_POSITIONS": "4", "QT__CORRELATION__EXPOSURE_MEASURE": "risk_amount"})
    assert policy.portfolio.max_positions == 4
    assert policy.correlation.exposure_measure == "risk_amount"


def test_environment_override_of_phase_keyed_by_number() -> None:
    assert load_policy(env={"QT__EXPANSION__PHASES__0__NAME": "BTC"}).expansion.phases[0].name == "BTC"


def test_environment_override_errors() -> None:
    with pytest.raises(PolicyError, match="QT__PORTFOLIO__NOPE: no policy key portfolio.nope"):
        load_policy(env={"QT__PORTFOLIO__NOPE": "1"})
    with pytest.raises(PolicyError, match="portfolio is a section, only scalar settings"):
        load_policy(env={"QT__PORTFOLIO": "1"})
    with pytest.raises(PolicyError, match="portfolio.max_total_exposure: must be in \\(0, 1\\], got 1.4"):
        load_policy(env={"QT__PORTFOLIO__MAX_TOTAL_EXPOSURE": "1.4"})


def test_policy_is_frozen() -> None:
    policy = load_policy(env={})
    with pytest.raises(ValueError, match="frozen"):
        policy.portfolio.max_positions = 9  # type: ignore[misc]


def test_tier_and_phase_views() -> None:
    policy = load_policy(env={})
    assert [policy.tier_of(a) for a in ("BTC", "SOL", "LINK", "DOGE")] == [1, 2, 3, None]
    assert policy.tradable_universe()[:2] == ("BTC", "ETH")
    assert policy.signals.model_for("XRP") == policy.signals.asset_models["BTC"]
    assert policy.signals.model_for("SOL").narrative_component is True
