"""Every scenario through the whole engine on a small market whose book is known: three longs of 10% of equity,
each with a stop 2% below its entry, held to the end. What each scenario must do to that book is worked out
from the scenario's definition, not read off a run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from tests.analytics.stress.markets import STOP, HoldLongs, small_market

from quantum_trader.analytics.stress.bounds import BoundKind
from quantum_trader.analytics.stress.compose import run_engine
from quantum_trader.analytics.stress.injections import market_betas
from quantum_trader.analytics.stress.measures import measure
from quantum_trader.analytics.stress.names import SCENARIOS, UnknownScenarioError, choose
from quantum_trader.analytics.stress.placement import place
from quantum_trader.analytics.stress.rows import COLUMNS, data_row, display_row
from quantum_trader.analytics.stress.runner import ScenarioResult, StressOutcome, run_scenarios
from quantum_trader.analytics.stress.scenarios import FAMILIES, build
from quantum_trader.config import load_policy
from quantum_trader.domain.time import MS_PER_MINUTE
from quantum_trader.testkit import policy_with

POLICY = load_policy(None, env={})


@pytest.fixture(scope="module")
def outcome() -> StressOutcome:
    return run_scenarios(small_market(), POLICY, HoldLongs(), phase=3)


def _result(outcome: StressOutcome, name: str) -> ScenarioResult:
    return next(r for r in outcome.results if r.name == name)


def test_every_scenario_runs_and_gives_its_row_in_the_policys_order_then_ours(outcome: StressOutcome) -> None:
    names = [r.name for r in outcome.results]
    assert names[:3] == ["correlated_crash", "single_asset_anomaly", "liquidity_crisis"]
    assert sorted(names) == sorted(FAMILIES)
    for result in outcome.results:
        row = display_row(result)
        assert list(row) == list(COLUMNS)
        assert row["result"] == ("pass" if result.passed else "BROKEN")
        stored = data_row(result)
        assert stored["passed"] == result.passed and stored["bound_limit"] == result.verdicts[0].bound.limit
        assert result.figures.exposure_at_start == pytest.approx(0.30, abs=0.01)  # the shock met the whole book


def test_the_policys_scenarios_are_held_to_the_spec_worst_case(outcome: StressOutcome) -> None:
    crash = _result(outcome, "correlated_crash").verdicts[0].bound
    assert (crash.kind, crash.limit, crash.source) == (BoundKind.DRAWDOWN, 0.20, "spec worst case: -20% (kill-switch)")
    anomaly = _result(outcome, "single_asset_anomaly").verdicts[0].bound
    assert (anomaly.kind, anomaly.limit) == (BoundKind.ASSET_LOSS, 0.03)
    liquidity = _result(outcome, "liquidity_crisis").verdicts[0].bound
    assert (liquidity.kind, liquidity.limit) == (BoundKind.TRADE_RISK, 0.02)
    assert liquidity.source == "spec worst case: Slippage on exits; held to policy per_asset.max_risk_per_trade"


def test_before_its_start_a_scenario_changes_nothing(outcome: StressOutcome) -> None:
    unstressed = outcome.baseline.equity
    for result in outcome.results:
        start = result.window.start_ms
        mine = result.equity[result.equity["ts"] < start].reset_index(drop=True)
        theirs = unstressed[unstressed["ts"] < start].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, theirs)


def test_a_slide_meets_the_stops_at_their_level(outcome: StressOutcome) -> None:
    result = _result(outcome, "correlated_crash")
    stops = [e for e in result.figures.exits if e.reason in ("stop", "stop_gap")]
    assert len(stops) == 3 and all(e.reason == "stop" and e.gap == 0 for e in stops)
    assert result.passed
    worst = result.figures.worst_trade
    assert worst is not None and worst.loss < POLICY.per_asset.max_risk_per_trade


def test_a_flash_crash_gaps_through_every_stop_and_breaks_the_risk_budget_and_the_daily_trip(
        outcome: StressOutcome) -> None:
    result = _result(outcome, "flash_crash")
    betas = market_betas(small_market(), "BTC/USDT:USDT")
    gaps = sorted(e.gap for e in result.figures.exits if e.reason == "stop_gap")
    # each stop sat 2% below its entry; a 20% gap (times the asset's beta) opens that far below the stop
    expected = sorted(1 - (1 - 0.20) ** betas[s] / (1 - STOP) for s in betas)
    assert gaps == pytest.approx(expected, abs=0.02)
    assert not result.passed
    trade, day = result.verdicts
    assert trade.figure > 0.02 and not trade.passed
    assert any("gapped through its stop" in line for line in trade.why)
    trip = result.figures.trip
    assert trip is not None and trip.kind == "daily" and trip.ts == result.window.start_ms + MS_PER_MINUTE
    assert not day.passed and day.figure > 0.05
    assert any("overshot by" in line for line in day.why)


def test_an_outage_hides_the_move_until_the_first_bar_back(outcome: StressOutcome) -> None:
    result = _result(outcome, "exchange_outage")
    start = result.window.start_ms
    back = start + 30 * MS_PER_MINUTE
    assert all(e.ts >= back for e in result.figures.exits)
    assert max(e.gap for e in result.figures.exits) > 0.10  # the stops fill at the first open after the gap
    assert result.figures.trip is None or result.figures.trip.ts > back


def test_a_funding_spike_charges_the_book_and_nothing_else_moves(outcome: StressOutcome) -> None:
    result = _result(outcome, "funding_spike")
    fills = [(e.ts, e.symbol, e.price) for e in result.figures.exits]
    assert fills == [(e.ts, e.symbol, e.price) for e in result.unstressed.exits]  # the same exits, at the same prices
    end = result.window.end_ms

    def equity_at(frame: pd.DataFrame) -> float:
        return float(frame.loc[frame["ts"] <= end, "equity"].iloc[-1])

    paid = (equity_at(outcome.baseline.equity) - equity_at(result.equity)) / result.figures.equity_at_start
    # 24 hourly settlements of 0.5% on the 30% held, less what the stops closed before the day was over
    assert 0.5 * 24 * 0.005 * 0.30 < paid <= 24 * 0.005 * 0.31


def test_correlation_going_to_one_counts_the_whole_book_as_one_position(outcome: StressOutcome) -> None:
    result = _result(outcome, "correlation_to_one")
    own = result.verdicts[0]
    assert own.bound.kind is BoundKind.CORRELATED and not own.passed
    assert own.figure == pytest.approx(result.figures.gross_exposure) and own.figure > 0.25
    assert result.figures.correlated_exposure < 0.25  # the scripted strategy's matrix never saw it
    assert any("drift.action is 'alert'" in line for line in own.why)


def test_a_delisted_asset_settles_through_its_stop_at_the_last_bar(outcome: StressOutcome) -> None:
    result = _result(outcome, "asset_delisted")
    (symbol,) = result.placement.assets
    exits = [e for e in result.figures.exits if e.symbol == symbol]
    assert [e.reason for e in exits] == ["stop_gap"] and exits[0].ts == result.shock_ms
    # a 30% settlement gap on a 10% position: 3% of equity, less the 2% the stop was already below
    assert result.verdicts[0].figure == pytest.approx(0.10 * (1 - 0.70 / (1 - STOP)) + 0.10 * STOP, abs=0.004)


def test_a_single_asset_anomaly_hits_one_held_asset_against_its_side(outcome: StressOutcome) -> None:
    result = _result(outcome, "single_asset_anomaly")
    (symbol,) = result.placement.assets
    assert result.placement.sides == {symbol: 1} and result.placement.direction == -1
    assert result.passed and 0 < result.verdicts[0].figure < 0.03
    assert {e.symbol for e in result.figures.exits if e.ts <= result.window.end_ms} == {symbol}


def test_thin_books_make_the_same_exits_slip_more() -> None:
    market, spec = small_market(), FAMILIES["liquidity_crisis"].spec
    baseline = run_engine(market, POLICY, HoldLongs(), phase=3)
    placement = place(market, baseline, spec)
    betas = market_betas(market, "BTC/USDT:USDT")

    def worst_book_slippage(thin: bool) -> float:
        chosen = spec if thin else replace(spec, spread_mult=1.0, depth_mult=1.0)
        built = build(market, chosen, placement, leader="BTC/USDT:USDT", betas=betas)
        figures = measure(run_engine(built.market, POLICY, HoldLongs(), phase=3), built.window)
        return max(e.book for e in figures.exits)

    thick, thin = worst_book_slippage(False), worst_book_slippage(True)
    assert thin > 3 * thick > 0


def test_a_policy_changes_the_bounds_it_is_held_to() -> None:
    policy = policy_with({"scenarios.correlated_crash.worst_case_loss": 0.10, "per_asset.max_risk_per_trade": 0.01})
    from quantum_trader.analytics.stress.bounds import scenario_bounds

    crash = scenario_bounds(policy, "correlated_crash", FAMILIES["correlated_crash"].bounds)
    assert [(b.kind, b.limit) for b in crash] == [(BoundKind.DRAWDOWN, 0.10), (BoundKind.DAY_LOSS, 0.05)]
    flash = scenario_bounds(policy, "flash_crash", FAMILIES["flash_crash"].bounds)
    assert flash[0].limit == 0.01 and flash[0].source == "policy per_asset.max_risk_per_trade"


def test_a_flat_book_breaks_nothing() -> None:
    from tests.analytics.stress.markets import NeverTrades

    flat = run_scenarios(small_market(), POLICY, NeverTrades(), names=["flash_crash", "asset_delisted"], phase=3)
    assert all(r.passed and r.figures.worst_loss == 0 for r in flat.results)
    assert "nothing in reach" in flat.results[0].placement.note


def test_an_unknown_scenario_is_named_with_the_choices() -> None:
    with pytest.raises(UnknownScenarioError, match=r"unknown scenario 'black_swan'; choose from correlated_crash"):
        choose(POLICY, ["flash_crash", "black_swan"])
    assert choose(POLICY, ["flash_crash", "flash_crash"]) == ["flash_crash"]
    assert tuple(FAMILIES) == SCENARIOS  # the light list the command checks names against is the real one
    assert choose(POLICY, []) == list(SCENARIOS)


def test_a_shock_on_one_asset_moves_it_by_the_whole_move_whatever_the_dispersion() -> None:
    from quantum_trader.analytics.stress.scenarios import Placement

    market, spec = small_market(), FAMILIES["single_asset_anomaly"].spec
    eth = "ETH/USDT:USDT"
    at = market.start_ms + 600 * MS_PER_MINUTE
    placement = Placement(at, -1, (eth,), {eth: 1}, "by hand")
    built = build(market, spec, placement, leader="BTC/USDT:USDT", betas=dict.fromkeys(market.symbols, 1.7),
                  weights=dict.fromkeys(market.symbols, 0.0))
    after = market.bars[eth].ts >= at + spec.duration_ms
    ratio = built.market.bars[eth].close[after] / market.bars[eth].close[after]
    assert ratio == pytest.approx(np.full(ratio.size, 1 - spec.move))
    assert built.market.bars["BTC/USDT:USDT"] is market.bars["BTC/USDT:USDT"]
