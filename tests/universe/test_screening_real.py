"""Screening on the real order-book and funding files in ../shared/data, checked against hand computation."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantum_trader.config import Policy
from quantum_trader.data.catalog import Catalog
from quantum_trader.data.ingest import ingest_file
from quantum_trader.domain.market import BarSeries
from quantum_trader.universe.screening import (
    CORRELATION,
    DEPTH,
    FUNDING_SHARE,
    FUNDING_TYPICAL,
    SPREAD,
    ScreeningInputs,
    Status,
    book_figures,
    screen_asset,
)

TARDIS_25 = "orderbook/tardis_binance-futures_book_snapshot_25_BTCUSDT.csv"
XRP_FUNDING = "futures/XRP_USDT_USDT-8h-funding_rate.feather"


def _hand_depth(path: Path) -> tuple[float, float, float]:
    """First snapshot of a tardis CSV: bid and ask USD within 1% of mid, and the spread, summed by hand."""
    with path.open() as handle:
        row = next(csv.DictReader(handle))
    bids = [(float(row[f"bids[{i}].price"]), float(row[f"bids[{i}].amount"])) for i in range(25)]
    asks = [(float(row[f"asks[{i}].price"]), float(row[f"asks[{i}].amount"])) for i in range(25)]
    mid = (bids[0][0] + asks[0][0]) / 2
    bid_usd = sum(p * q for p, q in bids if p >= mid * 0.99)
    ask_usd = sum(p * q for p, q in asks if p <= mid * 1.01)
    return bid_usd, ask_usd, (asks[0][0] - bids[0][0]) / mid


@pytest.fixture
def catalog(tmp_path: Path, shared_data: Path) -> Catalog:
    cat = Catalog(tmp_path / "catalog")
    ingest_file(cat, shared_data / TARDIS_25)
    ingest_file(cat, shared_data / XRP_FUNDING)
    return cat


def test_depth_within_1pct_of_one_real_snapshot_equals_the_hand_sum(catalog: Catalog, shared_data: Path) -> None:
    book = catalog.read_book("BTC/USDT:USDT")
    one = type(book)(book.symbol, book.ts[:1], book.bid_px[:1], book.bid_sz[:1], book.ask_px[:1], book.ask_sz[:1])
    bid_usd, ask_usd, spread = _hand_depth(shared_data / TARDIS_25)
    fig = book_figures(one)
    assert fig is not None
    assert fig.bid_depth == pytest.approx(bid_usd, rel=1e-12)
    assert fig.ask_depth == pytest.approx(ask_usd, rel=1e-12)
    assert fig.depth == pytest.approx(min(bid_usd, ask_usd), rel=1e-12)
    assert fig.spread == pytest.approx(spread, rel=1e-9)
    # 25 levels of BTC span far less than 1% of mid: the figure is a lower bound
    assert fig.truncated


def test_truncated_real_book_below_threshold_is_unknown_not_fail_nor_pass(catalog: Catalog) -> None:
    book = catalog.read_book("BTC/USDT:USDT")
    screen = screen_asset(ScreeningInputs("BTC/USDT:USDT", book=book), Policy())
    depth = screen.result(DEPTH)
    assert depth.status is Status.UNKNOWN
    assert depth.value is not None and depth.value < 5_000_000
    assert "lower bound" in depth.evidence
    spread = screen.result(SPREAD)
    assert spread.status is Status.PASS  # a one-cent spread on BTC is far below 0.05%
    assert spread.value == pytest.approx(float(np.median((book.ask_px[:, 0] - book.bid_px[:, 0])
                                                         / ((book.ask_px[:, 0] + book.bid_px[:, 0]) / 2))))
    assert not screen.passed


def test_real_funding_median_and_share_match_pandas(catalog: Catalog, shared_data: Path) -> None:
    raw = pd.read_feather(shared_data / XRP_FUNDING)
    rates = raw["open"].abs().to_numpy()
    screen = screen_asset(ScreeningInputs("XRP/USDT:USDT", funding=catalog.read_funding("XRP/USDT:USDT")), Policy())
    typical, share = screen.result(FUNDING_TYPICAL), screen.result(FUNDING_SHARE)
    # the file covers exactly the 30d window: every settlement counts
    assert typical.value == pytest.approx(float(np.median(rates)))
    assert share.value == pytest.approx(float(np.mean(rates > 0.001)))
    assert typical.status is Status.PASS and share.status is Status.PASS
    assert "91 settlements every 8h" in typical.evidence


def test_real_hourly_eth_correlation_to_btc(real_1h: dict[str, BarSeries]) -> None:
    eth, btc = real_1h["ETH"], real_1h["BTC"]
    screen = screen_asset(ScreeningInputs("ETH/USDT:USDT", bars=eth, btc_bars=btc), Policy())
    corr = screen.result(CORRELATION)
    start = int(eth.ts[-1]) + 3_600_000 - 90 * 86_400_000
    keep = eth.ts >= start
    expected = pd.Series(np.diff(np.log(eth.close[keep]))).corr(pd.Series(np.diff(np.log(btc.close[keep]))))
    assert corr.value == pytest.approx(expected, abs=1e-12)
    assert corr.status is (Status.PASS if expected < 0.85 else Status.FAIL)
