"""A study's HTML summary: one self-contained, offline file beside its results table.

As with a run's report, plotly.js is inlined once and nothing is fetched, so the page opens from an
archive without a network. What it shows depends on the study: the objective over a two-parameter
grid as a heatmap (a line for one parameter), an optimisation's trials in order, a walk-forward's
stitched out-of-sample equity and the parameters chosen per fold, and for each set of competing trials
the overfitting diagnostics (deflated Sharpe ratio, probability of backtest overfitting).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from quantum_trader.analytics.report import _CSS
from quantum_trader.analytics.report_charts import BLUE, GREY, RED, layout
from quantum_trader.analytics.report_format import esc, fmt_pct, fmt_ts
from quantum_trader.research.results import SUMMARY_FILE, Diagnostics

_CONFIG: Final = {"displaylogo": False, "responsive": True}
_TOP_ROWS: Final = 15


@dataclass(frozen=True)
class StudyPage:
    """What the page is about: the header's facts, the table, the diagnostics and the stitched curve."""

    kind: str
    title_facts: Mapping[str, str]
    objective_label: str
    frame: pd.DataFrame
    diagnostics: Sequence[Diagnostics] = ()
    equity_ts: np.ndarray[Any, Any] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    equity: np.ndarray[Any, Any] = field(default_factory=lambda: np.zeros(0))


def _figure(fig: go.Figure, div_id: str) -> str:
    html: str = fig.to_html(full_html=False, include_plotlyjs=False, config=_CONFIG, div_id=div_id)
    return html


def _section(title: str, body: str) -> str:
    return f"<section><h2>{esc(title)}</h2>{body}</section>"


def _note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or value is pd.NA:
        return "-" if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else \
            ("+inf" if value > 0 else "-inf")
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    columns = [c for c in columns if c in frame.columns]
    head = "".join(f"<th>{esc(c.removeprefix('param.'))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(_cell(row[c]))}</td>" for c in columns) + "</tr>"
                   for _, row in frame.iterrows())
    return f'<div class="scroll"><table class="grid"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _params(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if str(c).startswith("param.")]


def _best_section(page: StudyPage) -> str:
    frame = page.frame[page.frame["role"].isin(["trial", "train"])]
    ranked = frame[frame["state"] == "complete"].sort_values("value", ascending=False, kind="stable")
    failed = frame[frame["state"] == "failed"]
    fold = ["fold"] if frame["fold"].notna().any() else []
    parts = [_table(ranked.head(_TOP_ROWS), [*fold, "trial", *_params(frame), "value", "total_return", "sharpe",
                                             "calmar", "max_drawdown", "trades"])]
    counts = frame["state"].value_counts().to_dict()
    parts.insert(0, _note(f"{len(frame)} trials: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
                          + f". Value: {page.objective_label}."))
    if not failed.empty:
        first = failed.iloc[0]
        parts.append(_note(f"{len(failed)} failed; the first (trial {first['trial']}): {first['error']}"))
    return _section("Best trials", "".join(parts))


def _heatmap(frame: pd.DataFrame, label: str) -> str:
    params = _params(frame)
    done = frame[frame["state"] == "complete"]
    if len(params) < 2 or done.empty:
        if len(params) == 1 and not done.empty:
            ordered = done.sort_values(params[0])
            fig = go.Figure(go.Scatter(x=ordered[params[0]].astype(str), y=ordered["value"], mode="lines+markers",
                                       line={"color": BLUE}))
            fig.update_layout(title=f"{label} by {params[0].removeprefix('param.')}")
            return _figure(layout(fig, 380), "fig-sweep")
        return ""
    x, y = params[0], params[1]
    grid = done.groupby([y, x])["value"].max().unstack(x)
    z = grid.to_numpy(dtype=np.float64)
    z = np.where(np.isfinite(z), z, np.nan)
    fig = go.Figure(go.Heatmap(x=[str(c) for c in grid.columns], y=[str(i) for i in grid.index], z=z,
                               colorscale="RdYlGn", colorbar={"title": label}, hoverongaps=False,
                               hovertemplate=f"{x.removeprefix('param.')} %{{x}}<br>{y.removeprefix('param.')} "
                                             "%{y}<br>value %{z:.3f}<extra></extra>"))
    others = params[2:]
    more = f" (best over {', '.join(p.removeprefix('param.') for p in others)})" if others else ""
    fig.update_layout(title=f"{label}{more}", xaxis_title=x.removeprefix("param."),
                      yaxis_title=y.removeprefix("param."))
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    return _figure(layout(fig, 460), "fig-heatmap")


def _trials_figure(frame: pd.DataFrame, label: str) -> str:
    done = frame[(frame["role"] == "trial") & frame["value"].notna()]
    if done.empty:
        return ""
    finite = done[np.isfinite(done["value"])]
    fig = go.Figure()
    for state, color in (("complete", BLUE), ("pruned", GREY)):
        part = finite[finite["state"] == state]
        fig.add_trace(go.Scatter(x=part["trial"], y=part["value"], mode="markers", name=state,
                                 marker={"color": color, "size": 7}))
    complete = finite[finite["state"] == "complete"].sort_values("trial")
    if not complete.empty:
        fig.add_trace(go.Scatter(x=complete["trial"], y=complete["value"].cummax(), mode="lines",
                                 name="best so far", line={"color": RED, "shape": "hv"}))
    fig.update_layout(title=f"{label} by trial", xaxis_title="trial", yaxis_title=label)
    return _figure(layout(fig, 380), "fig-trials")


def _walk_sections(page: StudyPage) -> list[str]:
    tests = page.frame[page.frame["role"] == "test"].sort_values("fold")
    if tests.empty:
        return []
    sections = []
    if page.equity.size:
        fig = go.Figure(go.Scatter(x=page.equity_ts.astype(np.float64), y=page.equity, mode="lines",
                                   name="out-of-sample equity", line={"color": BLUE}))
        for start in tests["window_start"].iloc[1:]:
            fig.add_vline(x=float(pd.Timestamp(start).value // 1_000_000), line={"color": GREY, "dash": "dot"})
        fig.update_xaxes(type="date")
        fig.update_layout(title="Test windows stitched (each fold traded with its train window's best parameters)",
                          yaxis_title="equity")
        sections.append(_section("Out-of-sample equity", _figure(layout(fig, 420), "fig-oos")))
    params = _params(tests)
    if params:
        fig = go.Figure()
        for column in params:
            numeric = pd.to_numeric(tests[column], errors="coerce")
            fig.add_trace(go.Scatter(x=tests["fold"], y=numeric if numeric.notna().any() else tests[column],
                                     mode="lines+markers", name=column.removeprefix("param.")))
        fig.update_layout(title="Parameter path: the best train parameters per fold", xaxis_title="fold")
        fig.update_xaxes(dtick=1)
        sections.append(_section("Parameter path", _figure(layout(fig, 360), "fig-path") + _table(
            tests, ["fold", "window_start", "window_end", *params, "value", "total_return", "sharpe", "max_drawdown",
                    "trades", "error"])))
    return sections


def _diagnostics_section(page: StudyPage) -> str:
    if not page.diagnostics:
        return ""
    rows = []
    for d in page.diagnostics:
        dsr = d.deflated
        pbo = d.overfitting
        rows.append({"set": d.label, "trials": d.trials,
                     "best daily Sharpe": None if dsr is None else dsr.sharpe,
                     "expected best by chance": None if dsr is None else dsr.benchmark,
                     "deflated Sharpe ratio": None if dsr is None else dsr.dsr,
                     "days": None if dsr is None else dsr.observations,
                     "PBO": None if pbo is None else pbo.pbo,
                     "CSCV blocks": None if pbo is None else pbo.blocks})
    frame = pd.DataFrame(rows)
    parts = [_note("Deflated Sharpe ratio: the probability that the best trial's Sharpe ratio beats the best that "
                   "this many unskilled trials would reach by chance (want >= 0.95). PBO: the share of "
                   "cross-validation splits whose in-sample best landed at or below the median out of sample "
                   "(want well below 0.5). '-' where there are too few trials or days."),
             _table(frame, list(frame.columns))]
    first = next((d.overfitting for d in page.diagnostics if d.overfitting is not None), None)
    if first is not None:
        fig = go.Figure(go.Histogram(x=first.logits, marker={"color": BLUE}, nbinsx=30))
        fig.add_vline(x=0, line={"color": RED, "dash": "dash"})
        fig.update_layout(title=f"CSCV logits of the in-sample best's out-of-sample rank ({page.diagnostics[0].label}"
                                f"; PBO {fmt_pct(first.pbo, 1)} = share left of 0)", xaxis_title="logit",
                          yaxis_title="splits")
        parts.append(_figure(layout(fig, 320), "fig-pbo"))
    return _section("Overfitting diagnostics", "".join(parts))


def render(page: StudyPage, folder: Path) -> Path:
    """``summary.html`` in ``folder``."""
    facts = "".join(f"<span>{esc(k)}: <b>{esc(v)}</b></span>" for k, v in page.title_facts.items())
    body = [_best_section(page)]
    if page.kind == "sweep":
        body.append(_section("Sweep", _heatmap(page.frame, page.objective_label) or _note("Nothing to plot.")))
    elif page.kind == "optimize":
        body.append(_section("Trials", _trials_figure(page.frame, page.objective_label) or _note("No values.")))
    body.extend(_walk_sections(page))
    body.append(_diagnostics_section(page))
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    html = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Research · {esc(page.kind)}</title>'
            f"<style>{_CSS}</style><script>{get_plotlyjs()}</script></head><body>"
            f'<header class="top"><div class="inner"><h1>Research · {esc(page.kind)}</h1><div class="meta">{facts}'
            f"</div></div></header><main>{''.join(body)}<footer>Written {esc(created)} by quantum-trader research"
            f"</footer></main></body></html>")
    path = folder / SUMMARY_FILE
    partial = folder / f".{SUMMARY_FILE}.partial"
    partial.write_text(html, encoding="utf-8")
    partial.replace(path)
    return path


def window_text(start_ms: int, end_ms: int) -> str:
    return f"{fmt_ts(start_ms)} → {fmt_ts(end_ms)}"
