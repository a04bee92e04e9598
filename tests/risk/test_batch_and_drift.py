"""Slot competition in one cycle, and drift after entry."""

from __future__ import annotations

from tests.risk.builders import T0, intent, ledger_with, market, policy_with, sym

from quantum_trader.config.policy import Policy
from quantum_trader.portfolio import mark
from quantum_trader.risk import ActionKind, EventKind, armed, compile_limits, drift, evaluate_batch

LIMITS = compile_limits(Policy())
SWITCH = armed(T0)


def test_higher_edge_wins_the_last_tier2_slot_and_loser_is_told_why() -> None:
    state = ledger_with({"BNB": 3_000})
    result = evaluate_batch(
        [intent("SOL", edge=0.6), intent("XRP", edge=0.9)],
        state,
        market(policy_with(), phase=3),
        LIMITS,
        switch=SWITCH,
    )
    # XRP is not admitted in phase 3: it never competes, so SOL wins without a conflict
    assert result.decisions[0].approved and not result.conflicts
    m = market(phase=3)
    two = evaluate_batch(
        [intent("AVAX", edge=0.65), intent("AVAX", edge=0.9), intent("SOL", edge=0.8)],
        ledger_with({"LINK": 3_000}),
        m,
        LIMITS,
        switch=SWITCH,
    )
    assert not two.decisions[0].approved and not two.decisions[1].approved  # tier 3 full (LINK)
    assert two.decisions[2].approved


def test_conflict_ranking_edge_then_correlation_then_liquidity() -> None:
    state = ledger_with({"BTC": 3_000, "BNB": 3_000})
    m = market(pairs={("SOL", "BTC"): 0.6, ("AVAX", "BTC"): 0.2})
    # one shared slot left for tiers 2/3 (BNB holds one of three); SOL and AVAX tie on edge
    policy = policy_with(position_slots={"total_slots": 4}, portfolio={"max_positions": 4})
    limits = compile_limits(policy)
    result = evaluate_batch(
        [intent("SOL", edge=0.7), intent("AVAX", edge=0.7)], state, m, limits, switch=SWITCH
    )
    assert result.ranking == (1, 0)  # AVAX less correlated to what is held
    assert result.decisions[1].approved and not result.decisions[0].approved
    (conflict,) = result.conflicts
    assert conflict.loser.symbol == sym("SOL") and conflict.winners[0].symbol == sym("AVAX")
    assert "slot_priority" in {r.rule for r in result.decisions[0].reasons}
    deep = market(pairs={("SOL", "BTC"): 0.2, ("AVAX", "BTC"): 0.2}, depth={"SOL": 9e7, "AVAX": 6e7})
    by_depth = evaluate_batch(
        [intent("AVAX", edge=0.7), intent("SOL", edge=0.7)], state, deep, limits, switch=SWITCH
    )
    assert by_depth.ranking == (1, 0)
    higher_edge = evaluate_batch(
        [intent("SOL", edge=0.9), intent("AVAX", edge=0.7)], state, m, limits, switch=SWITCH
    )
    assert higher_edge.decisions[0].approved and not higher_edge.decisions[1].approved


def test_batch_never_exceeds_total_exposure_together() -> None:
    state = ledger_with({"SOL": 10_000, "BNB": 15_000})
    result = evaluate_batch([intent("BTC"), intent("ETH")], state, market(), LIMITS, switch=SWITCH)
    total = state.figures.total_notional + sum(
        float(d.quantity) * d.intent.entry_price for d in result.decisions
    )
    assert total <= 0.40 * 100_000
    assert result.decisions[0].approved and result.decisions[1].approved
    assert result.conflicts and result.conflicts[0].loser.symbol == sym("ETH")


def test_drift_alerts_above_35_and_breaches_above_40() -> None:
    state = ledger_with({"BTC": 10_000, "SOL": 10_000, "BNB": 10_000, "AVAX": 5_000})
    m = market()
    assert drift(state, m, LIMITS, T0).events == ()
    up = mark(state, {sym("BTC"): 112_000.0, sym("SOL"): 220.0}, T0 + 1)  # 38.2%
    assert [e.kind for e in drift(up, m, LIMITS, T0 + 1).events] == [EventKind.DRIFT_EXPOSURE_ALERT]
    more = mark(state, {sym("BTC"): 150_000.0, sym("SOL"): 300.0}, T0 + 1)  # 40.9%
    report = drift(more, m, LIMITS, T0 + 1)
    assert EventKind.DRIFT_EXPOSURE_BREACH in [e.kind for e in report.events] and not report.actions
    trim = compile_limits(policy_with(drift={"action": "trim"}))
    (action,) = drift(more, m, trim, T0 + 1).actions
    assert action.kind is ActionKind.TRIM and action.symbol == sym("BTC")
    excess = more.figures.total_notional - 0.4 * more.figures.equity
    assert action.notional is not None and abs(action.notional - excess) < 1e-6


def test_drift_correlated_after_correlations_rise() -> None:
    state = ledger_with({"BTC": 10_000, "ETH": 10_000, "SOL": 8_000})
    assert drift(state, market(), LIMITS, T0).correlated_exposure < 0.25
    spiked = market(corr=0.9)
    report = drift(state, spiked, LIMITS, T0)
    event = next(e for e in report.events if e.kind is EventKind.DRIFT_CORRELATED)
    assert event.figure is not None and event.figure > 0.25 and event.limit == 0.25
