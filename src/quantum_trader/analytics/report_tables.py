"""HTML fragments of the report that are tables rather than charts: tiles, months, assets, signals, events, trades.

Tables are plain HTML (not plotly) because they must stay readable when printed, searchable
with Ctrl+F and copyable into a spreadsheet. Every value is escaped; numbers carry a
``data-v`` attribute with the raw value so the sort script orders them numerically.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from quantum_trader.analytics.report_data import UNKNOWN_SIGNAL
from quantum_trader.analytics.report_format import (
    esc,
    fmt_days,
    fmt_int,
    fmt_money,
    fmt_pct,
    fmt_price,
    fmt_ratio,
    fmt_ts,
    sign_class,
)

MAX_TRADE_ROWS: Final = 2_000
MAX_EVENT_ROWS: Final = 500
MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
RISK_EVENT_KINDS: Final = (
    "kill_switch_trip", "kill_switch_rearm", "kill_switch_reset", "asset_lock", "asset_unlock", "liquidation",
    "tier_change",
)


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def _tile(label: str, value: str, css: str = "", sub: str = "") -> str:
    sub_html = f'<div class="sub">{esc(sub)}</div>' if sub else ""
    return (f'<div class="tile"><div class="label">{esc(label)}</div>'
            f'<div class="value {css}">{esc(value)}</div>{sub_html}</div>')


def headline_tiles(metrics: dict[str, Any]) -> str:
    """The figures a reader checks first, formatted as everywhere else in the report."""
    m = metrics.get
    trips = m("kill_switch_trips", 0)
    tiles = [
        _tile("Total return", fmt_pct(m("total_return")), sign_class(m("total_return")),
              f"{fmt_money(m('start_equity'))} → {fmt_money(m('end_equity'))}"),
        _tile("CAGR", fmt_pct(m("cagr")), sign_class(m("cagr"))),
        _tile("Sharpe", fmt_ratio(m("sharpe")), sign_class(m("sharpe"))),
        _tile("Sortino", fmt_ratio(m("sortino")), sign_class(m("sortino"))),
        _tile("Calmar", fmt_ratio(m("calmar")), sign_class(m("calmar"))),
        _tile("Max drawdown", fmt_pct(m("max_drawdown")), "neg" if (m("max_drawdown") or 0) < 0 else "",
              fmt_days(m("max_drawdown_duration_days"))),
        _tile("Win rate", fmt_pct(m("win_rate"), 1)),
        _tile("Profit factor", fmt_ratio(m("profit_factor"))),
        _tile("Trades", fmt_int(m("trades", 0))),
        _tile("Fees paid", fmt_money(m("fees_paid"))),
        _tile("Funding paid", fmt_money(m("funding_paid")), sign_class(-(m("funding_paid") or 0.0)),
              "negative: received"),
        _tile("Kill-switch trips", fmt_int(trips), "neg" if trips else ""),
    ]
    if m("refused_intents") is not None:
        tiles.append(_tile("Refused intents", fmt_int(m("refused_intents")), "", "each counted once"))
    limits = m("limit_entries") or {}
    if limits.get("placed"):
        unfilled = ", ".join(f"{limits[k]} {k.replace('_', ' ')}" for k in
                             ("expired", "cancelled", "rejected", "refused_at_fill") if limits.get(k))
        tiles.append(_tile("Limit entries filled", f"{limits.get('filled', 0)} / {limits['placed']}", "", unfilled))
    return '<div class="tiles">' + "".join(tiles) + "</div>"


def _color_cell(value: float, scale: float) -> str:
    if not np.isfinite(value):
        return '<td class="num empty"></td>'
    alpha = 0.12 + 0.73 * min(1.0, abs(value) / scale) if scale > 0 else 0.12
    rgb = "22,163,74" if value >= 0 else "220,38,38"
    return f'<td class="num" style="background:rgba({rgb},{alpha:.2f})">{esc(fmt_pct(value, 1))}</td>'


def monthly_table(grid: pd.DataFrame) -> str:
    """Year x month returns, shaded on one scale (the largest absolute month) so months compare."""
    if grid.empty:
        return note("No equity rows: no monthly returns.")
    months = grid[list(range(1, 13))].to_numpy(dtype=float)
    finite = np.abs(months[np.isfinite(months)])
    scale = float(finite.max()) if finite.size else 0.0
    head = "".join(f"<th>{m}</th>" for m in MONTHS) + "<th>Year</th>"
    rows = []
    for year, row in grid.iterrows():
        cells = "".join(_color_cell(float(row[m]), scale) for m in range(1, 13))
        rows.append(f"<tr><th>{esc(year)}</th>{cells}{_color_cell(float(row['Year']), max(scale, 1e-12))}</tr>")
    return f'<table class="grid months"><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _table(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[tuple[str, Any, str]]],
           css: str = "", table_id: str = "") -> str:
    """``columns``: (title, 'num'|'') ; ``rows``: cells of (text, sort value, extra css)."""
    id_attr = f' id="{esc(table_id)}"' if table_id else ""
    sortable = " sortable" if table_id else ""
    head = "".join(f'<th class="{kind}">{esc(title)}</th>' for title, kind in columns)
    body = []
    for row in rows:
        cells = []
        for (text, value, extra), (_, kind) in zip(row, columns, strict=True):
            data = "" if value is None else f' data-v="{esc(value)}"'
            cells.append(f'<td class="{kind} {extra}"{data}>{esc(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="grid {css}{sortable}"{id_attr}><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _num(value: Any, fmt: Callable[[Any], str], colored: bool = False) -> tuple[str, Any, str]:
    raw = float(value) if value is not None and np.isfinite(float(value)) else ""
    return fmt(value), raw, sign_class(value) if colored else ""


def _ms(value: Any) -> int:
    return int(value)


def _cost(value: Any) -> tuple[str, Any, str]:
    """A cost (positive: paid) coloured as its effect on P&L: red when paid, green when received."""
    text, raw, _ = _num(value, fmt_money)
    return text, raw, sign_class(-float(value)) if raw != "" else ""


def _bp(value: Any) -> str:
    """A fraction in basis points: 0.00021 -> '2.1'."""
    return fmt_ratio(None if value is None else float(value) * 10_000, 1)


def per_asset_table(summary: pd.DataFrame) -> str:
    columns = [("Symbol", ""), ("Trades", "num"), ("Win rate", "num"), ("Net P&L", "num"),
               ("Fees paid", "num"), ("Funding paid", "num")]
    rows = [
        [(str(r.symbol), None, ""), _num(r.trades, fmt_int), _num(r.win_rate, lambda v: fmt_pct(v, 1)),
         _num(r.pnl, fmt_money, True), _num(r.fees, fmt_money), _cost(r.funding_paid)]
        for r in summary.itertuples(index=False)
    ]
    return _table(columns, rows, "compact")


def per_signal_table(summary: pd.DataFrame) -> str:
    """Per opening signal: what it earned net of costs, per trade, and the slippage its entries paid."""
    columns = [("Signal", ""), ("Trades", "num"), ("Win rate", "num"), ("Net P&L", "num"), ("Fees paid", "num"),
               ("Funding paid", "num"), ("Avg P&L / trade", "num"), ("Avg entry slippage (bp)", "num")]
    rows = [
        [(str(r.signal), None, ""), _num(r.trades, fmt_int), _num(r.win_rate, lambda v: fmt_pct(v, 1)),
         _num(r.pnl, fmt_money, True), _num(r.fees, fmt_money), _cost(r.funding_paid),
         _num(r.avg_pnl, fmt_money, True), _num(r.avg_entry_slippage, _bp)]
        for r in summary.itertuples(index=False)
    ]
    return _table(columns, rows, "compact")


def correlation_pairs_table(matrix: pd.DataFrame, threshold: float) -> str:
    """Every pair, most correlated first; pairs above the policy threshold count as one correlated exposure."""
    symbols = [str(s) for s in matrix.columns]
    values = matrix.to_numpy(dtype=float)
    pairs = sorted(
        ((values[i, j], symbols[i], symbols[j]) for i in range(len(symbols)) for j in range(i + 1, len(symbols))),
        key=lambda p: -p[0] if np.isfinite(p[0]) else np.inf,
    )
    if not pairs:
        return note("One symbol: no pairs to correlate.")
    columns = [("Pair", ""), ("Correlation", "num"), (f"Above {threshold:.2f}", "")]
    rows = [[(f"{a} / {b}", None, ""), _num(rho, fmt_ratio), ("yes" if rho > threshold else "", None,
                                                             "neg" if rho > threshold else "")]
            for rho, a, b in pairs]
    return _table(columns, rows, "compact")


def refusals_table(counts: pd.DataFrame) -> str:
    columns = [("Rule", ""), ("Refusals", "num"), ("Reductions", "num")]
    rows = [[(str(rule), None, ""), _num(row["refused"], fmt_int), _num(row["reduced"], fmt_int)]
            for rule, row in counts.iterrows()]
    return _table(columns, rows, "compact")


def events_table(events: pd.DataFrame) -> str:
    """Kill-switch, lock, liquidation and tier-change events in time order (what a reviewer must account for)."""
    chosen = events[events["kind"].isin(RISK_EVENT_KINDS)].sort_values("ts", kind="stable")
    if chosen.empty:
        return note("No kill-switch, asset-lock, liquidation or tier-change events in this run.")
    shown = chosen.tail(MAX_EVENT_ROWS)
    columns = [("Time (UTC)", ""), ("Kind", ""), ("Symbol", ""), ("Rule", ""), ("Message", ""),
               ("Value", "num"), ("Limit", "num")]
    rows = [
        [(fmt_ts(e.ts), _ms(e.ts), ""), (str(e.kind), str(e.kind), f"kind-{esc(e.kind)}"),
         (str(e.symbol), str(e.symbol), ""), (str(e.rule), str(e.rule), ""), (str(e.message), None, "msg"),
         _num(e.value, lambda v: fmt_ratio(v, 4)), _num(e.limit, lambda v: fmt_ratio(v, 4))]
        for e in shown.itertuples(index=False)
    ]
    head = "" if len(shown) == len(chosen) else note(
        f"Showing the last {len(shown):,} of {len(chosen):,} events; events.parquet holds them all.")
    return head + _table(columns, rows, "compact", "risk-events")


def other_events_summary(events: pd.DataFrame) -> str:
    """Counts of the remaining event kinds (drift, correlation spikes...) that have no chart of their own."""
    other = events[~events["kind"].isin((*RISK_EVENT_KINDS, "refused", "reduced"))]
    if other.empty:
        return ""
    counts = other["kind"].value_counts()
    items = "".join(f"<li><b>{esc(kind)}</b>: {fmt_int(n)}</li>" for kind, n in counts.items())
    return f'<p class="note">Other events recorded:</p><ul class="inline">{items}</ul>'


def trades_table(trades: pd.DataFrame) -> str:
    """The last trades by exit time, newest first; R is net P&L over the risk planned at entry."""
    if trades.empty:
        return note("No trades in this run.")
    ordered = trades.sort_values(["exit_ts", "entry_ts"], kind="stable")
    shown = ordered.tail(MAX_TRADE_ROWS).iloc[::-1]
    planned = shown["planned_risk"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r_multiple = np.where(planned > 0, shown["pnl"].to_numpy(dtype=float) / planned, np.nan)
    columns = [("Symbol", ""), ("Side", ""), ("Signal", ""), ("Entry (UTC)", ""), ("Exit (UTC)", ""),
               ("Entry", "num"), ("Slippage (bp)", "num"), ("Exit", "num"), ("Quantity", "num"), ("Notional", "num"),
               ("Net P&L", "num"), ("R", "num"), ("Fees paid", "num"), ("Funding paid", "num"), ("Exit reason", "")]
    rows = [
        [(str(t.symbol), str(t.symbol), ""), (str(t.side), str(t.side), f"side-{esc(t.side)}"),
         (str(t.signal) or UNKNOWN_SIGNAL, str(t.signal), ""),
         (fmt_ts(t.entry_ts), _ms(t.entry_ts), ""), (fmt_ts(t.exit_ts), _ms(t.exit_ts), ""),
         _num(t.entry_price, fmt_price), _num(t.entry_slippage, _bp), _num(t.exit_price, fmt_price),
         _num(t.quantity, fmt_price), _num(t.notional_at_entry, fmt_money), _num(t.pnl, fmt_money, True),
         _num(r, fmt_ratio, True), _num(t.fees, fmt_money), _cost(t.funding_paid),
         (str(t.exit_reason), str(t.exit_reason), "")]
        for t, r in zip(shown.itertuples(index=False), r_multiple, strict=True)
    ]
    head = note(f"{len(trades):,} trades, newest first. Click a column title to sort.")
    if len(shown) < len(trades):
        head = note(f"Showing the last {len(shown):,} of {len(trades):,} trades (newest first); "
                    "trades.parquet holds them all. Click a column title to sort.")
    return head + f'<div class="scroll">{_table(columns, rows, "trades", "trades")}</div>'


def alerts_table(alerts: pd.DataFrame) -> str:
    """The alerts the rules raised over the run (alerts.parquet), the latest ``MAX_EVENT_ROWS`` of them."""
    if alerts.empty:
        return note("No alert was raised in this run (or the run was written before alerts were).")
    shown = alerts.sort_values("ts", kind="stable").tail(MAX_EVENT_ROWS)
    columns = [("Time (UTC)", ""), ("Severity", ""), ("Kind", ""), ("Message", "")]
    rows = [[(fmt_ts(a.ts), _ms(a.ts), ""), (str(a.severity), str(a.severity), f"sev-{esc(a.severity)}"),
             (str(a.kind), str(a.kind), ""), (str(a.message), None, "msg")] for a in shown.itertuples(index=False)]
    head = "" if len(shown) == len(alerts) else note(
        f"Showing the last {len(shown):,} of {len(alerts):,} alerts; alerts.parquet holds them all.")
    return head + _table(columns, rows, "compact", "alerts-table")
