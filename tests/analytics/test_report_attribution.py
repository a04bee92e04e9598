"""The report attributes P&L to signals, charts each asset's trades on its price beside buy-and-hold,
and states costs with one sign (positive: paid)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.analytics.test_report import SYMBOLS, T0, _trades, build_run

from quantum_trader.analytics.report import build_report_html
from quantum_trader.analytics.report_data import UNKNOWN_SIGNAL, per_signal
from quantum_trader.analytics.report_prices import MAX_MARKED_TRADES, buy_and_hold, price_figure
from quantum_trader.analytics.run_folder import RunFolder
from quantum_trader.domain.time import MS_PER_HOUR


def _section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}">')
    return html[start:html.index("</section>", start)]


def test_pnl_by_signal_adds_up_to_the_trades(tmp_path: Path) -> None:
    trades = _trades()
    summary = per_signal(trades).set_index("signal")
    assert set(summary.index) == {"trend", "btc_divergence"}
    for signal, own in trades.groupby("signal"):
        row = summary.loc[signal]
        assert row["trades"] == len(own)
        assert row["pnl"] == pytest.approx(own["pnl"].sum())
        assert row["fees"] == pytest.approx(own["fees"].sum())
        assert row["avg_pnl"] == pytest.approx(own["pnl"].mean())
        assert row["win_rate"] == pytest.approx((own["pnl"] > 0).mean())
        assert row["avg_entry_slippage"] == pytest.approx(own["entry_slippage"].mean())
    assert summary["pnl"].is_monotonic_decreasing
    html = _section(build_report_html(build_run(tmp_path)), "signals")
    assert 'id="fig-signals"' in html
    trend = trades[trades["signal"] == "trend"]
    assert f">{trend['pnl'].sum():,.2f}<" in html
    assert "Avg entry slippage (bp)" in html


def test_unrecorded_signals_are_named_as_such(tmp_path: Path) -> None:
    summary = per_signal(_trades().assign(signal=""))
    assert summary["signal"].tolist() == [UNKNOWN_SIGNAL]


def test_costs_read_as_paid_in_every_table(tmp_path: Path) -> None:
    html = build_report_html(build_run(tmp_path))
    assert "Funding received" not in html
    for section_id in ("assets", "signals", "trades"):
        assert "Funding paid" in _section(html, section_id)
    # 0.05 paid per trade: a cost, shown positive and in red
    trades = _section(html, "trades")
    assert re.search(r'<td class="num neg" data-v="0.05">0.05</td>', trades)


def test_every_asset_gets_a_price_chart_with_its_entries_exits_and_buy_and_hold(tmp_path: Path) -> None:
    run = build_run(tmp_path)
    html = _section(build_report_html(run), "prices")
    for i in range(len(SYMBOLS)):
        assert f'id="fig-price-{i}"' in html
    trades, prices, equity = run.trades(), run.prices(), run.equity()
    symbol = SYMBOLS[0]
    own = trades[trades["symbol"] == symbol]
    chart = price_figure(symbol, prices[prices["symbol"] == symbol], own, equity, 10_000.0)
    traces = {t.name: t for t in chart.figure.data}
    longs, shorts = own[own["side"] == "long"], own[own["side"] == "short"]
    assert len(traces["Long entry"].x) == len(longs) and len(traces["Short entry"].x) == len(shorts)
    assert list(traces["Exit"].y) == own["exit_price"].tolist()
    assert any(f"· {r}" in text for text in traces["Exit"].hovertext for r in own["exit_reason"])
    assert all("slippage" in text and "bp" in text for text in traces["Long entry"].hovertext)
    hold = traces["Buy and hold"]
    close = prices.loc[prices["symbol"] == symbol, "close"].to_numpy()
    assert hold.y[0] == pytest.approx(10_000.0)
    assert hold.y[-1] == pytest.approx(10_000.0 * close[-1] / close[0], rel=1e-6)  # float32 on the page
    assert "Run equity (all assets)" in traces


def test_buy_and_hold_starts_at_the_start_equity_and_follows_the_price() -> None:
    assert buy_and_hold(np.array([50.0, 75.0, 25.0]), 1_000.0).tolist() == [1_000.0, 1_500.0, 500.0]


def test_a_busy_asset_marks_its_latest_trades_and_says_so(tmp_path: Path) -> None:
    many = pd.concat([_trades()] * 200, ignore_index=True)
    many["symbol"] = SYMBOLS[0]
    many["exit_ts"] = T0 + MS_PER_HOUR * np.arange(len(many), dtype=np.int64)
    prices = pd.DataFrame({"ts": T0 + MS_PER_HOUR * np.arange(10, dtype=np.int64), "symbol": SYMBOLS[0],
                           "close": np.linspace(100, 110, 10)})
    chart = price_figure(SYMBOLS[0], prices, many, pd.DataFrame({"ts": [], "equity": []}), 10_000.0)
    exits = next(t for t in chart.figure.data if t.name == "Exit")
    assert len(exits.x) == MAX_MARKED_TRADES
    assert max(exits.x) == float(many["exit_ts"].max())
    assert f"latest {MAX_MARKED_TRADES:,} of {len(many):,} trades" in chart.note


def test_a_run_from_before_prices_and_signals_renders_and_says_what_it_lacks(tmp_path: Path) -> None:
    run = build_run(tmp_path, prices=False)
    old = run.trades().drop(columns=["signal", "entry_slippage"])
    old = old.rename(columns={"funding_paid": "funding"}).assign(funding=lambda f: -f["funding"])
    old.to_parquet(run.path / "trades.parquet")
    metrics = run.metrics()
    del metrics["refused_intents"]
    run.write_metrics(metrics)
    html = build_report_html(RunFolder(run.path))
    assert "prices.parquet is not in the run folder" in html
    assert f">{UNKNOWN_SIGNAL}<" in _section(html, "signals")
    assert "6 intents refused (counted from events.parquet, one per symbol and time)" in html
