"""ccxt downloads against a local fake of Binance USD-M's HTTP API (no network).

The fake replaces only the exchange instance's ``fetch`` (ccxt's HTTP call), so ccxt's
own request building, market parsing and kline parsing all run as they do live.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import ccxt
import numpy as np
import pytest

from quantum_trader.data.catalog import Catalog
from quantum_trader.data.download import DownloadError, DownloadProgress, download
from quantum_trader.domain.market import DataKind

MINUTE = 60_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
N_BARS = 2_500


def _market(symbol: str, base: str) -> dict[str, Any]:
    return {
        "symbol": symbol, "pair": symbol, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000, "status": "TRADING", "baseAsset": base, "quoteAsset": "USDT",
        "marginAsset": "USDT", "pricePrecision": 2, "quantityPrecision": 3, "baseAssetPrecision": 8,
        "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": [], "triggerProtect": "0.0500",
        "liquidationFee": "0.012500", "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.10", "maxPrice": "4529764", "tickSize": "0.10"},
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000", "stepSize": "0.001"},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.001", "maxQty": "120", "stepSize": "0.001"},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MIN_NOTIONAL", "notional": "100"},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
             "multiplierDecimal": "4"},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }


EXCHANGE_INFO = {
    "timezone": "UTC", "serverTime": T0, "futuresType": "U_MARGINED", "rateLimits": [], "exchangeFilters": [],
    "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
    "symbols": [_market("BTCUSDT", "BTC"), _market("ETHUSDT", "ETH")],
}


def _kline(ts: int, price: float) -> list[Any]:
    """One kline exactly as /fapi/v1/klines sends it (numbers as strings, 12 fields)."""
    o, c = price, price * 1.0005
    return [ts, f"{o:.2f}", f"{max(o, c) + 1:.2f}", f"{min(o, c) - 1:.2f}", f"{c:.2f}", "12.345", ts + MINUTE - 1,
            f"{12.345 * c:.4f}", 321, "6.100", f"{6.1 * c:.4f}", "0"]


class FakeBinance:
    """Serves exchangeInfo, klines, funding and depth; counts requests; can fail after N kline pages."""

    def __init__(self, n_bars: int = N_BARS, fail_after_pages: int | None = None) -> None:
        self.n_bars = n_bars
        self.fail_after_pages = fail_after_pages
        self.kline_requests: list[dict[str, str]] = []
        self.funding_requests = 0
        self.urls: list[str] = []

    def bars(self, symbol: str) -> list[list[Any]]:
        base = 42_000.0 if symbol == "BTCUSDT" else 2_300.0
        return [_kline(T0 + i * MINUTE, base + i * 0.5) for i in range(self.n_bars)]

    def __call__(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        self.urls.append(url)
        parsed = urlparse(url)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        if parsed.path.endswith("/exchangeInfo"):
            return json.loads(json.dumps(EXCHANGE_INFO))
        if parsed.path.endswith("/klines"):
            return self._klines(query)
        if parsed.path.endswith("/fundingRate"):
            self.funding_requests += 1
            start, limit = int(query.get("startTime", 0)), int(query.get("limit", 100))
            rows = [{"symbol": query["symbol"], "fundingTime": T0 + i * 8 * 3_600_000 + 7,
                     "fundingRate": f"{0.0001 * (i % 3 - 1):.8f}", "markPrice": "42000.0"} for i in range(9)]
            return [r for r in rows if r["fundingTime"] >= start][:limit]
        if parsed.path.endswith("/depth"):
            return {"lastUpdateId": 1, "E": T0 + 5, "T": T0 + 4,
                    "bids": [["42000.10", "1.5"], ["42000.00", "2.0"]],
                    "asks": [["42000.20", "0.7"], ["42000.30", "3.1"]]}
        raise AssertionError(f"unexpected request {method} {url}")

    def _klines(self, query: dict[str, str]) -> list[list[Any]]:
        if self.fail_after_pages is not None and len(self.kline_requests) >= self.fail_after_pages:
            raise ccxt.NetworkError("connection reset by peer (fake)")
        self.kline_requests.append(query)
        start = int(query.get("startTime", T0))
        limit = int(query.get("limit", 500))
        end = int(query["endTime"]) if "endTime" in query else None
        rows = [k for k in self.bars(query["symbol"]) if k[0] >= start and (end is None or k[0] <= end)]
        return rows[:limit]


def _exchange(fake: FakeBinance) -> Any:
    ex = ccxt.binanceusdm()
    ex.fetch = fake
    ex.rateLimit = 1  # the limiter still runs; the fake needs no politeness
    return ex


SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]


def test_full_download_stores_every_bar_with_ccxt_parsing(tmp_path: Path) -> None:
    fake = FakeBinance()
    catalog = Catalog(tmp_path)
    results = download(catalog, "binanceusdm", SYMBOLS, "1m", T0, exchange=_exchange(fake))
    assert [r.rows_added for r in results] == [N_BARS, N_BARS]
    bars = catalog.read_bars("BTC/USDT:USDT", "1m", exchange="binanceusdm")
    assert len(bars) == N_BARS
    assert bars.ts[0] == T0 and bars.ts[-1] == T0 + (N_BARS - 1) * MINUTE
    assert bars.open[10] == pytest.approx(42_005.0) and bars.volume[0] == pytest.approx(12.345)
    # 1000 rows per page (ccxt's binance cap) -> 3 pages + 1 empty page per symbol
    assert len(fake.kline_requests) == 8
    assert all(q["limit"] == "1000" for q in fake.kline_requests)
    source = catalog.source("BTC/USDT:USDT", DataKind.CANDLES, "1m")
    assert source is not None and (source.market_type, source.venues, source.loaders) == (
        "perp", ("binanceusdm",), ("ccxt download",))


def test_second_run_fetches_only_the_new_range(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path)
    download(catalog, "binanceusdm", SYMBOLS[:1], "1m", T0, exchange=_exchange(FakeBinance(n_bars=1_200)))
    fake = FakeBinance(n_bars=1_500)
    results = download(catalog, "binanceusdm", SYMBOLS[:1], "1m", T0, exchange=_exchange(fake))
    assert int(fake.kline_requests[0]["startTime"]) == T0 + 1_200 * MINUTE
    assert len(fake.kline_requests) == 2  # one page of 300 new bars, one empty page
    assert results[0].rows_added == 300 and results[0].rows_fetched == 300
    assert len(catalog.read_bars("BTC/USDT:USDT", "1m")) == 1_500


def test_interrupted_download_keeps_pages_and_resumes(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path)
    broken = FakeBinance(fail_after_pages=2)
    with pytest.raises(ccxt.NetworkError):
        download(catalog, "binanceusdm", SYMBOLS[:1], "1m", T0, exchange=_exchange(broken))
    assert len(catalog.read_bars("BTC/USDT:USDT", "1m")) == 2_000  # both received pages were kept
    fake = FakeBinance()
    download(catalog, "binanceusdm", SYMBOLS[:1], "1m", T0, exchange=_exchange(fake))
    assert int(fake.kline_requests[0]["startTime"]) == T0 + 2_000 * MINUTE
    bars = catalog.read_bars("BTC/USDT:USDT", "1m")
    assert len(bars) == N_BARS and bool(np.all(np.diff(bars.ts) == MINUTE))


def test_until_bounds_the_range_and_progress_reaches_the_end(tmp_path: Path) -> None:
    events: list[DownloadProgress] = []
    until = T0 + 1_234 * MINUTE
    download(Catalog(tmp_path), "binanceusdm", SYMBOLS[:1], "1m", T0, until_ms=until,
             exchange=_exchange(FakeBinance()), progress=events.append)
    bars = Catalog(tmp_path).read_bars("BTC/USDT:USDT", "1m")
    assert len(bars) == 1_234 and bars.ts[-1] == until - MINUTE
    assert events[-1].done_ms == until and events[-1].rows == 1_234


def test_funding_and_book_snapshot(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path)
    fake = FakeBinance(n_bars=10)
    download(catalog, "binanceusdm", SYMBOLS[:1], "1m", T0, exchange=_exchange(fake), funding=True, book=True,
             book_depth=5)
    funding = catalog.read_funding("BTC/USDT:USDT")
    assert len(funding) == 9 and funding.rate[0] == pytest.approx(-0.0001)
    book = catalog.read_book("BTC/USDT:USDT")
    assert len(book) == 1 and book.levels == 5
    assert book.bid_px[0, 0] == pytest.approx(42000.1) and book.ask_sz[0, 1] == pytest.approx(3.1)
    assert np.isnan(book.bid_px[0, 2]) and book.bid_sz[0, 2] == 0.0
    again = download(catalog, "binanceusdm", SYMBOLS[:1], "1m", T0, exchange=_exchange(fake), funding=True)
    assert [r.rows_added for r in again if r.kind is DataKind.FUNDING] == [0]


def test_unknown_market_is_refused_before_any_write(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="no market 'SOL/USDT:USDT'"):
        download(Catalog(tmp_path), "binanceusdm", ["SOL/USDT:USDT"], "1m", T0, exchange=_exchange(FakeBinance()))
    assert Catalog(tmp_path).datasets() == []


def test_unknown_exchange_id() -> None:
    with pytest.raises(DownloadError, match="unknown ccxt exchange id 'nope'"):
        download(Catalog("unused"), "nope", SYMBOLS, "1m", T0)
