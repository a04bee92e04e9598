"""Ingest: real files into the catalog, idempotently, and refused files leave no trace."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from quantum_trader.data.catalog import Catalog
from quantum_trader.data.ingest import IngestError, ingest_file, ingest_table
from quantum_trader.data.quality import QualityError
from quantum_trader.domain.market import DataKind

BTC = "BTC/USDT:USDT"


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def spot_lines(shared_data: Path, n: int) -> list[str]:
    with gzip.open(shared_data / "candles/binance_spot_1h/BTCUSDT.csv.gz", "rt") as fh:
        return [next(fh) for _ in range(n + 1)]


def test_real_spot_file_ingest_is_idempotent(shared_data: Path, tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "cat")
    path = shared_data / "candles/binance_spot_1h/BTCUSDT.csv.gz"
    first = ingest_file(cat, path, symbol=BTC, timeframe="1h", exchange="binance")
    assert first.rows_read == 17_521 and first.write.rows_added == 17_521 and first.report.ok
    [info] = cat.datasets()
    assert (info.exchange, info.symbol, info.kind, info.timeframe, info.rows) == (
        "binance", BTC, DataKind.CANDLES, "1h", 17_521)
    assert info.first_ts == 1_705_820_400_000  # 2024-01-21 07:00 UTC
    bars = cat.read_bars(BTC, "1h")
    assert bars.close[0] == 41_648.51 and bars.volume[0] == 284.99252
    before = snapshot(tmp_path)
    again = ingest_file(cat, path, symbol=BTC, timeframe="1h", exchange="binance")
    assert (again.write.rows_added, again.write.rows_replaced, again.write.rows_unchanged) == (0, 0, 17_521)
    assert snapshot(tmp_path) == before and len(cat.read_bars(BTC, "1h")) == 17_521


def test_symbol_and_timeframe_come_from_the_file_when_it_says(shared_data: Path, tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    result = ingest_file(cat, shared_data / "futures/XRP_USDT_USDT-8h-funding_rate.feather")
    assert (result.symbol, result.kind, result.timeframe) == ("XRP/USDT:USDT", DataKind.FUNDING, None)
    assert len(cat.read_funding("XRP/USDT:USDT")) == 91
    mark = ingest_file(cat, shared_data / "futures/XRP_USDT_USDT-1h-mark.feather")
    assert mark.kind is DataKind.MARK and len(cat.read_bars("XRP/USDT:USDT", "1h", kind=DataKind.MARK)) == 100


def test_file_with_a_nan_row_is_refused_and_catalog_unchanged(shared_data: Path, tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "cat")
    good = tmp_path / "BTCUSDT_good.csv"
    good.write_text("".join(spot_lines(shared_data, 50)))
    ingest_file(cat, good, symbol=BTC, timeframe="1h")
    before = snapshot(tmp_path / "cat")
    lines = spot_lines(shared_data, 80)
    ts, o, h, _low, c, v = lines[60].strip().split(",")
    lines[60] = f"{ts},{o},{h},nan,{c},{v}\n"  # file line 61
    bad = tmp_path / "BTCUSDT_bad.csv"
    bad.write_text("".join(lines))
    with pytest.raises(QualityError, match=r"BTCUSDT_bad\.csv: refused, 1 blocking issue: NaN/inf in low at row 61"):
        ingest_file(cat, bad, symbol=BTC, timeframe="1h")
    assert snapshot(tmp_path / "cat") == before


def test_newest_first_file_needs_repair(shared_data: Path, tmp_path: Path) -> None:
    lines = spot_lines(shared_data, 30)
    path = tmp_path / "BTCUSDT_desc.csv"
    path.write_text(lines[0] + "".join(reversed(lines[1:])))
    cat = Catalog(tmp_path / "cat")
    with pytest.raises(QualityError, match="newest-first.*--repair"):
        ingest_file(cat, path, symbol=BTC, timeframe="1h")
    assert cat.datasets() == []
    result = ingest_file(cat, path, symbol=BTC, timeframe="1h", repair=True)
    assert result.repair is not None and [a.code for a in result.repair.actions] == ["reversed"]
    bars = cat.read_bars(BTC, "1h")
    assert len(bars) == 30 and bool(np.all(np.diff(bars.ts) == 3_600_000))


def test_symbol_missing_or_malformed(tmp_path: Path, shared_data: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("".join(spot_lines(shared_data, 5)))
    with pytest.raises(IngestError, match=r"data\.csv: the file does not say its symbol; pass --symbol"):
        ingest_file(Catalog(tmp_path / "cat"), path, timeframe="1h")
    with pytest.raises(IngestError, match="not a ccxt unified symbol"):
        ingest_file(Catalog(tmp_path / "cat"), path, symbol="BTCUSDT", timeframe="1h")


def test_timeframe_that_contradicts_the_rows(tmp_path: Path, shared_data: Path) -> None:
    path = tmp_path / "BTCUSDT.csv"
    path.write_text("".join(spot_lines(shared_data, 10)))
    with pytest.raises(IngestError, match=r"rows are typically 3600s apart .* timeframe is 1m"):
        ingest_file(Catalog(tmp_path / "cat"), path, symbol=BTC, timeframe="1m")


def test_trade_flow_extra_is_written_with_the_candles(tmp_path: Path) -> None:
    ts = 1_704_067_200_000 + np.arange(5, dtype=np.int64) * 60_000
    candles = pd.DataFrame({"ts": ts, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 3.0,
                            "source_row": np.arange(2, 7)})
    flow = pd.DataFrame({"ts": ts, "taker_buy_volume": 1.0, "taker_sell_volume": 2.0})
    raw = SimpleNamespace(path=Path("klines.csv"), format="binance_kline", kind=DataKind.CANDLES, frame=candles,
                          symbol_hint=BTC, timeframe_hint="1m", extra={"trade_flow": flow})
    cat = Catalog(tmp_path)
    result = ingest_table(cat, raw)
    assert [w.kind for w in result.writes] == [DataKind.CANDLES, DataKind.TRADE_FLOW]
    assert cat.read_trade_flow(BTC, "1m").taker_sell_volume.tolist() == [2.0] * 5
    bad_flow = flow.assign(taker_buy_volume=[1.0, -1.0, 1.0, 1.0, 1.0])
    with pytest.raises(QualityError, match=r"trade flow.*taker_buy_volume < 0"):
        ingest_table(Catalog(tmp_path / "other"), SimpleNamespace(**{**vars(raw), "extra": {"trade_flow": bad_flow}}))
    assert not (tmp_path / "other").exists()
