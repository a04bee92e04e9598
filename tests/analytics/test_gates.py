"""Each phase gate on synthetic runs built to pass it and to fail each required criterion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.analytics.test_gates_builders import (
    DAY,
    HOUR,
    T0,
    build_run,
    day,
    equity_for,
    event,
    hourly_correlation_updates,
    monthly_trades,
    trade,
)

from quantum_trader.analytics.gates import GateStatus, Level, evaluate_gate
from quantum_trader.analytics.gates_evidence import Evidence
from quantum_trader.config import Policy
from quantum_trader.journal.store import DrillRecord

POLICY = Policy()
GOOD_DRILL = DrillRecord(ts=T0, mode="paper", phase=0, positions_before=1, positions_after=0, all_closed=True,
                         tripped=True, trip_reason="drill", equity_before=1.0, equity_after=1.0, id=1)
BAD_DRILL = DrillRecord(ts=T0, mode="paper", phase=0, positions_before=1, positions_after=1, all_closed=False,
                        tripped=True, trip_reason="drill", equity_before=1.0, equity_after=1.0, id=2)


def status(verdict, name: str) -> GateStatus:  # type: ignore[no-untyped-def]
    return next(c for c in verdict.criteria if c.name == name).status


def gate0(tmp_path: Path, trades=None, equity=None, events=(), drills=(GOOD_DRILL,)):  # type: ignore[no-untyped-def]
    trades = monthly_trades("BTC") if trades is None else trades
    equity = equity_for(trades) if equity is None else equity
    run = build_run(tmp_path / "run", trades=trades, equity=equity, events=events)
    return evaluate_gate(0, Evidence.from_run(run, drills=drills, drill_source="journal test"), POLICY)


# ----------------------------------------------------------------------------- phase 0 -> 1

def test_gate_0_passes_on_three_profitable_btc_months_with_a_drill(tmp_path: Path) -> None:
    verdict = gate0(tmp_path)
    assert verdict.supported and not verdict.promotion_allowed, verdict.summary()
    assert {c.status for c in verdict.criteria} == {GateStatus.PASS}
    months = verdict.criteria[0]
    assert months.name == "3_months_profitable_btc" and months.value == 3
    assert "2025-01 +400" in months.detail and months.source == "run run/trades.parquet"
    assert status(verdict, "win_rate") is GateStatus.PASS


def test_gate_0_counts_the_latest_months_so_a_losing_last_month_fails(tmp_path: Path) -> None:
    trades = monthly_trades("BTC", months=(1, 2)) + monthly_trades("BTC", (-300.0, 100.0, -100.0), months=(3,))
    verdict = gate0(tmp_path, trades=trades)
    months = verdict.criteria[0]
    assert months.status is GateStatus.FAIL and months.value == 0
    assert not verdict.supported and not verdict.promotion_allowed


def test_gate_0_fails_on_a_drawdown_worse_than_15_percent(tmp_path: Path) -> None:
    trades = [*monthly_trades("BTC"), trade("BTC", day(1, 10), -20_000.0), trade("BTC", day(1, 20), 21_000.0)]
    verdict = gate0(tmp_path, trades=trades)
    dd = next(c for c in verdict.criteria if c.name == "max_drawdown_experienced")
    assert dd.status is GateStatus.FAIL and dd.value is not None and dd.value < -0.15


def test_gate_0_kill_switch_untested_is_no_evidence_and_blocks(tmp_path: Path) -> None:
    verdict = gate0(tmp_path, drills=())
    assert status(verdict, "kill_switch_tested") is GateStatus.NO_EVIDENCE
    assert [c.name for c in verdict.blocking] == ["kill_switch_tested"]


def test_gate_0_a_failed_drill_fails_the_kill_switch_criterion(tmp_path: Path) -> None:
    assert status(gate0(tmp_path, drills=(BAD_DRILL,)), "kill_switch_tested") is GateStatus.FAIL


def test_gate_0_a_real_trip_counts_only_if_the_book_was_flat_afterwards(tmp_path: Path) -> None:
    trades = monthly_trades("BTC")
    trip = [event(day(2, 10), "kill_switch_trip", "portfolio down 5.2%")]
    flat = equity_for(trades)
    flat.loc[flat["ts"] == T0 + 41 * DAY, "open_positions"] = 0  # the row after 2025-02-10 12:00
    assert status(gate0(tmp_path / "a", trades, flat, trip, drills=()), "kill_switch_tested") is GateStatus.PASS
    held = equity_for(trades)
    assert status(gate0(tmp_path / "b", trades, held, trip, drills=()), "kill_switch_tested") is GateStatus.FAIL


def test_gate_0_an_incident_makes_operations_unstable(tmp_path: Path) -> None:
    verdict = gate0(tmp_path, events=[event(day(3, 3), "liquidation", "BTC liquidated at 90000")])
    ops = next(c for c in verdict.criteria if c.name == "operations_stable")
    assert ops.status is GateStatus.FAIL and ops.value == 1 and "BTC liquidated" in ops.detail


def test_gate_0_without_trades_says_no_evidence_not_pass(tmp_path: Path) -> None:
    run = build_run(tmp_path / "run", trades=None, equity=equity_for(monthly_trades("BTC")), events=None)
    verdict = evaluate_gate(0, Evidence.from_run(run, drills=(GOOD_DRILL,)), POLICY)
    assert status(verdict, "3_months_profitable_btc") is GateStatus.NO_EVIDENCE
    assert status(verdict, "operations_stable") is GateStatus.NO_EVIDENCE
    assert status(verdict, "win_rate") is GateStatus.NO_EVIDENCE
    assert not verdict.supported and not verdict.promotion_allowed


def test_recommended_criteria_never_block(tmp_path: Path) -> None:
    trades = monthly_trades("BTC", (500.0, -100.0, -100.0))  # profitable months, win rate 1/3
    verdict = gate0(tmp_path, trades=trades)
    rate = next(c for c in verdict.criteria if c.name == "win_rate")
    assert rate.level is Level.RECOMMENDED and rate.status is GateStatus.FAIL
    assert verdict.supported and not verdict.promotion_allowed


# ----------------------------------------------------------------------------- phase 1 -> 2

def gate1(tmp_path: Path, trades=None, equity=None, events=None):  # type: ignore[no-untyped-def]
    trades = monthly_trades("BTC") + monthly_trades("ETH") if trades is None else trades
    equity = equity_for(trades) if equity is None else equity
    events = hourly_correlation_updates() if events is None else events
    run = build_run(tmp_path / "run", trades=trades, equity=equity, events=events)
    return evaluate_gate(1, Evidence.from_run(run), POLICY)


def test_gate_1_passes_on_a_profitable_monitored_multi_asset_run(tmp_path: Path) -> None:
    verdict = gate1(tmp_path)
    assert verdict.supported and not verdict.promotion_allowed, verdict.summary()
    assert status(verdict, "eth_performance_positive") is GateStatus.PASS


def test_gate_1_a_btc_only_run_is_not_multi_asset(tmp_path: Path) -> None:
    verdict = gate1(tmp_path, trades=monthly_trades("BTC"))
    months = verdict.criteria[0]
    assert months.status is GateStatus.FAIL and "not a multi-asset run" in months.detail
    assert status(verdict, "eth_performance_positive") is GateStatus.NO_EVIDENCE


def test_gate_1_correlation_gap_longer_than_the_policy_limit_fails(tmp_path: Path) -> None:
    gap = hourly_correlation_updates(skip=(T0 + 10 * DAY, T0 + 10 * DAY + 3 * HOUR))
    crit = next(c for c in gate1(tmp_path, events=gap).criteria if c.name == "correlation_monitoring_working")
    assert crit.status is GateStatus.FAIL and crit.value == pytest.approx(4.0)


def test_gate_1_no_correlation_updates_is_no_evidence(tmp_path: Path) -> None:
    assert status(gate1(tmp_path, events=[]), "correlation_monitoring_working") is GateStatus.NO_EVIDENCE


def test_gate_1_an_exposure_above_the_limit_is_a_breach(tmp_path: Path) -> None:
    trades = monthly_trades("BTC") + monthly_trades("ETH")
    equity = equity_for(trades)
    entry = int(np.searchsorted(equity["ts"].to_numpy(), trades[0]["entry_ts"]))  # the row after the entry
    equity.loc[equity.index[entry], "total_exposure"] = 0.45
    crit = next(c for c in gate1(tmp_path, equity=equity).criteria if c.name == "no_portfolio_limit_breaches")
    assert crit.status is GateStatus.FAIL and crit.value == 1 and "total exposure > 40% at an entry" in crit.detail


def test_gate_1_drift_after_entry_is_not_a_breach(tmp_path: Path) -> None:
    """Limits bind at entry; prices moving a held book above them later is drift, for the monitor."""
    trades = monthly_trades("BTC") + monthly_trades("ETH")
    equity = equity_for(trades)
    after_entries = set(np.searchsorted(equity["ts"].to_numpy(), [t["entry_ts"] for t in trades]).tolist())
    later = next(i for i in range(len(equity)) if i not in after_entries)
    equity.loc[equity.index[later], "correlated_exposure"] = 0.30
    crit = next(c for c in gate1(tmp_path, equity=equity).criteria if c.name == "no_portfolio_limit_breaches")
    assert crit.status is GateStatus.PASS


# ----------------------------------------------------------------------------- phase 2 -> 3

def stopped(symbol: str, ratio: float) -> list[dict]:  # type: ignore[type-arg]
    return [trade(symbol, day(m, 8), -100.0 * ratio, exit_reason="stop", planned_risk=100.0) for m in (1, 2, 3)]


def gate2(tmp_path: Path, trades=None, equity=None, events=()):  # type: ignore[no-untyped-def]
    if trades is None:
        trades = [t for a in ("BTC", "ETH", "SOL") for t in monthly_trades(a)] + stopped("SOL", 1.05)
    equity = equity_for(trades, open_positions=3, slots_tier_1=2, slots_tier_2=1) if equity is None else equity
    run = build_run(tmp_path / "run", trades=trades, equity=equity, events=events)
    return evaluate_gate(2, Evidence.from_run(run), POLICY)


def test_gate_2_passes_with_three_assets_slots_kept_and_sizing_on_plan(tmp_path: Path) -> None:
    verdict = gate2(tmp_path)
    assert verdict.supported and not verdict.promotion_allowed, verdict.summary()
    sizing = next(c for c in verdict.criteria if c.name == "position_sizing_validated")
    assert sizing.value == pytest.approx(1.05)


def test_gate_2_a_month_with_a_kill_switch_trip_is_not_stable(tmp_path: Path) -> None:
    verdict = gate2(tmp_path, events=[event(day(3, 2), "kill_switch_trip")])
    crit = verdict.criteria[0]
    assert crit.status is GateStatus.FAIL and crit.value == 0


def test_gate_2_two_assets_are_not_three(tmp_path: Path) -> None:
    trades = [t for a in ("BTC", "ETH") for t in monthly_trades(a)] + stopped("ETH", 1.0)
    assert gate2(tmp_path, trades=trades).criteria[0].status is GateStatus.FAIL


def test_gate_2_a_tier_2_slot_over_its_cap_fails_slot_management(tmp_path: Path) -> None:
    trades = [t for a in ("BTC", "ETH", "SOL") for t in monthly_trades(a)] + stopped("SOL", 1.0)
    equity = equity_for(trades, open_positions=3, slots_tier_1=1, slots_tier_2=2)
    equity.loc[30, ["slots_tier_2", "open_positions"]] = [3, 4]
    crit = next(c for c in gate2(tmp_path, trades, equity).criteria if c.name == "slot_management_working")
    assert crit.status is GateStatus.FAIL and crit.value == 1 and "tier-2 3" in crit.detail


def test_gate_2_losses_twice_the_planned_risk_fail_sizing(tmp_path: Path) -> None:
    trades = [t for a in ("BTC", "ETH", "SOL") for t in monthly_trades(a)] + stopped("SOL", 2.0)
    crit = next(c for c in gate2(tmp_path, trades=trades).criteria if c.name == "position_sizing_validated")
    assert crit.status is GateStatus.FAIL and crit.value == pytest.approx(2.0)


def test_gate_2_without_stopped_trades_sizing_has_no_evidence(tmp_path: Path) -> None:
    trades = [t for a in ("BTC", "ETH", "SOL") for t in monthly_trades(a)]
    verdict = gate2(tmp_path, trades=trades)
    assert status(verdict, "position_sizing_validated") is GateStatus.NO_EVIDENCE
    assert not verdict.supported and not verdict.promotion_allowed


def test_there_is_no_gate_out_of_phase_3(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no gate out of phase 3"):
        evaluate_gate(3, Evidence("none"), POLICY)


# ----------------------------------------------------------------------------- a backtest never opens a gate

STATUSES = list(GateStatus)


@pytest.mark.parametrize("phase", [0, 1, 2])
def test_a_backtest_never_opens_a_gate_whatever_each_criterion_shows(tmp_path: Path, phase: int) -> None:
    """Every criterion of every gate forced to each status in turn (and all to pass): a backtest verdict only ever
    says what the run supports."""
    from dataclasses import replace

    trades = monthly_trades("BTC")
    run = build_run(tmp_path / "run", trades=trades, equity=equity_for(trades), events=[])
    verdict = evaluate_gate(phase, Evidence.from_run(run, drills=(GOOD_DRILL,), drill_source="journal"), POLICY)
    assert verdict.evidence == "backtest"
    everything = replace(verdict, criteria=tuple(replace(c, status=GateStatus.PASS) for c in verdict.criteria))
    assert everything.supported and not everything.promotion_allowed
    assert "a backtest cannot open a gate" in everything.summary()
    for i in range(len(verdict.criteria)):
        for st in STATUSES:
            one = replace(everything, criteria=tuple(replace(c, status=st) if j == i else c
                                                     for j, c in enumerate(everything.criteria)))
            assert not one.promotion_allowed
            assert one.to_dict()["promotion_allowed"] is False
