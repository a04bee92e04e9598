"""Old order books, marks and funding rates expire: past their maximum age they count as missing.

One book snapshot used to stay "the book" for the rest of a run: a snapshot from years
before decided every liquidity check of a two-year backtest. Each feed now has a maximum
age (``data_requirements.max_age``: book 5 minutes or one bar, mark one bar, funding one
interval); past it the venue falls back to its no-feed model and the data notes say for
which share of bars.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantum_trader.analytics.backtest import BacktestRequest, assemble_market, default_settings, run_backtest
from quantum_trader.analytics.data_notes import data_notes
from quantum_trader.data.catalog import Catalog
from quantum_trader.data.ingest import ingest_file
from quantum_trader.domain.market import BarSeries, BookSeries, DataKind, FundingSeries
from quantum_trader.engine.inputs import KernelSettings
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.strategies import MultiAssetStrategy
from quantum_trader.testkit import MarketBuilder, ScriptedDecisions, long, policy_with

BTC = "BTC/USDT:USDT"
HOUR = 3_600_000


def _thin_book(ts: int, mid: float = 100.0, size: float = 20.0) -> BookSeries:
    """One snapshot with 2,000 USD on each side within 1% of mid: 10% of it is a 200 USD order."""
    return BookSeries(BTC, np.array([ts], dtype=np.int64), np.array([[mid - 0.01]]), np.array([[size]]),
                      np.array([[mid + 0.01]]), np.array([[size]]))


def _market(book_at: int) -> tuple[MarketBuilder, object]:
    b = MarketBuilder()
    b.bars("BTC", [100.0] * 40)
    series = b.series()
    return b, assemble_market(series, books={BTC: _thin_book(b.ts(book_at))})


def _entry_notional(data: object, row: int) -> float:
    script = ScriptedDecisions.at_closes(data, intents={row: [long("BTC", entry=100, stop=90)]})
    kernel = Kernel(data, KernelSettings(policy=policy_with(), slippage=False))  # type: ignore[arg-type]
    trades = kernel.run(script).trades_frame()
    return float(trades["notional_at_entry"].iloc[0])


def test_a_fresh_book_binds_the_liquidity_rule() -> None:
    _, data = _market(book_at=1)
    assert _entry_notional(data, 1) < 250.0  # 10% of the 2,000 USD within 1%


def test_a_book_older_than_its_maximum_age_is_no_book() -> None:
    _, data = _market(book_at=1)
    assert _entry_notional(data, 30) > 9_000.0  # 29 hours later the book says nothing: depth unknown
    notes = data_notes(data, "1h")  # type: ignore[arg-type]
    assert any(n.startswith("order books missing or older than 1h for BTC at 95% of its bars") for n in notes), notes


def test_an_exchange_mark_is_carried_one_bar_then_the_close_marks_again() -> None:
    b = MarketBuilder()
    b.bars("BTC", [100.0, 101.0, 102.0, 103.0, 104.0, 105.0])
    series = b.series()
    marks = BarSeries(BTC, "1h", series[BTC].ts[:2], *(np.array([99.0, 100.5]),) * 4, np.array([np.nan, np.nan]))
    data = assemble_market(series, marks={BTC: marks})
    assert data.grid.mark[:, 0].tolist() == [99.0, 100.5, 100.5, 103.0, 104.0, 105.0]
    notes = data_notes(data, "1h")
    assert any(n.startswith("mark prices missing or older than 1h for BTC at 50% of its bars") for n in notes)


def test_a_funding_gap_inside_the_run_is_named() -> None:
    b = MarketBuilder()
    b.bars("BTC", [100.0] * 72)
    series = b.series()
    settle = np.array([b.ts(0), b.ts(8), b.ts(40), b.ts(48), b.ts(56), b.ts(64)], dtype=np.int64)  # 16..32 missing
    data = assemble_market(series, funding={BTC: FundingSeries(BTC, settle, np.full(settle.size, 1e-4))})
    notes = data_notes(data, "1h")
    assert any(n.startswith("funding rates missing or older than 8h for BTC at 32% of its bars") for n in notes), notes


def test_a_policy_sets_the_ages() -> None:
    b = MarketBuilder()
    b.bars("BTC", [100.0] * 40)
    policy = policy_with({"data_requirements.max_age.book": "2d"})
    data = assemble_market(b.series(), books={BTC: _thin_book(b.ts(1))}, policy=policy)
    assert data.book_max_age_ms == 2 * 24 * HOUR
    assert _entry_notional(data, 30) < 250.0


def test_a_bad_age_is_refused_naming_the_key() -> None:
    with pytest.raises(ValueError, match="data_requirements.max_age.book"):
        policy_with({"data_requirements.max_age.book": "soon"})


def test_a_book_from_years_before_decides_nothing_in_a_real_run(shared_data: Path, tmp_path: Path) -> None:
    """The issue's case: a 2020 Binance futures book beside 2024-2026 hourly candles."""
    catalog = Catalog(tmp_path / "catalog")
    for asset in ("BTC", "ETH"):
        ingest_file(catalog, shared_data / f"candles/binance_spot_1h/{asset}USDT.csv.gz", symbol=f"{asset}/USDT:USDT",
                    timeframe="1h", exchange="binanceusdm")
    ingest_file(catalog, shared_data / "orderbook/tardis_binance-futures_book_snapshot_25_BTCUSDT.csv", symbol=BTC,
                exchange="binanceusdm")
    assert catalog.dataset(BTC, DataKind.BOOK, exchange="binanceusdm") is not None
    policy = policy_with({"correlation.returns_timeframe": "1h"})
    result = run_backtest(BacktestRequest(
        catalog=tmp_path / "catalog", symbols=(BTC, "ETH/USDT:USDT"), strategy=MultiAssetStrategy(), policy=policy,
        exchange="binanceusdm", timeframe="1h", runs_dir=tmp_path / "runs",
        settings=default_settings(policy, phase=3, plain=False), report=False))
    notes = result.metrics["data_notes"]
    assert any(n.startswith("order books missing or older than 1h for BTC at 100% of its bars") for n in notes), notes
    events = pd.read_parquet(result.run.path / "events.parquet")
    assert not (events["rule"] == "liquidity").any()
    trades = result.run.trades()
    assert (trades["symbol"] == BTC).sum() > 100
