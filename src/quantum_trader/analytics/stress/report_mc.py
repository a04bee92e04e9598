"""The Monte Carlo report: breach probabilities with their intervals, the loss distributions, and each draw."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from quantum_trader.analytics.report_charts import AMBER, BLUE, RED, layout
from quantum_trader.analytics.stress import page
from quantum_trader.analytics.stress.measures import records
from quantum_trader.analytics.stress.montecarlo import DrawResult, MonteCarloConfig
from quantum_trader.analytics.stress.summary import BreachRate, draws_frame, own_rate, quantiles
from quantum_trader.domain.time import format_time


def breach_figure(rates: Sequence[BreachRate]) -> go.Figure:
    labels = [r.bound.label for r in rates]
    values = np.array([r.rate for r in rates])
    fig = go.Figure(go.Bar(
        x=labels, y=values, marker_color=[RED if r.breaches else BLUE for r in rates],
        error_y={"type": "data", "symmetric": False, "array": np.array([r.high for r in rates]) - values,
                 "arrayminus": values - np.array([r.low for r in rates])},
        hovertemplate="%{x}: %{y:.1%}<extra></extra>"))
    fig.update_yaxes(title_text="probability of breach (Wilson 95%)", tickformat=".0%", rangemode="tozero")
    return layout(fig, 360)


def distribution_figure(frame: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for column, label, color in (("worst_loss", "worst loss", BLUE), ("drawdown", "drawdown", RED),
                                 ("day_loss", "day's loss", AMBER)):
        fig.add_trace(go.Histogram(x=frame[column].to_numpy(dtype=float), name=label, opacity=0.6,
                                   marker_color=color, nbinsx=40, hovertemplate="%{x:.2%}: %{y}<extra></extra>"))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text="fraction of equity", tickformat=".1%")
    fig.update_yaxes(title_text="draws")
    return layout(fig, 360)


def severity_figure(frame: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for family, group in frame.groupby("family", sort=True):
        fig.add_trace(go.Scatter(x=group["severity"], y=group["worst_loss"], mode="markers", name=str(family),
                                 text=group["description"], hovertemplate="%{text}<br>worst loss %{y:.2%}"))
    fig.update_xaxes(title_text="severity (x the scenario's default)")
    fig.update_yaxes(title_text="worst loss", tickformat=".1%")
    return layout(fig, 380)


def _rates_table(rates: Sequence[BreachRate]) -> str:
    rows = [[r.bound.label, r.bound.source, f"{r.breaches} / {r.runs}", f"{r.rate:.1%}",
             f"{r.low:.1%} .. {r.high:.1%}"] for r in rates]
    css = [["", "", "", "broken" if r.breaches else "pass", ""] for r in rates]
    return page.table(("bound", "from", "breaches", "probability", "95% interval (Wilson)"), rows, css)


def _quantile_table(results: Sequence[DrawResult]) -> str:
    table = quantiles(results)
    rows = [[str(name), *(f"{float(v):.2%}" for v in values)] for name, values in table.iterrows()]
    return page.table(("figure", *[str(c) for c in table.columns]), rows)


def _draws_table(frame: pd.DataFrame) -> str:
    items = records(frame)
    rows = [[str(r["index"]), str(r["family"]), f"{r['severity']:.2f}", format_time(int(r["at_ms"])),
             str(r["description"]), f"{r['exposure_at_start']:.1%}", f"{r['worst_loss']:.2%}", f"{r['drawdown']:.2%}",
             f"{r['day_loss']:.2%}", f"{r['trade_loss']:.2%}", "BROKEN" if r["own_broken"] else "pass"] for r in items]
    css = [[""] * 10 + ["broken" if r["own_broken"] else "pass"] for r in items]
    return page.table(("#", "scenario", "severity", "start", "injected", "exposure", "worst loss", "drawdown",
                       "day's loss", "worst trade", "own bound"), rows, css)


def build_mc_html(results: Sequence[DrawResult], rates: Sequence[BreachRate], config: MonteCarloConfig, *,
                  market_source: str, policy_name: str, run_id: str) -> str:
    frame = draws_frame(results)
    broke, low, high = own_rate(results)
    exposed = float((frame["exposure_at_start"] > 0).mean())
    in_market = float(frame["in_market_share"].mean())
    sections = [
        page.section("Probability of breaching each bound", page.note(
            f"{len(results)} draws, seed {config.seed}. Each draw resamples the market in blocks of "
            f"{config.block_days} day(s){'' if config.bootstrap else ' (off: the market as it is)'}, draws a "
            f"scenario among {', '.join(config.families)}, a severity x{config.severity[0]:g}..x{config.severity[1]:g}"
            f" of its default, a correlation of the assets' moves {config.correlation[0]:g}..{config.correlation[1]:g}"
            ", the assets hit and the time, and runs the whole engine. Shocks land where the draw's unstressed run "
            f"held positions: {exposed:.0%} of the draws met an exposed book, while the unstressed runs were in the "
            f"market {in_market:.0%} of the time; read the probabilities as given a shock while exposed. "
            f"The scenario's own bounds broke in {broke} of {len(results)} draws ({low:.1%} .. {high:.1%}).")
            + _rates_table(rates) + page.figure(breach_figure(rates), "breach"), "rates"),
        page.section("Losses over the draws", _quantile_table(results)
                     + page.figure(distribution_figure(frame), "distribution"), "losses"),
        page.section("Severity against loss", page.figure(severity_figure(frame), "severity"), "severity"),
        page.section("Every draw", _draws_table(frame), "draws"),
    ]
    meta = [("Market", market_source), ("Policy", policy_name), ("Draws", str(len(results))),
            ("Seed", str(config.seed)), ("Phase", str(config.phase))]
    return page.page(f"Monte Carlo stress · {run_id}", meta, sections)
