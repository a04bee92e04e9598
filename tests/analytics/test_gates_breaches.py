"""``no_portfolio_limit_breaches`` counts breaches (episodes, entry fills over a limit), never equity rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st
from tests.analytics.test_gates_builders import (
    build_run,
    equity_for,
    event,
    hourly_correlation_updates,
    monthly_trades,
    run_metrics,
)

from quantum_trader.analytics.gates import GateCriterion, GateStatus, evaluate_gate
from quantum_trader.analytics.gates_breaches import episode_starts
from quantum_trader.analytics.gates_evidence import Evidence
from quantum_trader.config import Policy

POLICY = Policy()
NAME = "no_portfolio_limit_breaches"


def breaches(tmp_path: Path, *, equity: pd.DataFrame | None = None, events: list[Any] | None = None,
             metrics: dict[str, Any] | None = None, trades: list[dict[str, Any]] | None = None,
             with_trades: bool = True) -> GateCriterion:
    trades = (monthly_trades("BTC") + monthly_trades("ETH") if trades is None else trades) if with_trades else None
    equity = equity_for(trades or []) if equity is None else equity
    run = build_run(tmp_path / "run", trades=trades, equity=equity,
                    events=hourly_correlation_updates() if events is None else events, metrics=metrics)
    verdict = evaluate_gate(1, Evidence.from_run(run), POLICY)
    return next(c for c in verdict.criteria if c.name == NAME)


def fill_limits(position: int = 0, total: int = 0, correlated: int = 0) -> dict[str, Any]:
    def one(limit: float, over: int) -> dict[str, Any]:
        worst = limit * (1.01 if over else 0.99)
        return {"limit": limit, "fills_over": over, "worst": worst,
                "worst_excess_of_limit": 0.01 if over else None}

    return {"entries": 12, "max_position_size": one(0.10, position), "max_total_exposure": one(0.40, total),
            "max_correlated_exposure": one(0.25, correlated)}


def test_a_drawdown_past_the_limit_for_ten_rows_is_one_breach(tmp_path: Path) -> None:
    equity = equity_for(monthly_trades("BTC") + monthly_trades("ETH"))
    equity.loc[equity.index[30:40], "drawdown"] = -0.25
    crit = breaches(tmp_path, equity=equity)
    assert crit.status is GateStatus.FAIL
    assert crit.value == 1
    assert "drawdown <= -20%" in crit.detail


def test_two_separate_stretches_over_the_position_cap_are_two_breaches(tmp_path: Path) -> None:
    equity = equity_for(monthly_trades("BTC") + monthly_trades("ETH"))
    equity.loc[equity.index[10:15], "open_positions"] = 6
    equity.loc[equity.index[50:70], "open_positions"] = 7
    crit = breaches(tmp_path, equity=equity)
    assert crit.status is GateStatus.FAIL and crit.value == 2


def test_without_trades_a_long_stretch_above_the_exposure_limit_is_one_breach(tmp_path: Path) -> None:
    """No trades file: every row may be an entry, but 30 rows in a row above the limit are one episode."""
    equity = equity_for([])
    equity.loc[equity.index[20:50], "total_exposure"] = 0.55
    crit = breaches(tmp_path, equity=equity, with_trades=False)
    assert crit.status is GateStatus.FAIL and crit.value == 1


def test_entry_fills_over_a_limit_are_the_evidence_when_the_run_measured_them(tmp_path: Path) -> None:
    crit = breaches(tmp_path, metrics=run_metrics(limits_at_fill=fill_limits(position=2, correlated=1)))
    assert crit.status is GateStatus.FAIL
    assert crit.value == 3
    assert "2 entry fills above max_position_size" in crit.detail
    assert "1 entry fill above max_correlated_exposure" in crit.detail
    assert "metrics.json" in crit.source


def test_measured_fills_within_limits_pass_though_the_next_close_moved_the_book_over(tmp_path: Path) -> None:
    """The row after an entry is marked a bar later; the fill itself is what the limit binds."""
    trades = monthly_trades("BTC") + monthly_trades("ETH")
    equity = equity_for(trades)
    entry = int(np.searchsorted(equity["ts"].to_numpy(), trades[0]["entry_ts"]))
    equity.loc[equity.index[entry], "total_exposure"] = 0.45
    assert breaches(tmp_path / "old", trades=trades, equity=equity).value == 1  # no measure: the row decides
    crit = breaches(tmp_path / "new", trades=trades, equity=equity, metrics=run_metrics(limits_at_fill=fill_limits()))
    assert crit.status is GateStatus.PASS and crit.value == 0
    assert "12 entry fills measured" in crit.detail


def test_breach_events_count_one_each(tmp_path: Path) -> None:
    events = [*hourly_correlation_updates(), event(1_738_000_000_000, "drift_exposure_breach", "total 43%"),
              event(1_739_000_000_000, "kill_switch_trip", "portfolio down 5.1%")]
    crit = breaches(tmp_path, events=events)
    assert crit.status is GateStatus.FAIL and crit.value == 2


@given(st.lists(st.booleans(), max_size=60))
def test_episodes_are_the_runs_of_true(flags: list[bool]) -> None:
    mask = np.array(flags, dtype=bool)
    starts = episode_starts(mask)
    expected = [i for i, f in enumerate(flags) if f and (i == 0 or not flags[i - 1])]
    assert starts.tolist() == expected
