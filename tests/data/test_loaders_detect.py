"""Format detection from content (not extensions), explicit override, and refusals."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from quantum_trader.data.loaders import FORMATS, LoaderError, detect_format, read_table
from quantum_trader.domain.market import DataKind

REAL_FILES = {
    "candles/binance_spot_1h/BTCUSDT.csv.gz": "ohlcv_csv",
    "candles/binance_perp_1m/BTCUSDT-PERP_2022-01.csv.gz": "ohlcv_csv",
    "futures/XRP_USDT_USDT-5m-futures.feather": "freqtrade_feather",
    "futures/XRP_USDT_USDT-8h-funding_rate.feather": "freqtrade_feather",
    "orderbook/tardis_binance-futures_book_snapshot_5_BTCUSDT.csv": "tardis_book",
    "orderbook/bybit_xrpusdt-ob500.data.zip": "bybit_orderbook",
    "orderbook/binance_btcusdt-depth-snap.csv": "binance_depth",
    "orderbook/binance_btcusdt-depth-update.csv": "binance_depth",
}


@pytest.mark.parametrize(("relative", "expected"), sorted(REAL_FILES.items()))
def test_detects_real_files(shared_data: Path, relative: str, expected: str) -> None:
    assert detect_format(shared_data / relative) == expected


@pytest.mark.parametrize(
    ("relative", "misleading_name", "expected"),
    [
        ("futures/XRP_USDT_USDT-1h-futures.feather", "candles.csv", "freqtrade_feather"),
        ("candles/binance_spot_1h/ETHUSDT.csv.gz", "ETHUSDT.parquet", "ohlcv_csv"),
        ("orderbook/bybit_xrpusdt-ob500.data.zip", "book.csv.gz", "bybit_orderbook"),
        ("orderbook/tardis_binance-futures_book_snapshot_25_BTCUSDT.csv", "snap.json", "tardis_book"),
    ],
)
def test_renamed_file_is_detected_by_content(
    shared_data: Path, tmp_path: Path, relative: str, misleading_name: str, expected: str
) -> None:
    target = tmp_path / misleading_name
    shutil.copy(shared_data / relative, target)
    assert detect_format(target) == expected
    assert read_table(target).format == expected


def test_renamed_feather_still_reads_its_rows(shared_data: Path, tmp_path: Path) -> None:
    target = tmp_path / "prices.csv"
    shutil.copy(shared_data / "futures" / "XRP_USDT_USDT-5m-futures.feather", target)
    table = read_table(target)
    assert len(table) == 1_999
    assert table.symbol_hint is None  # the new name no longer says the market


def test_detects_headerless_kline_and_cryptodatadownload(tmp_path: Path) -> None:
    kline = tmp_path / "a.txt"
    kline.write_text("1638747660000,0.0010,0.0025,0.0010,0.0020,1000,1638747719999,1.0000,100,500,0.500,0\n")
    cdd = tmp_path / "b.txt"
    cdd.write_text(
        "https://www.CryptoDataDownload.com\n"
        "unix,date,symbol,open,high,low,close,Volume BTC,Volume USDT,tradecount\n"
        "1705824000,2024-01-21 08:00:00,BTC/USDT,41648.5,41710.0,41648.5,41663.96,423.86,17664530.1,15000\n"
    )
    assert detect_format(kline) == "binance_kline"
    assert detect_format(cdd) == "cryptodatadownload"


def test_unrecognised_content_lists_known_formats(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("name,colour\nbtc,orange\n")
    with pytest.raises(LoaderError, match=r"notes\.csv: unrecognised content") as err:
        detect_format(path)
    for name in FORMATS:
        assert name in str(err.value)


def test_explicit_format_overrides_detection(tmp_path: Path) -> None:
    # A generic OHLCV header that also fits ohlcv_csv; forcing cryptodatadownload must refuse, not guess.
    path = tmp_path / "c.csv"
    path.write_text("timestamp,open,high,low,close,volume\n1705820400000,1,2,0.5,1.5,10\n")
    assert read_table(path, "ohlcv_csv").format == "ohlcv_csv"
    with pytest.raises(LoaderError, match="expected a CryptoDataDownload banner on line 1"):
        read_table(path, "cryptodatadownload")


def test_unknown_format_name_and_inapplicable_options_are_refused(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("timestamp,open,high,low,close,volume\n1705820400000,1,2,0.5,1.5,10\n")
    with pytest.raises(LoaderError, match="unknown format 'csv'"):
        read_table(path, "csv")
    with pytest.raises(LoaderError, match=r"\['levels'\] do not apply to format 'ohlcv_csv'"):
        read_table(path, levels=5)
    with pytest.raises(LoaderError, match="holds order books"):
        read_table(shared_data / "orderbook" / "bybit_xrpusdt-ob500.data.zip", kind=DataKind.CANDLES)
    with pytest.raises(LoaderError, match="no such file"):
        read_table(tmp_path / "absent.csv")


def test_generic_csv_kind_override_to_mark(tmp_path: Path) -> None:
    path = tmp_path / "mark.csv"
    path.write_text("timestamp,open,high,low,close\n1705820400000,1,2,0.5,1.5\n")
    table = read_table(path, kind=DataKind.MARK)
    assert table.kind is DataKind.MARK
    assert table.frame["volume"].isna().all()
    with pytest.raises(LoaderError, match="missing column 'volume'"):
        read_table(path)
