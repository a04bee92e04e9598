"""The report is one offline file that shows a run's headline figures, limits, symbols and refusals."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from quantum_trader.analytics.metrics import compute_metrics
from quantum_trader.analytics.report import build_report_html, render_report
from quantum_trader.analytics.report_data import (
    ReportError,
    downsample_indices,
    monthly_returns,
    read_limits,
    refusal_counts,
)
from quantum_trader.analytics.report_format import fmt_money, fmt_pct, fmt_ratio, fmt_ts
from quantum_trader.analytics.run_folder import RunFolder, hourly_closes
from quantum_trader.domain.time import MS_PER_DAY, MS_PER_HOUR, parse_time
from quantum_trader.engine.schema import EVENT_COLUMNS, TRADE_COLUMNS

T0 = parse_time("2026-01-01")
SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]
PLOTLY_HEAD = get_plotlyjs()[:120]
REFUSED_INTENTS = 7
"""The intents ``_events`` refuses, each once (the kernel's count, stored in metrics.json)."""


def _equity(n: int, step_ms: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    scale = step_ms / (4 * MS_PER_HOUR)
    equity = 10_000.0 * np.cumprod(1.0 + rng.normal(0.0004 * scale, 0.004 * np.sqrt(scale), n))
    tiers = rng.integers(0, 3, size=(3, n))
    return pd.DataFrame({
        "ts": T0 + np.arange(n, dtype=np.int64) * step_ms, "equity": equity, "cash": equity * 0.8,
        "total_exposure": rng.uniform(0.0, 0.38, n), "correlated_exposure": rng.uniform(0.0, 0.22, n),
        "open_positions": tiers.sum(axis=0), "slots_tier_1": tiers[0], "slots_tier_2": tiers[1] // 2,
        "slots_tier_3": tiers[2] // 2, "drawdown": equity / np.maximum.accumulate(equity) - 1.0,
    })


def _trades() -> pd.DataFrame:
    rows = []
    for i in range(9):
        symbol = SYMBOLS[i % 3]
        entry = T0 + i * 5 * MS_PER_DAY
        rows.append({
            "symbol": symbol, "side": "long" if i % 2 == 0 else "short", "entry_ts": entry,
            "exit_ts": entry + 30 * MS_PER_HOUR, "entry_price": 100.0 + i, "exit_price": 101.0 + i,
            "quantity": 2.0, "notional_at_entry": 200.0 + 2 * i, "equity_at_entry": 10_000.0, "stop": 95.0,
            "planned_risk": 10.0, "pnl": [12.5, -4.0, 7.25][i % 3] * (1 + i), "fees": 0.2, "funding_paid": 0.05,
            "exit_reason": ["target", "stop", "signal"][i % 3], "signal": ["trend", "btc_divergence"][i % 2],
            "entry_slippage": 0.0001 * i,
        })
    return pd.DataFrame(rows, columns=list(TRADE_COLUMNS))


def _events() -> pd.DataFrame:
    def ev(day: float, kind: str, symbol: str = "", rule: str = "", value: float = np.nan,
           limit: float = np.nan) -> dict[str, object]:
        return {"ts": T0 + int(day * MS_PER_DAY), "kind": kind, "symbol": symbol, "rule": rule,
                "message": f"{kind} {rule}".strip(), "value": value, "limit": limit}

    rows = [ev(1 + i / 10, "refused", "SOL/USDT:USDT", "max_total_exposure", 0.43, 0.40) for i in range(3)]
    rows += [ev(2, "refused", "ETH/USDT:USDT", "max_correlated_exposure", 0.27, 0.25)]
    rows += [ev(3 + i / 10, "reduced", "BTC/USDT:USDT", "max_risk_per_trade", 0.025, 0.02) for i in range(2)]
    # One more refused intent with two reasons: one intent, counted under both rules.
    rows += [ev(4, "refused", "BNB/USDT:USDT", rule, 0.5, 0.4) for rule in ("max_total_exposure", "slots")]
    # Two intents for XRP at one time (two signals), both refused: two intents, though one symbol and time.
    rows += [ev(5, "refused", "XRP/USDT:USDT", "slots", 0.5, 0.4) for _ in ("trend", "btc_divergence")]
    rows += [ev(20, "kill_switch_trip", rule="max_daily_loss_portfolio", value=-0.051, limit=-0.05),
             ev(21, "kill_switch_rearm"), ev(25, "asset_lock", "SOL/USDT:USDT", "max_daily_loss_per_asset"),
             ev(26, "asset_unlock", "SOL/USDT:USDT"), ev(30, "drift", rule="exposure_alert", value=0.36)]
    return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def _prices(n_hours: int, seed: int = 11) -> pd.DataFrame:
    """Hourly closes of ``SYMBOLS`` over the run, as the backtest samples its grid."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.cumprod(1.0 + rng.normal(0.0, 0.01, (n_hours, len(SYMBOLS))), axis=0)
    return hourly_closes(T0 + np.arange(n_hours, dtype=np.int64) * MS_PER_HOUR, close, SYMBOLS, MS_PER_HOUR)


def build_run(root: Path, *, n: int = 400, step_ms: int = 4 * MS_PER_HOUR, trades: bool = True,
              events: bool = True, policy: str | None = None, prices: bool = True) -> RunFolder:
    """A small complete run folder written through the engine's writers."""
    run = RunFolder(root / "20260101-000000-synthetic")
    equity = _equity(n, step_ms)
    if prices:
        run.write_prices(_prices(max(1, n * step_ms // MS_PER_HOUR)))
    trade_frame = _trades() if trades else pd.DataFrame(columns=list(TRADE_COLUMNS))
    event_frame = _events() if events else pd.DataFrame(columns=list(EVENT_COLUMNS))
    run.write_equity(equity)
    run.write_trades(trade_frame)
    run.write_events(event_frame)
    run.write_correlation(SYMBOLS, [[1.0, 0.82, 0.64], [0.82, 1.0, 0.71], [0.64, 0.71, 1.0]])
    metrics = compute_metrics(
        equity["ts"].to_numpy(), equity["equity"].to_numpy(), equity["total_exposure"].to_numpy(),
        run.trades(), refusals_by_rule=refusal_counts(run.events()).sum(axis=1).to_dict(),
        kill_switch_trips=int((event_frame["kind"] == "kill_switch_trip").sum()),
    )
    metrics["refused_intents"] = REFUSED_INTENTS if events else 0
    metrics["run"] = {
        "run_id": run.run_id, "strategy": "synthetic", "symbols": SYMBOLS, "start": "2026-01-01T00:00:00+00:00",
        "end": "2026-03-08T12:00:00+00:00", "bars": n, "policy_name": "default",
        "created": "2026-03-09T00:00:00+00:00", "duration_s": 12.3,
    }
    run.write_metrics(metrics)
    run.write_policy(policy if policy is not None else
                     "portfolio:\n  max_total_exposure: 0.40\n  max_correlated_exposure: 0.25\n"
                     "drift:\n  exposure_alert: 0.35\n")
    return run


@pytest.fixture()
def rendered(tmp_path: Path) -> tuple[RunFolder, str]:
    run = build_run(tmp_path)
    path = render_report(run)
    assert path == run.path / "report.html"
    return run, path.read_text("utf-8")


def test_report_is_offline_and_inlines_plotly_once(rendered: tuple[RunFolder, str]) -> None:
    _, html = rendered
    assert html.count(PLOTLY_HEAD) == 1
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?(https?:)?//", html, re.IGNORECASE)
    assert not re.search(r"@import|url\(\s*[\"']?(https?:)?//", html.split("<script", 1)[0])
    assert html.count('class="plotly-graph-div"') >= 6


def test_headline_tiles_show_formatted_metrics(rendered: tuple[RunFolder, str]) -> None:
    run, html = rendered
    m = run.metrics()
    tiles = html[html.index('class="tiles"'):html.index("</section>")]
    for expected in (fmt_pct(m["total_return"]), fmt_pct(m["cagr"]), fmt_ratio(m["sharpe"]),
                     fmt_ratio(m["sortino"]), fmt_ratio(m["calmar"]), fmt_pct(m["max_drawdown"]),
                     fmt_pct(m["win_rate"], 1), fmt_ratio(m["profit_factor"]), fmt_money(m["fees_paid"])):
        assert f">{expected}<" in tiles
    assert "Kill-switch trips</div><div class=\"value neg\">1<" in tiles
    assert '<div class="label">Trades</div><div class="value ">9<' in tiles
    assert fmt_money(m["fees_paid"]) == "1.80"


def test_limits_symbols_and_refusal_rules_are_shown(rendered: tuple[RunFolder, str]) -> None:
    _, html = rendered
    assert "max total exposure 40%" in html and "exposure alert 35%" in html
    assert "max correlated exposure 25%" in html
    for symbol in SYMBOLS:
        assert symbol in html
    for rule in ("max_total_exposure", "max_correlated_exposure", "max_risk_per_trade"):
        assert f">{rule}<" in html
    assert "7 intents refused (each counted once) and 2 reduced" in html
    assert ">kill_switch_trip<" in html and ">asset_lock<" in html
    assert "2026-01-21 00:00:00" in html  # the trip, as a UTC time string


def test_trades_table_lists_every_trade_with_utc_times(rendered: tuple[RunFolder, str]) -> None:
    _, html = rendered
    table = html[html.index('id="trades"'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr>") == 10  # header + 9 trades
    assert ">2026-01-01 00:00:00<" in table and ">2026-01-02 06:00:00<" in table
    assert ">100.0000<" in table


def test_run_without_trades_or_events_renders_and_says_so(tmp_path: Path) -> None:
    run = build_run(tmp_path, trades=False, events=False)
    html = render_report(run).read_text("utf-8")
    assert "No trades in this run." in html
    assert "No refusals or reductions" in html
    assert "No kill-switch, asset-lock, liquidation or tier-change events" in html
    assert '<div class="label">Win rate</div><div class="value ">n/a<' in html


def test_missing_optional_files_are_named_not_fatal(tmp_path: Path) -> None:
    run = build_run(tmp_path)
    for name in ("trades.parquet", "events.parquet", "correlation.parquet", "policy.yaml"):
        (run.path / name).unlink()
    html = build_report_html(RunFolder(run.path))
    assert "trades.parquet is not in the run folder." in html
    assert "correlation.parquet is not in the run folder." in html
    assert "Limits from defaults (policy.yaml not in the run folder)" in html


def test_limits_come_from_the_runs_policy_with_defaults_for_missing_keys(tmp_path: Path) -> None:
    run = build_run(tmp_path, policy="portfolio:\n  max_total_exposure: 0.3\n")
    limits = read_limits(run)
    assert (limits.max_total_exposure, limits.exposure_alert, limits.max_correlated_exposure) == (0.3, 0.35, 0.25)
    assert limits.total_slots == 5
    html = build_report_html(run)
    assert "max total exposure 30%" in html
    run.write_policy("drift:\n  exposure_alert: high\n")
    with pytest.raises(ReportError, match=r"policy.yaml: drift.exposure_alert must be a positive number"):
        read_limits(run)


def test_large_run_is_downsampled_and_keeps_the_worst_drawdown(tmp_path: Path) -> None:
    n = 200_000
    run = build_run(tmp_path, n=n, step_ms=60_000)
    equity = run.equity()
    keep = downsample_indices([equity["equity"].to_numpy(), equity["drawdown"].to_numpy()])
    assert len(keep) <= 5_000
    assert int(np.argmin(equity["drawdown"].to_numpy())) in keep
    assert int(np.argmax(equity["equity"].to_numpy())) in keep
    assert keep[0] == 0 and keep[-1] == n - 1
    size = render_report(run).stat().st_size
    assert size < len(get_plotlyjs()) + 1_500_000


def test_monthly_returns_compound_from_month_end_equity() -> None:
    ts = np.array([parse_time(d) for d in ("2026-01-01", "2026-01-31", "2026-02-15", "2026-02-28")])
    grid = monthly_returns(ts, np.array([100.0, 110.0, 99.0, 121.0]))
    assert grid.loc[2026, 1] == pytest.approx(0.10)
    assert grid.loc[2026, 2] == pytest.approx(0.10)
    assert grid.loc[2026, "Year"] == pytest.approx(0.21)
    assert np.isnan(grid.loc[2026, 3])


def test_trades_table_keeps_the_last_2000_and_says_so(tmp_path: Path) -> None:
    run = build_run(tmp_path)
    many = pd.concat([_trades()] * 240, ignore_index=True)  # 2,160 trades
    many["exit_ts"] = T0 + MS_PER_HOUR * np.arange(len(many), dtype=np.int64)
    run.write_trades(many)
    html = build_report_html(run)
    assert "Showing the last 2,000 of 2,160 trades" in html
    table = html[html.index('id="trades"'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr>") == 2_001
    newest = T0 + MS_PER_HOUR * (len(many) - 1)
    assert table.index(fmt_ts(newest)) < table.index(fmt_ts(newest - MS_PER_HOUR))
    assert fmt_ts(T0 + MS_PER_HOUR * 159) not in table  # the oldest 160 are left out
