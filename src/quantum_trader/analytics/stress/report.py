"""The stress report: the scenario table, each broken bound's findings, and each scenario's equity path.

Each path is the stressed run's equity beside the unstressed run's, the scenario's window
shaded and kill-switch trips marked; it opens zoomed on the window (double-click shows the
whole run).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from quantum_trader.analytics.report_charts import BLUE, GREY, RED, layout
from quantum_trader.analytics.report_data import downsample_indices
from quantum_trader.analytics.stress import page
from quantum_trader.analytics.stress.rows import COLUMNS, display_row
from quantum_trader.analytics.stress.runner import ScenarioResult, StressOutcome
from quantum_trader.domain.time import MS_PER_HOUR, format_time


def _line(equity: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    keep = downsample_indices([equity["equity"].to_numpy()])
    return (equity["ts"].to_numpy(dtype=np.float64)[keep], equity["equity"].to_numpy(dtype=np.float64)[keep])


def equity_path(result: ScenarioResult, unstressed: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    x, y = _line(unstressed)
    fig.add_trace(go.Scatter(x=x, y=y, name="unstressed", line={"color": GREY, "width": 1.2},
                             hovertemplate="%{y:,.2f}"))
    x, y = _line(result.equity)
    fig.add_trace(go.Scatter(x=x, y=y, name=result.name, line={"color": BLUE, "width": 1.6},
                             hovertemplate="%{y:,.2f}"))
    window = result.window
    fig.add_vrect(x0=float(window.start_ms), x1=float(max(window.end_ms, window.start_ms + 60_000)),
                  fillcolor="rgba(220,38,38,0.12)", line_width=0, annotation_text="scenario",
                  annotation_position="top left")
    trip = result.figures.trip
    if trip is not None:
        rows = result.equity[result.equity["ts"] >= trip.ts]
        level = float(rows["equity"].iloc[0]) if len(rows) else float(result.equity["equity"].iloc[-1])
        fig.add_trace(go.Scatter(x=[float(trip.ts)], y=[level], mode="markers", name=f"kill switch ({trip.kind})",
                                 marker={"color": RED, "size": 11, "symbol": "x"}))
    fig.update_xaxes(type="date", range=[float(window.start_ms - 12 * MS_PER_HOUR), float(window.until_ms)])
    fig.update_yaxes(title_text="Equity", tickformat=",.0f")
    fig.update_layout(title={"text": f"{result.name}: {result.description}", "font": {"size": 13}})
    return layout(fig, 360)


def _table(results: Sequence[ScenarioResult]) -> str:
    rows = [[display_row(r)[c] for c in COLUMNS] for r in results]
    classes = [["" if c != "result" else ("pass" if r.passed else "broken") for c in COLUMNS] for r in results]
    return page.table(COLUMNS, rows, classes)


def _details(results: Sequence[ScenarioResult]) -> str:
    rows = [[r.name, r.description, r.placement.note, r.verdicts[0].bound.source,
             f"{r.unstressed.worst_loss:.2%} / {r.unstressed.worst_day_loss:.2%}"] for r in results]
    return page.table(("scenario", "injected", "placed", "bound from", "unstressed worst / day loss"), rows)


def build_stress_html(outcome: StressOutcome, *, policy_name: str, phase: int, run_id: str) -> str:
    results = outcome.results
    broken = outcome.broken
    summary = (f"{len(broken)} of {len(results)} scenarios broke a bound" if broken
               else f"every one of {len(results)} scenarios held its bounds")
    findings = [f"{r.name}: {line}" for r in broken for line in r.why]
    sections = [
        page.section("Scenarios", page.note(
            f"{summary}. Each scenario is the whole engine under the whole policy over the whole market with one shock "
            "injected; figures are measured from the scenario's start to a day after its last change. Worst loss: "
            "from the equity at the start; max drawdown: from the peak, in that window; exit slippage: the worst "
            "exit's distance from the price it aimed at (a stop, or the open it was sent for).")
            + _table(results) + page.findings(findings), "scenarios"),
        page.section("What was injected, and where", page.note(
            "Shocks land where the unstressed run was exposed (the most notional held, or its largest position), "
            "against the way it leaned.") + _details(results), "details"),
    ]
    if outcome.not_run:
        text = f"The policy's scenario table names {', '.join(outcome.not_run)}, which has no injection here."
        sections.append(page.section("Not run", page.note(text), "not-run"))
    for i, result in enumerate(results):
        sections.append(page.section(f"Equity path: {result.name}",
                                     page.figure(equity_path(result, outcome.baseline.equity), f"path-{i}"),
                                     f"path-{result.name}"))
    market = outcome.market
    meta = [("Market", market.source), ("Period", f"{format_time(market.start_ms)} → {format_time(market.end_ms)}"),
            ("Policy", policy_name), ("Phase", str(phase)),
            ("In the market", f"{outcome.in_market:.0%} of the time (unstressed)")]
    return page.page(f"Stress test · {run_id}", meta, sections)
