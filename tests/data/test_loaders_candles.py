"""Candle-like formats on the real files in ../shared/data and on fixtures built from real values."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.feather as feather
import pytest

from quantum_trader.data.loaders import LoaderError, read_table
from quantum_trader.domain.market import DataKind
from quantum_trader.domain.time import parse_time

SPOT_ASSETS = ("BTC", "ETH", "SOL", "XRP", "AAVE")


def first_last_lines(path: Path) -> tuple[list[str], list[str]]:
    lines = gzip.decompress(path.read_bytes()).decode().strip().splitlines()
    return lines[1].split(","), lines[-1].split(",")


@pytest.mark.parametrize("asset", SPOT_ASSETS)
def test_spot_hourly_csv_reads_every_row_with_iso_times(shared_data: Path, asset: str) -> None:
    path = shared_data / "candles" / "binance_spot_1h" / f"{asset}USDT.csv.gz"
    table = read_table(path)
    first, last = first_last_lines(path)
    assert table.format == "ohlcv_csv"
    assert table.kind is DataKind.CANDLES
    assert len(table) == 17_521
    frame = table.frame
    assert frame["ts"].dtype == np.int64
    assert frame["ts"].iloc[0] == parse_time("2024-01-21 07:00") == parse_time(first[0])
    assert frame["ts"].iloc[-1] == parse_time("2026-01-20 07:00") == parse_time(last[0])
    assert frame["close"].iloc[-1] == float(last[4])
    assert frame["volume"].iloc[0] == float(first[5])  # spot files state base volume
    assert "quote_volume" not in frame.columns
    assert frame["source_row"].iloc[0] == 2 and frame["source_row"].iloc[-1] == 17_522
    assert table.timeframe_hint == "1h"
    assert table.symbol_hint == f"{asset}/USDT"


def test_perp_minute_csv_with_quote_volume_declared(shared_data: Path) -> None:
    path = shared_data / "candles" / "binance_perp_1m" / "BTCUSDT-PERP_2022-01.csv.gz"
    table = read_table(path, volume_unit="quote")
    first, last = first_last_lines(path)
    frame = table.frame
    assert len(table) == 45_031
    assert frame["ts"].iloc[0] == parse_time("2021-12-31 23:01:00")
    assert frame["ts"].iloc[-1] == parse_time("2022-02-01 05:31:00")
    assert frame["quote_volume"].iloc[0] == float(first[5]) == 2300413.7295
    assert frame["volume"].iloc[0] == pytest.approx(2300413.7295 / 46377.0)
    assert frame["quote_volume"].iloc[-1] == float(last[5])
    assert table.timeframe_hint == "1m"
    assert table.symbol_hint == "BTC/USDT:USDT"


def test_bare_volume_is_base_unless_declared(shared_data: Path) -> None:
    path = shared_data / "candles" / "binance_perp_1m" / "BTCUSDT-PERP_2022-01.csv.gz"
    frame = read_table(path).frame
    assert frame["volume"].iloc[0] == 2300413.7295
    assert "quote_volume" not in frame.columns


@pytest.mark.parametrize(
    ("name", "kind", "rows", "first", "last", "timeframe"),
    [
        ("XRP_USDT_USDT-5m-futures", DataKind.CANDLES, 1_999, "2021-11-15 00:00", "2021-11-21 22:30", "5m"),
        ("XRP_USDT_USDT-1h-futures", DataKind.CANDLES, 100, "2021-11-17 01:00", "2021-11-21 04:00", "1h"),
        ("XRP_USDT_USDT-1h-mark", DataKind.MARK, 100, "2021-11-15 06:00", "2021-11-19 09:00", "1h"),
        ("XRP_USDT_USDT-8h-mark", DataKind.MARK, 91, "2021-11-18 00:00", "2021-12-18 00:00", "8h"),
    ],
)
def test_freqtrade_candles_kind_from_name(
    shared_data: Path, name: str, kind: DataKind, rows: int, first: str, last: str, timeframe: str
) -> None:
    path = shared_data / "futures" / f"{name}.feather"
    table = read_table(path)
    source = feather.read_table(path).to_pandas()
    assert table.format == "freqtrade_feather"
    assert table.kind is kind
    assert len(table) == rows
    assert table.frame["ts"].iloc[0] == parse_time(first)
    assert table.frame["ts"].iloc[-1] == parse_time(last)
    np.testing.assert_array_equal(table.frame["close"].to_numpy(), source["close"].to_numpy())
    assert table.timeframe_hint == timeframe
    assert table.symbol_hint == "XRP/USDT:USDT"


def test_freqtrade_mark_keeps_missing_volume_as_nan(shared_data: Path) -> None:
    frame = read_table(shared_data / "futures" / "XRP_USDT_USDT-1h-mark.feather").frame
    assert frame["volume"].isna().all()


def test_freqtrade_funding_rate_comes_from_open_with_exact_ms(shared_data: Path) -> None:
    table = read_table(shared_data / "futures" / "XRP_USDT_USDT-8h-funding_rate.feather")
    assert table.kind is DataKind.FUNDING
    assert list(table.frame.columns) == ["ts", "rate", "source_row"]
    assert len(table) == 91
    assert table.frame["ts"].iloc[0] == parse_time("2021-11-18 00:00:00") + 17
    assert table.frame["ts"].iloc[-1] == parse_time("2021-12-18 00:00:00") + 14
    assert table.frame["rate"].iloc[0] == 0.0001
    assert table.timeframe_hint is None


def test_freqtrade_kind_override(shared_data: Path) -> None:
    table = read_table(shared_data / "futures" / "XRP_USDT_USDT-1h-futures.feather", kind=DataKind.MARK)
    assert table.kind is DataKind.MARK
    with pytest.raises(LoaderError, match="not 'book'"):
        read_table(shared_data / "futures" / "XRP_USDT_USDT-1h-futures.feather", kind=DataKind.BOOK)


# Binance kline rows built from the documented closed-kline payload
# (exchange_payloads/binance_futures/market_data_json/kline_stream_closed.json) and its next minutes.
KLINE_ROWS = [
    "1638747660000,0.0010,0.0025,0.0010,0.0020,1000,1638747719999,1.0000,100,500,0.500,0",
    "1638747720000,0.0020,0.0030,0.0015,0.0028,1500,1638747779999,3.6000,120,900,2.100,0",
    "1638747780000,0.0028,0.0029,0.0021,0.0022,800,1638747839999,2.0000,80,200,0.500,0",
]
KLINE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)


def micro(row: str) -> str:
    fields = row.split(",")
    fields[0] += "000"
    fields[6] += "999"
    return ",".join(fields)


def check_klines(path: Path) -> None:
    table = read_table(path)
    assert table.format == "binance_kline"
    frame = table.frame
    assert frame["ts"].tolist() == [1638747660000, 1638747720000, 1638747780000]
    assert frame["open"].tolist() == [0.0010, 0.0020, 0.0028]
    assert frame["volume"].tolist() == [1000.0, 1500.0, 800.0]
    assert frame["quote_volume"].tolist() == [1.0, 3.6, 2.0]
    assert frame["trade_count"].tolist() == [100.0, 120.0, 80.0]
    flow = table.extra["trade_flow"]
    assert flow["taker_buy_volume"].tolist() == [500.0, 900.0, 200.0]
    assert flow["taker_sell_volume"].tolist() == [500.0, 600.0, 600.0]
    assert table.timeframe_hint == "1m"


def test_binance_kline_without_header(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2021-12.csv"
    path.write_text("\n".join(KLINE_ROWS) + "\n")
    check_klines(path)
    assert read_table(path).frame["source_row"].tolist() == [1, 2, 3]


def test_binance_kline_with_header_and_microseconds(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2025-01.csv"
    path.write_text(KLINE_HEADER + "\n" + "\n".join(micro(r) for r in KLINE_ROWS) + "\n")
    check_klines(path)
    assert read_table(path).frame["source_row"].tolist() == [2, 3, 4]


def test_binance_kline_monthly_zip_and_symbol_from_dump_layout(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "futures" / "um" / "monthly" / "klines" / "BTCUSDT" / "1m"
    folder.mkdir(parents=True)
    path = folder / "BTCUSDT-1m-2021-12.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("BTCUSDT-1m-2021-12.csv", "\n".join(KLINE_ROWS) + "\n")
    check_klines(path)
    assert read_table(path).symbol_hint == "BTC/USDT:USDT"


def test_binance_kline_bad_cell_names_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2021-12.csv"
    rows = [*KLINE_ROWS]
    rows[2] = rows[2].replace(",800,", ",8x0,")
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(LoaderError, match=r"BTCUSDT-1m-2021-12\.csv, row 3, field 'volume'"):
        read_table(path, "binance_kline")


CDD_TEXT = """https://www.CryptoDataDownload.com
unix,date,symbol,open,high,low,close,Volume BTC,Volume USDT,tradecount
1705827600000,2024-01-21 09:00:00,BTC/USDT,41663.96,41700.0,41600.01,41620.5,310.5,12925000.0,14000
1705824000,2024-01-21 08:00:00,BTC/USDT,41648.5,41710.0,41648.5,41663.96,423.86113,17664530.1,15000
,2024-01-21 07-AM,BTC/USDT,41597.66,41669.94,41587.27,41648.51,284.99252,11862050.5,12000
"""


def test_cryptodatadownload_newest_first_with_mixed_time_styles(tmp_path: Path) -> None:
    path = tmp_path / "Binance_BTCUSDT_1h.csv"
    path.write_text(CDD_TEXT)
    table = read_table(path)
    frame = table.frame
    assert table.format == "cryptodatadownload"
    # Newest-first is the format's convention: rows come back oldest first, each naming its line in the file.
    assert frame["ts"].tolist() == [
        parse_time("2024-01-21 07:00"),
        parse_time("2024-01-21 08:00"),
        parse_time("2024-01-21 09:00"),
    ]
    assert frame["source_row"].tolist() == [5, 4, 3]
    assert frame["volume"].tolist() == [284.99252, 423.86113, 310.5]
    assert frame["quote_volume"].iloc[1] == 17664530.1
    assert frame["trade_count"].tolist() == [12000.0, 15000.0, 14000.0]
    assert table.symbol_hint == "BTC/USDT"
    assert table.timeframe_hint == "1h"


def test_cryptodatadownload_bad_date_names_line(tmp_path: Path) -> None:
    path = tmp_path / "cdd.csv"
    path.write_text(CDD_TEXT.replace("2024-01-21 07-AM", "21/01/2024 7am"))
    with pytest.raises(LoaderError, match=r"cdd\.csv, row 5, field 'date'.*21/01/2024 7am"):
        read_table(path)


def test_generic_parquet_with_epoch_seconds(tmp_path: Path) -> None:
    path = tmp_path / "eth.parquet"
    pd.DataFrame(
        {
            "Time": [1705820400, 1705824000],
            "Open": [2460.0, 2466.1],
            "High": [2470.0, 2468.0],
            "Low": [2455.0, 2461.0],
            "Close": [2466.1, 2463.3],
            "Volume": [1200.5, 980.25],
        }
    ).to_parquet(path)
    table = read_table(path)
    assert table.format == "ohlcv_parquet"
    assert table.frame["ts"].tolist() == [1705820400000, 1705824000000]
    assert table.frame["volume"].tolist() == [1200.5, 980.25]
    assert table.frame["source_row"].tolist() == [1, 2]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2024-01-21T07:00:00Z", 1705820400000),
        ("2024-01-21 09:00:00+02:00", 1705820400000),
        ("2024-01-21 07:00:00", 1705820400000),
        ("1705820400", 1705820400000),
        ("1705820400000", 1705820400000),
        ("1705820400000123", 1705820400000),
    ],
)
def test_generic_csv_time_styles(tmp_path: Path, cell: str, expected: int) -> None:
    path = tmp_path / "c.csv"
    path.write_text(f"Date,Open,High,Low,Close,Volume\n{cell},1,2,0.5,1.5,10\n")
    assert read_table(path).frame["ts"].tolist() == [expected]


def test_unparsable_timestamp_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-01-21 07:00:00+00:00,1,2,0.5,1.5,10\n"
        "2024-01-21 08:00:00+00:00,1,2,0.5,1.5,10\n"
        "2024-01-21 9h,1,2,0.5,1.5,10\n"
    )
    with pytest.raises(LoaderError, match=r"broken\.csv, row 4, field 'timestamp'.*'2024-01-21 9h'") as err:
        read_table(path)
    assert err.value.row == 4


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "noclose.csv"
    path.write_text("timestamp,open,high,low,volume\n2024-01-21 07:00:00,1,2,0.5,10\n")
    with pytest.raises(LoaderError, match=r"noclose\.csv: missing column 'close'"):
        read_table(path, "ohlcv_csv")


def test_blank_lines_do_not_shift_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("timestamp,open,high,low,close,volume\n\n1705820400000,1,2,0.5,1.5,10\n\n")
    assert read_table(path).frame["source_row"].tolist() == [3]


def test_gzip_is_read_transparently(tmp_path: Path) -> None:
    path = tmp_path / "c.csv.gz"
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as handle:
        handle.write(b"timestamp,open,high,low,close,volume\n1705820400000,1,2,0.5,1.5,10\n")
    path.write_bytes(buffer.getvalue())
    assert read_table(path).frame["close"].tolist() == [1.5]
