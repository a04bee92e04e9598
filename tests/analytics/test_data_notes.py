"""A run says which feeds it lacked and what the venue assumed instead, in the CLI, metrics and report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tests.analytics.test_report import build_run

from quantum_trader.analytics.backtest import assemble_market
from quantum_trader.analytics.data_notes import data_notes
from quantum_trader.analytics.report import build_report_html
from quantum_trader.domain.market import BarSeries, BookSeries, FundingSeries
from quantum_trader.domain.time import MS_PER_DAY, MS_PER_HOUR, parse_time

T0 = parse_time("2025-01-01")
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
DAYS = 10


def bars(symbol: str, step: int = MS_PER_HOUR) -> BarSeries:
    n = DAYS * MS_PER_DAY // step
    ts = T0 + np.arange(n, dtype=np.int64) * step
    close = np.full(n, 100.0)
    return BarSeries(symbol, "1h" if step == MS_PER_HOUR else "1m", ts, close, close + 1, close - 1, close,
                     np.full(n, 10.0))


def funding(symbol: str, days: int = DAYS) -> FundingSeries:
    ts = T0 + np.arange(days * 3, dtype=np.int64) * 8 * MS_PER_HOUR
    return FundingSeries(symbol, ts, np.full(ts.size, 1e-4))


def book(symbol: str) -> BookSeries:
    ts = T0 + np.arange(DAYS * 24, dtype=np.int64) * MS_PER_HOUR
    one = np.ones((ts.size, 1))
    return BookSeries(symbol, ts, one * 99.99, one * 50.0, one * 100.01, one * 50.0)


def test_candles_alone_name_every_fallback_once_per_feed() -> None:
    notes = data_notes(assemble_market({BTC: bars(BTC), ETH: bars(ETH)}), "1h")
    assert len(notes) == 4
    funding_note, marks, books, intrabar = notes
    assert funding_note.startswith("no funding series for BTC, ETH") and "understated" in funding_note
    assert marks.startswith("no mark-price series for BTC, ETH")
    assert books.startswith("no order books for BTC, ETH") and "2 bp" in books and "liquidity rule" in books
    assert intrabar.startswith("1h bars without 1m bars for BTC, ETH") and "stop first" in intrabar


def test_every_feed_present_gives_no_note() -> None:
    market = {BTC: bars(BTC)}
    data = assemble_market(market, {BTC: funding(BTC)}, {BTC: book(BTC)}, {BTC: bars(BTC)})
    assert data_notes(data, "1m") == []  # 1m: nothing finer is needed


def test_a_funding_series_that_stops_early_says_how_much_of_the_run_it_covers() -> None:
    data = assemble_market({BTC: bars(BTC)}, {BTC: funding(BTC, days=3)}, {BTC: book(BTC)}, {BTC: bars(BTC)})
    [note] = [n for n in data_notes(data, "1m") if "funding" in n]
    assert note.startswith("funding for BTC covers 2025-01-01 to 2025-01-03, 27% of the run")


def test_slippage_off_is_said_instead_of_the_spread_model() -> None:
    [note] = [n for n in data_notes(assemble_market({BTC: bars(BTC)}), "1m", slippage=False) if "books" in n]
    assert "slippage off" in note and "bp" not in note


def test_report_lists_the_notes_and_omits_the_section_when_there_are_none(tmp_path: Path) -> None:
    run = build_run(tmp_path / "a")
    assert "Data the run did not have" not in build_report_html(run)
    metrics = run.metrics()
    metrics["data_notes"] = ["no funding series for BTC: <none>"]
    run.write_metrics(metrics)
    html = build_report_html(run)
    assert "Data the run did not have" in html and "no funding series for BTC: &lt;none&gt;" in html
