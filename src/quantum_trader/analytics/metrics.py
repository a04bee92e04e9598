"""Backtest metrics: the standard ratios from empyrical-reloaded, our risk figures beside them.

Returns are daily (crypto trades every day, so annualisation is 365), taken from the
equity curve resampled to UTC day closes; a run shorter than two days reports ratios
as None rather than a number built on nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import empyrical as ep
import numpy as np
import pandas as pd

from quantum_trader.domain.market import F64, I64
from quantum_trader.domain.time import MS_PER_DAY

ANNUALISATION = 365


def daily_returns(ts: I64, equity: F64) -> pd.Series:
    """Close-to-close returns of the equity curve on UTC days (the first day from the starting equity)."""
    if ts.size == 0:
        return pd.Series(dtype=float)
    index = pd.to_datetime(ts, unit="ms", utc=True)
    closes = pd.Series(equity, index=index).resample("1D").last().dropna()
    start = pd.Series([float(equity[0])], index=[closes.index[0] - pd.Timedelta(days=1)])
    return pd.concat([start, closes]).pct_change().dropna()


def drawdown_stats(ts: I64, equity: F64) -> tuple[float, float]:
    """Max drawdown (negative fraction) and its longest duration in days (peak to recovery or end)."""
    if equity.size == 0:
        return 0.0, 0.0
    peaks = np.maximum.accumulate(equity)
    dd = equity / peaks - 1.0
    underwater = dd < 0
    longest = 0
    start: int | None = None
    for i, flag in enumerate(underwater):
        if flag and start is None:
            start = i - 1 if i > 0 else 0
        elif not flag and start is not None:
            longest = max(longest, int(ts[i] - ts[start]))
            start = None
    if start is not None:
        longest = max(longest, int(ts[-1] - ts[start]))
    return float(dd.min()), longest / MS_PER_DAY


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _trade_stats(trades: pd.DataFrame) -> dict[str, Any]:
    if trades.empty:
        return {"trades": 0, "win_rate": None, "profit_factor": None, "expectancy": None, "avg_trade_pnl": None}
    pnl = trades["pnl"].to_numpy(dtype=float)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    gross_loss = -losses.sum()
    return {
        "trades": int(pnl.size),
        "win_rate": float(wins.size / pnl.size),
        "profit_factor": float(wins.sum() / gross_loss) if gross_loss > 0 else None,
        "expectancy": float(pnl.mean()),
        "avg_trade_pnl": float(pnl.mean()),
        "avg_win": float(wins.mean()) if wins.size else None,
        "avg_loss": float(losses.mean()) if losses.size else None,
    }


def compute_metrics(
    ts: I64,
    equity: F64,
    exposure: F64,
    trades: pd.DataFrame,
    *,
    refusals_by_rule: Mapping[str, int] | None = None,
    kill_switch_trips: int = 0,
) -> dict[str, Any]:
    """Every headline figure of a run, JSON-safe (None where a figure is undefined)."""
    returns = daily_returns(ts, equity)
    enough = returns.size >= 2
    max_dd, dd_days = drawdown_stats(ts, equity)
    start_equity = float(equity[0]) if equity.size else 0.0
    end_equity = float(equity[-1]) if equity.size else 0.0
    notional = trades["notional_at_entry"].abs().sum() * 2 if not trades.empty else 0.0
    years = (int(ts[-1] - ts[0]) / MS_PER_DAY / 365.0) if ts.size > 1 else 0.0
    metrics: dict[str, Any] = {
        "start_equity": start_equity,
        "end_equity": end_equity,
        "total_return": end_equity / start_equity - 1.0 if start_equity else None,
        "cagr": _finite(ep.annual_return(returns, annualization=ANNUALISATION)) if enough else None,
        "sharpe": _finite(ep.sharpe_ratio(returns, annualization=ANNUALISATION)) if enough else None,
        "sortino": _finite(ep.sortino_ratio(returns, annualization=ANNUALISATION)) if enough else None,
        "calmar": _finite(ep.calmar_ratio(returns, annualization=ANNUALISATION)) if enough else None,
        "annual_volatility": _finite(ep.annual_volatility(returns, annualization=ANNUALISATION)) if enough else None,
        "max_drawdown": max_dd,
        "max_drawdown_duration_days": dd_days,
        "exposure_time": float(np.mean(exposure > 0)) if exposure.size else 0.0,
        "avg_exposure": float(np.mean(exposure)) if exposure.size else 0.0,
        "max_exposure": float(np.max(exposure)) if exposure.size else 0.0,
        "turnover_per_year": float(notional / start_equity / years) if years > 0 and start_equity else None,
        "fees_paid": float(trades["fees"].sum()) if not trades.empty else 0.0,
        # costs are positive when paid (engine.schema); 0.0 + keeps a -0.0 sum out of the JSON
        "funding_paid": 0.0 + float(trades["funding_paid"].sum()) if not trades.empty else 0.0,
        "refusals_by_rule": dict(sorted((refusals_by_rule or {}).items())),
        "kill_switch_trips": int(kill_switch_trips),
    }
    metrics.update(_trade_stats(trades))
    return metrics
