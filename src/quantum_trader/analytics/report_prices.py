"""Per asset: its price with every entry and exit marked, and buying it and holding beside the run's equity.

A reader judging a strategy asks two things per asset that no table answers: where did it
get in and out, and would simply holding the asset have done better? The upper panel is
the close (``prices.parquet``: closes sampled hourly), long entries as up-triangles, short
entries as down-triangles, exits as crosses; hovering one names the signal, the slippage
paid, the exit reason and the net P&L. The lower panel is the equity of buying the asset
with the run's starting equity at its first price, beside the run's own equity (all
assets), both in the quote currency from the same start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from quantum_trader.analytics.report_charts import BLUE, GREEN, GREY, RED, TIME_HOVER, layout
from quantum_trader.analytics.report_data import UNKNOWN_SIGNAL, downsample_indices
from quantum_trader.analytics.report_format import fmt_money, fmt_price

MAX_PRICE_POINTS: Final = 2_000
"""Points per line: a year of hourly closes is 8,760; buckets keep each one's extremes."""
MAX_MARKED_TRADES: Final = 1_500
"""Trades marked per asset (the latest by exit); a 1m strategy's thousands would bury the price line."""
EXIT_COLOR: Final = "#334155"


@dataclass(frozen=True, slots=True)
class PriceChart:
    figure: go.Figure
    note: str
    """What the chart leaves out ('' when nothing): trades beyond ``MAX_MARKED_TRADES``."""


def buy_and_hold(close: np.ndarray[Any, Any], start_equity: float) -> np.ndarray[Any, Any]:
    """Equity of buying at the first close with ``start_equity`` and holding (no fees, no funding)."""
    return start_equity * np.asarray(close, dtype=np.float64) / float(close[0])


def _line(ts: np.ndarray[Any, Any], values: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    keep = downsample_indices([values], MAX_PRICE_POINTS)
    return np.asarray(ts, dtype=np.float64)[keep], np.asarray(values, dtype=np.float32)[keep]


def _entry_text(t: Any) -> str:
    slippage = "" if not np.isfinite(t.entry_slippage) else f" · slippage {t.entry_slippage * 10_000:.1f} bp"
    return f"{t.side} entry · {t.signal or UNKNOWN_SIGNAL}<br>{fmt_price(t.entry_price)}{slippage}"


def _exit_text(t: Any) -> str:
    return f"exit {t.side} · {t.exit_reason}<br>{fmt_price(t.exit_price)} · net P&L {fmt_money(t.pnl)}"


def _markers(fig: go.Figure, trades: pd.DataFrame) -> None:
    for side, symbol, color in (("long", "triangle-up", GREEN), ("short", "triangle-down", RED)):
        own = trades[trades["side"] == side]
        if own.empty:
            continue
        fig.add_trace(go.Scatter(
            x=own["entry_ts"].to_numpy(dtype=np.float64), y=own["entry_price"].to_numpy(dtype=np.float64),
            mode="markers", name=f"{side.capitalize()} entry", marker={"symbol": symbol, "size": 9, "color": color,
                                                                        "line": {"width": 0.5, "color": "#fff"}},
            hovertext=[_entry_text(t) for t in own.itertuples(index=False)], hoverinfo="text+x"), row=1, col=1)
    if not trades.empty:
        fig.add_trace(go.Scatter(
            x=trades["exit_ts"].to_numpy(dtype=np.float64), y=trades["exit_price"].to_numpy(dtype=np.float64),
            mode="markers", name="Exit", marker={"symbol": "x", "size": 7, "color": EXIT_COLOR},
            hovertext=[_exit_text(t) for t in trades.itertuples(index=False)], hoverinfo="text+x"), row=1, col=1)


def price_figure(symbol: str, prices: pd.DataFrame, trades: pd.DataFrame, equity: pd.DataFrame,
                 start_equity: float, span: tuple[int, int] | None = None) -> PriceChart:
    """``prices``: this symbol's rows of prices.parquet; ``trades``: its trades; ``equity``: the run's curve;
    ``span``: the time axis's range (epoch ms), the same for every asset so their charts line up."""
    ts = prices["ts"].to_numpy(dtype=np.int64)
    close = prices["close"].to_numpy(dtype=np.float64)
    note = ""
    if len(trades) > MAX_MARKED_TRADES:
        note = (f"{symbol}: marks the latest {MAX_MARKED_TRADES:,} of {len(trades):,} trades; "
                "the trades table and trades.parquet hold them all.")
        trades = trades.sort_values("exit_ts", kind="stable").tail(MAX_MARKED_TRADES)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.05, row_heights=[0.66, 0.34])
    x, y = _line(ts, close)
    fig.add_trace(go.Scatter(x=x, y=y, name="Close", line={"color": GREY, "width": 1.2},
                             hovertemplate="close %{y:,.6g}<extra></extra>"), row=1, col=1)
    _markers(fig, trades)
    x, y = _line(ts, buy_and_hold(close, start_equity))
    fig.add_trace(go.Scatter(x=x, y=y, name="Buy and hold", line={"color": "#0891b2", "width": 1.4},
                             hovertemplate="buy and hold %{y:,.2f}<extra></extra>"), row=2, col=1)
    if not equity.empty:
        x, y = _line(equity["ts"].to_numpy(dtype=np.int64), equity["equity"].to_numpy(dtype=np.float64))
        fig.add_trace(go.Scatter(x=x, y=y, name="Run equity (all assets)", line={"color": BLUE, "width": 1.4},
                                 hovertemplate="run equity %{y:,.2f}<extra></extra>"), row=2, col=1)
    fig.update_xaxes(type="date", hoverformat=TIME_HOVER, range=None if span is None else [float(t) for t in span])
    fig.update_yaxes(title_text="Price", tickformat=",.6~g", row=1, col=1)
    fig.update_yaxes(title_text="Equity", tickformat=",.0f", row=2, col=1)
    fig.update_layout(title={"text": symbol, "font": {"size": 13}, "x": 0, "xanchor": "left"})
    layout(fig, 480)
    fig.update_layout(hovermode="closest", margin={"t": 80})
    return PriceChart(fig, note)
