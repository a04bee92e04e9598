"""Plotly figures of the report, one function per chart, each built from run-folder frames.

Time axes take epoch milliseconds as float64 on a ``date`` axis: plotly.js reads numbers on a
date axis as UTC ms, and numeric arrays are embedded as compact base64 typed arrays, where
ISO strings would roughly triple the page. Series that need no float64 precision (ratios,
slot counts) are narrowed to float32 / int8 for the same reason.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from quantum_trader.analytics.report_data import ReportLimits, downsample_indices
from quantum_trader.analytics.report_format import short_symbol

FONT: Final = "-apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
BLUE: Final = "#2563eb"
RED: Final = "#dc2626"
AMBER: Final = "#d97706"
GREEN: Final = "#16a34a"
GREY: Final = "#64748b"
TIER_COLORS: Final = ("#1d4ed8", "#7c3aed", "#f59e0b")
TIME_HOVER: Final = "%Y-%m-%d %H:%M UTC"


def layout(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(
        template="plotly_white", height=height, margin={"l": 60, "r": 20, "t": 56, "b": 40},
        font={"family": FONT, "size": 12}, hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "traceorder": "normal"},
    )
    return fig


def _time_axes(fig: go.Figure) -> None:
    fig.update_xaxes(type="date", hoverformat=TIME_HOVER)


def _x(ts: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.asarray(ts, dtype=np.float64)


def equity_figure(equity: pd.DataFrame, trip_ts: np.ndarray[Any, Any]) -> go.Figure:
    """Equity over drawdown on a shared time axis; kill-switch trips marked on the equity curve."""
    keep = downsample_indices([equity["equity"].to_numpy(), equity["drawdown"].to_numpy()])
    ts = equity["ts"].to_numpy()[keep]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.68, 0.32])
    fig.add_trace(go.Scatter(x=_x(ts), y=equity["equity"].to_numpy(dtype=np.float64)[keep], name="Equity",
                             line={"color": BLUE, "width": 1.6}, hovertemplate="%{y:,.2f}"), row=1, col=1)
    fig.add_trace(go.Scatter(x=_x(ts), y=equity["drawdown"].to_numpy(dtype=np.float32)[keep], name="Drawdown",
                             fill="tozeroy", line={"color": RED, "width": 1}, fillcolor="rgba(220,38,38,0.25)",
                             hovertemplate="%{y:.2%}"), row=2, col=1)
    if trip_ts.size:
        all_ts = equity["ts"].to_numpy()
        pos = np.clip(np.searchsorted(all_ts, trip_ts, side="right") - 1, 0, len(all_ts) - 1)
        fig.add_trace(go.Scatter(x=_x(trip_ts), y=equity["equity"].to_numpy(dtype=np.float64)[pos],
                                 mode="markers", name="Kill-switch trip", hovertemplate="trip %{y:,.2f}",
                                 marker={"color": RED, "size": 10, "symbol": "x"}), row=1, col=1)
    fig.update_yaxes(title_text="Equity", tickformat=",.0f", row=1, col=1)
    fig.update_yaxes(title_text="Drawdown", tickformat=".0%", row=2, col=1)
    _time_axes(fig)
    return layout(fig, 520)


def _limit_line(fig: go.Figure, y: float, text: str, color: str, dash: str, where: str = "top left") -> None:
    fig.add_hline(y=y, line={"color": color, "dash": dash, "width": 1.5}, annotation_text=text,
                  annotation_position=where, annotation_font={"color": color, "size": 11},
                  annotation_bgcolor="rgba(255,255,255,0.85)")


def exposure_figure(equity: pd.DataFrame, limits: ReportLimits) -> go.Figure:
    """Total and largest correlated exposure against the policy's limit, alert and correlated limit."""
    total = equity["total_exposure"].to_numpy(dtype=np.float32)
    corr = equity["correlated_exposure"].to_numpy(dtype=np.float32)
    keep = downsample_indices([total, corr])
    x = _x(equity["ts"].to_numpy()[keep])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=total[keep], name="Total exposure", line={"color": BLUE, "width": 1.4},
                             hovertemplate="%{y:.1%}"))
    fig.add_trace(go.Scatter(x=x, y=corr[keep], name="Largest correlated exposure",
                             line={"color": "#0891b2", "width": 1.2}, hovertemplate="%{y:.1%}"))
    _limit_line(fig, limits.max_total_exposure, f"max total exposure {limits.max_total_exposure:.0%}", RED, "dash")
    _limit_line(fig, limits.exposure_alert, f"exposure alert {limits.exposure_alert:.0%}", AMBER, "dot",
                "bottom left")
    _limit_line(fig, limits.max_correlated_exposure,
                f"max correlated exposure {limits.max_correlated_exposure:.0%}", "#0891b2", "dashdot", "top right")
    top = max(float(np.nanmax(total)) if total.size else 0.0, limits.max_total_exposure) * 1.12
    fig.update_yaxes(title_text="Notional / equity", tickformat=".0%", range=[0, top])
    _time_axes(fig)
    return layout(fig, 360)


def slots_figure(equity: pd.DataFrame, total_slots: int) -> go.Figure:
    """Stacked slot use by tier under the policy's total-slot line."""
    tiers = [equity[f"slots_tier_{i}"].to_numpy(dtype=np.int64) for i in (1, 2, 3)]
    keep = downsample_indices([tiers[0] + tiers[1] + tiers[2]])
    x = _x(equity["ts"].to_numpy()[keep])
    fig = go.Figure()
    for i, (values, color) in enumerate(zip(tiers, TIER_COLORS, strict=True), start=1):
        fig.add_trace(go.Scatter(x=x, y=values[keep].astype(np.int16), name=f"Tier {i}", stackgroup="slots",
                                 line={"color": color, "width": 0.8, "shape": "hv"}, hovertemplate="%{y}"))
    _limit_line(fig, total_slots, f"total slots {total_slots}", RED, "dash")
    fig.update_yaxes(title_text="Slots in use", dtick=1, range=[0, total_slots + 0.6])
    _time_axes(fig)
    return layout(fig, 300)


def correlation_figure(matrix: pd.DataFrame, title: str) -> go.Figure:
    """Annotated heatmap on a fixed -1..1 diverging scale, so colours mean the same in every run."""
    labels = [short_symbol(str(s)) for s in matrix.columns]
    values = matrix.to_numpy(dtype=np.float64)
    fig = go.Figure(go.Heatmap(
        z=values, x=labels, y=labels, zmin=-1, zmax=1, colorscale="RdBu_r", zmid=0,
        texttemplate="%{z:.2f}",
        customdata=np.array([[f"{a} / {b}" for b in matrix.columns] for a in matrix.index]),
        hovertemplate="%{customdata}: %{z:.3f}<extra></extra>", colorbar={"thickness": 12},
    ))
    side = max(300, min(640, 90 + 60 * len(labels)))
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title={"text": title, "font": {"size": 13}})
    layout(fig, side)
    fig.update_layout(hovermode="closest")
    return fig


def per_asset_figure(summary: pd.DataFrame) -> go.Figure:
    """Net P&L per symbol beside the fees and funding it paid (costs, positive when paid, already in the net)."""
    return _pnl_bars([short_symbol(str(s)) for s in summary["symbol"]], summary)


def per_signal_figure(summary: pd.DataFrame) -> go.Figure:
    """Net P&L per opening signal beside the costs its trades paid."""
    return _pnl_bars([str(s) for s in summary["signal"]], summary)


def _pnl_bars(labels: list[str], summary: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(go.Bar(x=labels, y=summary["pnl"], name="Net P&L", hovertemplate="%{y:,.2f}",
                         marker={"color": [GREEN if v >= 0 else RED for v in summary["pnl"]]}))
    fig.add_trace(go.Bar(x=labels, y=summary["fees"], name="Fees paid", marker={"color": GREY},
                         hovertemplate="%{y:,.2f}"))
    fig.add_trace(go.Bar(x=labels, y=summary["funding_paid"], name="Funding paid (negative: received)",
                         marker={"color": AMBER}, hovertemplate="%{y:,.2f}"))
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="Quote currency", tickformat=",.0f", zeroline=True)
    layout(fig, 340)
    fig.update_layout(hovermode="x")
    return fig


def refusals_figure(counts: pd.DataFrame) -> go.Figure:
    """Horizontal bars of refusals and reductions per risk rule, most frequent rule on top."""
    rules = [str(r) for r in counts.index]
    fig = go.Figure()
    fig.add_trace(go.Bar(y=rules, x=counts["refused"], name="Refused", orientation="h",
                         marker={"color": RED}, hovertemplate="%{x:,d}"))
    fig.add_trace(go.Bar(y=rules, x=counts["reduced"], name="Reduced", orientation="h",
                         marker={"color": AMBER}, hovertemplate="%{x:,d}"))
    fig.update_layout(barmode="stack")
    fig.update_yaxes(autorange="reversed", automargin=True)
    most = int((counts["refused"] + counts["reduced"]).max()) if len(counts) else 1
    fig.update_xaxes(title_text="Count", tickformat=",d", tick0=0, dtick=max(1, -(-most // 8)))
    layout(fig, max(220, 80 + 34 * len(rules)))
    fig.update_layout(hovermode="y")
    return fig
