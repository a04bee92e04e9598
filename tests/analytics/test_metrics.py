"""Metrics agree with their definitions on curves whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantum_trader.analytics.metrics import compute_metrics, daily_returns, drawdown_stats
from quantum_trader.domain.time import MS_PER_DAY, MS_PER_HOUR
from quantum_trader.engine.schema import TRADE_COLUMNS


def _trades(pnls: list[float]) -> pd.DataFrame:
    rows = [
        {"symbol": "BTC/USDT:USDT", "side": "long", "entry_ts": 0, "exit_ts": 1, "entry_price": 100.0,
         "exit_price": 101.0, "quantity": 1.0, "notional_at_entry": 100.0, "equity_at_entry": 1000.0,
         "stop": 95.0, "planned_risk": 5.0, "pnl": p, "fees": 0.1, "funding_paid": 0.05, "exit_reason": "signal",
         "signal": "trend", "entry_slippage": 0.0002}
        for p in pnls
    ]
    return pd.DataFrame(rows, columns=list(TRADE_COLUMNS))


def test_drawdown_depth_and_duration() -> None:
    ts = np.arange(6, dtype=np.int64) * MS_PER_DAY
    equity = np.array([100.0, 120.0, 90.0, 100.0, 121.0, 110.0])
    dd, days = drawdown_stats(ts, equity)
    assert dd == pytest.approx(90 / 120 - 1)
    assert days == 3.0  # from the peak on day 1 to the recovery on day 4


def test_daily_returns_use_utc_day_closes() -> None:
    ts = np.array([0, 12 * MS_PER_HOUR, MS_PER_DAY, MS_PER_DAY + 6 * MS_PER_HOUR], dtype=np.int64)
    equity = np.array([100.0, 105.0, 110.0, 99.0])
    returns = daily_returns(ts, equity)
    assert returns.tolist() == pytest.approx([0.05, 99 / 105 - 1])


def test_trade_statistics() -> None:
    ts = np.arange(10, dtype=np.int64) * MS_PER_DAY
    equity = np.linspace(1000, 1100, 10)
    metrics = compute_metrics(ts, equity, np.full(10, 0.2), _trades([10.0, -5.0, 20.0, -5.0]),
                              refusals_by_rule={"max_positions": 3}, kill_switch_trips=1)
    assert metrics["trades"] == 4
    assert metrics["win_rate"] == 0.5
    assert metrics["profit_factor"] == pytest.approx(30 / 10)
    assert metrics["expectancy"] == pytest.approx(5.0)
    assert metrics["fees_paid"] == pytest.approx(0.4)
    assert metrics["funding_paid"] == pytest.approx(0.2)
    assert metrics["total_return"] == pytest.approx(0.1)
    assert metrics["max_drawdown"] == 0.0
    assert metrics["refusals_by_rule"] == {"max_positions": 3} and metrics["kill_switch_trips"] == 1
    assert metrics["sharpe"] is not None and metrics["sharpe"] > 0


def test_short_run_has_no_ratios() -> None:
    metrics = compute_metrics(np.array([0], dtype=np.int64), np.array([1000.0]), np.array([0.0]), _trades([]))
    assert metrics["sharpe"] is None and metrics["trades"] == 0 and metrics["win_rate"] is None
