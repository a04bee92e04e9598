"""The backtest report: one self-contained, offline HTML file written into the run folder.

A reviewer must be able to open ``report.html`` from an archive years later, on a laptop
without network: so plotly.js is inlined exactly once in <head>, every figure is rendered
without its own copy, no font, stylesheet or script is fetched, and time series are
downsampled (keeping extremes) so a year of 1m bars stays a file a browser opens quickly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from quantum_trader.analytics import report_charts as charts
from quantum_trader.analytics import report_tables as tables
from quantum_trader.analytics.report_data import (
    MAX_PLOT_POINTS,
    ReportLimits,
    monthly_returns,
    per_asset,
    per_signal,
    read_limits,
    refusal_counts,
)
from quantum_trader.analytics.report_format import esc, fmt_int, fmt_pct, fmt_ts
from quantum_trader.analytics.report_prices import price_figure
from quantum_trader.analytics.run_folder import (
    CORRELATION_AVERAGE_FILE,
    CORRELATION_FILE,
    EVENTS_FILE,
    PRICES_FILE,
    REPORT_FILE,
    TRADES_FILE,
    RunFolder,
)
from quantum_trader.domain.time import parse_time
from quantum_trader.engine.schema import EVENT_COLUMNS, TRADE_COLUMNS

_PLOT_CONFIG: Final = {"displaylogo": False, "responsive": True}

_CSS: Final = """
:root { --ink:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc; --pos:#15803d; --neg:#b91c1c; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:14px/1.45 -apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif; }
main { max-width:1280px; margin:0 auto; padding:0 24px 48px; }
header.top { background:#0f172a; color:#f8fafc; padding:22px 24px 18px; }
header.top .inner { max-width:1280px; margin:0 auto; }
header.top h1 { margin:0 0 6px; font-size:22px; font-weight:600; }
header.top .meta { color:#cbd5e1; display:flex; flex-wrap:wrap; gap:6px 22px; }
header.top .meta b { color:#f8fafc; font-weight:600; }
section { background:#fff; border:1px solid var(--line); border-radius:10px; padding:16px 18px; margin-top:18px; }
section h2 { margin:0 0 10px; font-size:16px; font-weight:600; }
.tiles { display:grid; grid-template-columns:repeat(auto-fill,minmax(150px,1fr)); gap:10px; }
.tile { border:1px solid var(--line); border-radius:8px; padding:10px 12px; background:#fff; min-width:0;
  overflow-wrap:anywhere; }
.tile .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.03em; }
.tile .value { font-size:22px; font-weight:600; margin-top:2px; font-variant-numeric:tabular-nums; }
.tile .sub { color:var(--muted); font-size:12px; }
.pos { color:var(--pos); } .neg { color:var(--neg); }
.note { color:var(--muted); margin:6px 0 10px; }
.data-notes { margin:4px 0 0 18px; padding:0; color:#92400e; } .data-notes li { margin:3px 0; }
.two { display:grid; grid-template-columns:minmax(0,1fr) minmax(0,1fr); gap:16px; align-items:start; }
@media (max-width: 900px) { .two { grid-template-columns:minmax(0,1fr); } }
table.grid { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
table.grid th, table.grid td { padding:5px 8px; border-bottom:1px solid var(--line); text-align:left;
  white-space:nowrap; }
table.grid th { background:#f1f5f9; font-weight:600; font-size:12px; position:sticky; top:0; }
table.grid td.num, table.grid th.num { text-align:right; }
table.grid td.msg { white-space:normal; }
table.months td, table.months th { text-align:center; font-size:12px; }
table.trades td, table.trades th { padding:4px 5px; font-size:12px; }
table.sortable th { cursor:pointer; user-select:none; }
table.sortable th.asc::after { content:" \\25B2"; } table.sortable th.desc::after { content:" \\25BC"; }
.scroll { max-height:640px; overflow:auto; border:1px solid var(--line); border-radius:6px; }
td.kind-kill_switch_trip, td.kind-liquidation { color:var(--neg); font-weight:600; }
td.side-long { color:var(--pos); } td.side-short { color:var(--neg); }
ul.inline { list-style:none; padding:0; margin:0; display:flex; gap:16px; flex-wrap:wrap; }
footer { color:var(--muted); font-size:12px; text-align:center; margin-top:24px; }
"""

_SORT_JS: Final = """
window.addEventListener('load', function () { window.dispatchEvent(new Event('resize')); });
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('thead th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var asc = !th.classList.contains('asc');
      table.querySelectorAll('thead th').forEach(function (h) { h.classList.remove('asc', 'desc'); });
      th.classList.add(asc ? 'asc' : 'desc');
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var key = function (row) {
        var cell = row.cells[col], v = cell.getAttribute('data-v');
        if (v === null) { v = cell.textContent; }
        var n = parseFloat(v);
        return (v !== '' && isFinite(v)) ? n : v.toLowerCase();
      };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (typeof x !== typeof y) { x = String(x); y = String(y); }
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def _figure(fig: go.Figure, div_id: str) -> str:
    html: str = fig.to_html(full_html=False, include_plotlyjs=False, config=_PLOT_CONFIG, div_id=div_id)
    return html


def _section(title: str, body: str, section_id: str) -> str:
    return f'<section id="{section_id}"><h2>{esc(title)}</h2>{body}</section>'


def _optional_table(run: RunFolder, name: str, columns: Sequence[str]) -> tuple[pd.DataFrame, str]:
    """Trades and events may be absent from an interrupted run; the report says so instead of failing."""
    if run.has(name):
        frame = run.trades() if name == TRADES_FILE else run.events()
        return frame, ""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns}), f"{name} is not in the run folder."


def _when(value: Any) -> str:
    """An ISO time from metrics.json shown as UTC wall-clock; anything unparseable is shown as written."""
    try:
        return fmt_ts(parse_time(str(value)))
    except ValueError:
        return str(value)


def _header(run: RunFolder, metrics: dict[str, Any]) -> str:
    info = metrics["run"]
    symbols = ", ".join(str(s) for s in info.get("symbols", []))
    duration = info.get("duration_s")
    items = [
        ("Strategy", info.get("strategy")), ("Symbols", symbols),
        ("Period (UTC)", f"{_when(info.get('start'))} → {_when(info.get('end'))}"), ("Bars", fmt_int(info.get("bars"))),
        ("Policy", info.get("policy_name")), ("Created", _when(info.get("created"))),
        ("Run time", f"{float(duration):,.1f} s" if isinstance(duration, int | float) else "n/a"),
    ]
    meta = "".join(f"<span>{esc(k)}: <b>{esc(v)}</b></span>" for k, v in items)
    return (f'<header class="top"><div class="inner"><h1>Backtest report · {esc(info.get("run_id", run.run_id))}'
            f'</h1><div class="meta">{meta}</div></div></header>')


def _equity_sections(equity: pd.DataFrame, events: pd.DataFrame, limits: ReportLimits) -> list[str]:
    if equity.empty:
        return [_section("Equity and drawdown", tables.note("equity.parquet has no rows."), "equity")]
    trips = events.loc[events["kind"] == "kill_switch_trip", "ts"].to_numpy(dtype=np.int64)
    points = "" if len(equity) <= MAX_PLOT_POINTS else tables.note(
        f"{len(equity):,} equity rows, plotted as at most {MAX_PLOT_POINTS:,} points keeping each bucket's extremes.")
    exposure_note = tables.note(
        f"Limits from {limits.source}: max total exposure {fmt_pct(limits.max_total_exposure, 0)}, "
        f"exposure alert {fmt_pct(limits.exposure_alert, 0)}, max correlated exposure "
        f"{fmt_pct(limits.max_correlated_exposure, 0)}, {limits.total_slots} position slots.")
    return [
        _section("Equity and drawdown", points + _figure(charts.equity_figure(equity, trips), "fig-equity"), "equity"),
        _section("Exposure", exposure_note + _figure(charts.exposure_figure(equity, limits), "fig-exposure"),
                 "exposure"),
        _section("Slot usage by tier", _figure(charts.slots_figure(equity, limits.total_slots), "fig-slots"),
                 "slots"),
    ]


def _correlation_section(run: RunFolder, limits: ReportLimits) -> str:
    if not run.has(CORRELATION_FILE):
        return _section("Correlation", tables.note(f"{CORRELATION_FILE} is not in the run folder."), "correlation")
    parts = [_figure(charts.correlation_figure(run.correlation(), "At the end of the run"), "fig-corr")]
    parts.append(tables.correlation_pairs_table(run.correlation(), limits.high_correlation))
    if run.has(CORRELATION_AVERAGE_FILE):
        average = charts.correlation_figure(run.correlation(average=True), "Average over the run")
        parts.append(_figure(average, "fig-corr-avg"))
    return _section("Correlation", f'<div class="two">{"".join(f"<div>{p}</div>" for p in parts)}</div>',
                    "correlation")


def _asset_section(trades: pd.DataFrame, symbols: Sequence[str], missing: str) -> str:
    summary = per_asset(trades, symbols)
    if trades.empty:
        body = tables.note(missing or "No trades in this run, so no per-asset P&L.") + tables.per_asset_table(summary)
    else:
        body = _figure(charts.per_asset_figure(summary), "fig-assets") + tables.per_asset_table(summary)
    return _section("P&L by asset", body, "assets")


def _signal_section(trades: pd.DataFrame, missing: str) -> str:
    if trades.empty:
        return _section("P&L by signal", tables.note(missing or "No trades in this run, so no P&L by signal."),
                        "signals")
    summary = per_signal(trades)
    intro = tables.note("Each trade under the signal whose intent opened it; net P&L is after fees and funding. "
                        "Entry slippage: the fill against the bar's open, in basis points (positive: paid; "
                        "0 for a maker limit fill).")
    body = intro + _figure(charts.per_signal_figure(summary), "fig-signals") + tables.per_signal_table(summary)
    return _section("P&L by signal", body, "signals")


def _price_section(run: RunFolder, trades: pd.DataFrame, equity: pd.DataFrame, symbols: Sequence[str],
                   start_equity: float) -> str:
    title = "Prices, entries and exits"
    if not run.has(PRICES_FILE):
        return _section(title, tables.note(f"{PRICES_FILE} is not in the run folder (runs written before it "
                                           "was added): no price charts."), "prices")
    prices = run.prices()
    if prices.empty:
        return _section(title, tables.note(f"{PRICES_FILE} has no rows: no price charts."), "prices")
    times = [prices["ts"], equity["ts"], trades["entry_ts"], trades["exit_ts"]]
    span = (min(int(t.min()) for t in times if len(t)), max(int(t.max()) for t in times if len(t)))
    parts = [tables.note(
        "Closes sampled hourly. ▲ long entry, ▼ short entry, × exit; hover a mark for its signal, slippage, "
        "exit reason and net P&L. Below: buying the asset with the run's starting equity at its first price "
        "and holding it (no fees or funding), beside the run's equity (all assets).")]
    for i, symbol in enumerate(dict.fromkeys([*symbols, *prices["symbol"].tolist()])):
        own = prices[prices["symbol"] == symbol]
        if own.empty:
            parts.append(tables.note(f"{symbol}: no prices in {PRICES_FILE}."))
            continue
        chart = price_figure(symbol, own, trades[trades["symbol"] == symbol], equity, start_equity, span)
        parts.append((tables.note(chart.note) if chart.note else "") + _figure(chart.figure, f"fig-price-{i}"))
    return _section(title, "".join(parts), "prices")


def _refusal_section(events: pd.DataFrame, missing: str, metrics: dict[str, Any]) -> str:
    """One count of refused intents, the run's own (``refused_intents`` in metrics.json), as in the headline;
    the rules' counts come from events.parquet, where an intent is listed under every rule that refused it."""
    counts = refusal_counts(events)
    refused = metrics.get("refused_intents")
    if counts.empty and not refused:
        text = missing or "No refusals or reductions: the risk engine approved every intent in full."
        return _section("Refusals and reductions by rule", tables.note(text), "refusals")
    reduced = events[events["kind"] == "reduced"].drop_duplicates(["ts", "symbol"]).shape[0]
    if isinstance(refused, int):
        source = "each counted once"
    else:  # a run from before metrics.json counted them: one per symbol and time in events.parquet
        refused = events[events["kind"] == "refused"].drop_duplicates(["ts", "symbol"]).shape[0]
        source = "counted from events.parquet, one per symbol and time"
    total = tables.note(f"{refused:,} intents refused ({source}) and {reduced:,} reduced by the risk engine. "
                        "The table counts refusals per rule: an intent counts under every rule that refused it, "
                        "so the rules add up to more; a cap that would only have cut a refused intent is not "
                        "counted.")
    if counts.empty:
        return _section("Refusals and reductions by rule", total + tables.note(missing), "refusals")
    body = total + f'<div class="two"><div>{_figure(charts.refusals_figure(counts), "fig-refusals")}</div>' \
        f"<div>{tables.refusals_table(counts)}</div></div>"
    return _section("Refusals and reductions by rule", body, "refusals")


def _data_section(metrics: dict[str, Any]) -> list[str]:
    """The fallbacks the venue made for missing feeds, before any figure is read (none: no section)."""
    notes = metrics.get("data_notes")
    if not isinstance(notes, list) or not notes:
        return []
    items = "".join(f"<li>{esc(str(n))}</li>" for n in notes)
    body = tables.note("The catalog lacked some feeds; the simulated venue fell back as follows, so read the "
                       "figures above with these in mind.") + f'<ul class="data-notes">{items}</ul>'
    return [_section("Data the run did not have", body, "data")]


def build_report_html(run: RunFolder) -> str:
    """The whole page as a string (``render_report`` writes it); separate so it can be inspected in tests."""
    metrics = run.metrics()
    equity = run.equity()
    trades, trades_missing = _optional_table(run, TRADES_FILE, TRADE_COLUMNS)
    events, events_missing = _optional_table(run, EVENTS_FILE, EVENT_COLUMNS)
    limits = read_limits(run)
    symbols = [str(s) for s in metrics["run"].get("symbols", [])]
    ts = equity["ts"].to_numpy(dtype=np.int64)
    start = metrics.get("start_equity")
    start_equity = float(start) if isinstance(start, int | float) and start > 0 else (
        float(equity["equity"].iloc[0]) if len(equity) else 1.0)
    sections = [
        _section("Headline", tables.headline_tiles(metrics), "headline"),
        *_data_section(metrics),
        *_equity_sections(equity, events, limits),
        _correlation_section(run, limits),
        _asset_section(trades, symbols, trades_missing),
        _signal_section(trades, trades_missing),
        _price_section(run, trades, equity, symbols, start_equity),
        _section("Monthly returns", tables.monthly_table(monthly_returns(ts, equity["equity"].to_numpy())),
                 "monthly"),
        _refusal_section(events, events_missing, metrics),
        _section("Alerts", tables.alerts_table(run.alerts()), "alerts"),
        _section("Kill-switch, lock and liquidation events",
                 tables.note(events_missing) if events_missing
                 else tables.events_table(events) + tables.other_events_summary(events), "events"),
        _section("Trades", tables.note(trades_missing) if trades_missing
                 else tables.trades_table(trades), "trades"),
    ]
    generated = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    title = f"Backtest report · {metrics['run'].get('run_id', run.run_id)}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"{_header(run, metrics)}<main>{''.join(sections)}"
        f"<footer>All times UTC. Generated {generated} by quantum_trader from {esc(run.path.name)}/; "
        "self-contained, works offline.</footer></main>"
        f'<script type="text/javascript">{_SORT_JS}</script></body></html>\n'
    )


def render_report(run: RunFolder) -> Path:
    """Write ``report.html`` into the run folder (atomically) and return its path."""
    return run.write_text(REPORT_FILE, build_report_html(run))
