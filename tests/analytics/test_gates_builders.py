"""Builders of synthetic run folders for the gate tests (no tests here).

A run covers 2025-01-01 .. 2025-04-01 (three complete calendar months) with one equity
row per day, stamped at the day's end like the engine's rows; equity is the starting
equity plus the P&L of the trades closed so far, so months, drawdown and Sharpe all
follow from the trades a test chooses.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantum_trader.analytics.run_folder import RunFolder
from quantum_trader.engine.schema import EQUITY_COLUMNS, EVENT_COLUMNS, TRADE_COLUMNS

T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC
DAY = 86_400_000
HOUR = 3_600_000
DAYS = 90
START_EQUITY = 100_000.0
MONTH_STARTS = {1: 0, 2: 31, 3: 59}
"""Day offset of the first day of January, February, March 2025."""


def day(month: int, dom: int) -> int:
    """Epoch ms of 2025-<month>-<dom> 12:00 UTC."""
    return T0 + (MONTH_STARTS[month] + dom - 1) * DAY + 12 * HOUR


def trade(symbol: str, exit_ts: int, pnl: float, *, exit_reason: str = "signal", planned_risk: float = 100.0,
          hold_ms: int = 6 * HOUR) -> dict[str, Any]:
    sym = symbol if "/" in symbol else f"{symbol}/USDT:USDT"
    return {
        "symbol": sym, "side": "long", "entry_ts": exit_ts - hold_ms, "exit_ts": exit_ts, "entry_price": 100.0,
        "exit_price": 100.0, "quantity": 1.0, "notional_at_entry": 10_000.0, "equity_at_entry": START_EQUITY,
        "stop": 99.0, "planned_risk": planned_risk, "pnl": pnl, "fees": 0.0, "funding_paid": 0.0,
        "exit_reason": exit_reason, "signal": "trend", "entry_slippage": 0.0,
    }


def monthly_trades(symbol: str, pnls: Sequence[float] = (300.0, -100.0, 200.0), months: Sequence[int] = (1, 2, 3),
                   **kwargs: Any) -> list[dict[str, Any]]:
    """Trades closing on the 5th, 15th and 25th of each month with the given P&L."""
    return [trade(symbol, day(m, d), p, **kwargs) for m in months for d, p in zip((5, 15, 25), pnls, strict=True)]


def equity_for(trades: Sequence[dict[str, Any]], **columns: Any) -> pd.DataFrame:
    ts = T0 + np.arange(1, DAYS + 1, dtype=np.int64) * DAY
    exits = np.array([t["exit_ts"] for t in trades], dtype=np.int64)
    pnl = np.array([t["pnl"] for t in trades], dtype=np.float64)
    equity = START_EQUITY + np.array([pnl[exits <= t].sum() for t in ts])
    peaks = np.maximum.accumulate(equity)
    frame = pd.DataFrame({
        "ts": ts, "equity": equity, "cash": equity, "total_exposure": 0.1, "correlated_exposure": 0.1,
        "open_positions": 1, "slots_tier_1": 1, "slots_tier_2": 0, "slots_tier_3": 0,
        "drawdown": equity / peaks - 1.0,
    })
    for name, value in columns.items():
        frame[name] = value
    return frame[list(EQUITY_COLUMNS)]


def event(ts: int, kind: str, message: str = "", *, symbol: str = "", rule: str = "") -> tuple[Any, ...]:
    return (ts, kind, symbol, rule, message or kind, float("nan"), float("nan"))


def hourly_correlation_updates(skip: tuple[int, int] | None = None) -> list[tuple[Any, ...]]:
    """A ``correlation_update`` every hour of the run, optionally none in ``[skip[0], skip[1])``."""
    out = []
    for ts in range(T0 + HOUR, T0 + DAYS * DAY + 1, HOUR):
        if skip is not None and skip[0] <= ts < skip[1]:
            continue
        out.append(event(ts, "correlation_update"))
    return out


def run_metrics(**figures: Any) -> dict[str, Any]:
    """A metrics.json of the gate tests' run with the given figures (e.g. ``limits_at_fill``)."""
    info = {"run_id": "run", "strategy": "test", "symbols": ["BTC/USDT:USDT"], "start": "2025-01-01T00:00:00+00:00",
            "end": "2025-04-01T00:00:00+00:00", "bars": DAYS, "policy_name": "default",
            "created": "2025-04-01T00:00:00+00:00", "duration_s": 1.0}
    return {**figures, "run": info}


def build_run(path: Path, *, trades: Sequence[dict[str, Any]] | None, equity: pd.DataFrame | None,
              events: Sequence[tuple[Any, ...]] | None = (), metrics: dict[str, Any] | None = None) -> Path:
    """Write the given tables (None leaves the file out) into ``path`` through the run-folder writers."""
    run = RunFolder(path)
    path.mkdir(parents=True, exist_ok=True)
    if trades is not None:
        run.write_trades(pd.DataFrame(list(trades), columns=list(TRADE_COLUMNS)).astype(
            {"entry_ts": "int64", "exit_ts": "int64"}))
    if equity is not None:
        run.write_equity(equity)
    if events is not None:
        run.write_events(pd.DataFrame(list(events), columns=list(EVENT_COLUMNS)).astype({"ts": "int64"}))
    if metrics is not None:
        run.write_metrics(metrics)
    return path
