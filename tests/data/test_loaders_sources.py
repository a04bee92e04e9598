"""TradingView exports, Binance aggTrades, CryptoDataDownload order, and what each file says about its market.

Fixtures are built from real values: the Binance spot BTC candles in ../shared/data for
the TradingView files, the documented data.binance.vision aggTrades layouts (futures:
7 columns with a header, spot: 8 without) for the trade files.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from quantum_trader.data.catalog import Catalog
from quantum_trader.data.ingest import ingest_file
from quantum_trader.data.loaders import LoaderError, detect_format, read_table
from quantum_trader.domain.market import DataKind
from quantum_trader.domain.time import parse_time

BTC = "BTC/USDT:USDT"


def spot_rows(shared_data: Path, n: int) -> list[list[str]]:
    with gzip.open(shared_data / "candles/binance_spot_1h/BTCUSDT.csv.gz", "rt") as fh:
        next(fh)
        return [next(fh).strip().split(",") for _ in range(n)]


def tradingview_file(path: Path, rows: list[list[str]], *, volume: bool, iso: bool = False) -> Path:
    head = "time,open,high,low,close" + (",Volume,Volume MA" if volume else ",Plot")
    lines = [head]
    for i, (ts, o, h, low, c, v) in enumerate(rows):
        t = ts.replace(" ", "T").replace("+00:00", "Z") if iso else str(parse_time(ts) // 1000)
        extra = f",{v},{'' if i < 2 else '300.5'}" if volume else ",41000"
        lines.append(f"{t},{o},{h},{low},{c}{extra}")
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------ TradingView


def test_tradingview_perp_export_with_volume(shared_data: Path, tmp_path: Path) -> None:
    rows = spot_rows(shared_data, 24)
    path = tradingview_file(tmp_path / "BINANCE_BTCUSDT.P, 60.csv", rows, volume=True)
    assert detect_format(path) == "tradingview"
    table = read_table(path)
    assert (table.format, table.kind, table.timeframe_hint) == ("tradingview", DataKind.CANDLES, "1h")
    assert (table.symbol_hint, table.exchange_hint, table.market_type) == (BTC, "binanceusdm", "perp")
    assert table.frame["ts"].iloc[0] == parse_time("2024-01-21 07:00")
    assert table.frame["close"].iloc[0] == 41648.51 and table.frame["volume"].iloc[0] == 284.99252
    assert "Volume MA" not in table.frame.columns and table.frame["source_row"].iloc[0] == 2


def test_tradingview_spot_export_without_volume_stores_volume_as_unknown(shared_data: Path, tmp_path: Path) -> None:
    rows = spot_rows(shared_data, 24)
    path = tradingview_file(tmp_path / "BYBIT_BTCUSDT, 60_8d1a2.csv", rows, volume=False, iso=True)
    table = read_table(path)
    assert (table.symbol_hint, table.exchange_hint, table.market_type) == ("BTC/USDT", "bybit", "spot")
    assert table.frame["volume"].isna().all()
    cat = Catalog(tmp_path / "cat")
    result = ingest_file(cat, path, symbol=BTC)
    assert result.exchange == "bybit" and result.write.rows_added == 24
    assert result.report.codes() == {"volume_unknown"}
    assert np.isnan(cat.read_bars(BTC, "1h", exchange="bybit").volume).all()
    source = cat.source(BTC, DataKind.CANDLES, "1h")
    assert source is not None and source.market_type == "spot" and source.venues == ("bybit",)
    assert "spot data standing in for the perpetual" in (source.stand_in_note(BTC) or "")


def test_tradingview_bad_cell_names_its_row(shared_data: Path, tmp_path: Path) -> None:
    rows = spot_rows(shared_data, 5)
    rows[3][4] = "41,5"  # a decimal comma splits the cell: the row has one field too many
    path = tradingview_file(tmp_path / "BINANCE_BTCUSDT, 60.csv", rows, volume=False)
    with pytest.raises(LoaderError, match=r"BINANCE_BTCUSDT, 60\.csv: not a readable CSV.*line 5"):
        read_table(path)


# ------------------------------------------------------------------ Binance aggTrades

T0 = parse_time("2024-03-01")
FUTURES_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
# (agg id, price, qty, time offset ms, buyer is maker)
TRADES = [
    (100, 62000.1, 0.010, 1_000, "false"),   # minute 0: taker buy 0.010
    (101, 62000.0, 0.250, 20_000, "true"),   # minute 0: taker sell 0.250
    (102, 62001.5, 0.005, 59_999, "false"),  # minute 0: taker buy 0.005
    (103, 62003.0, 1.200, 60_000, "true"),   # minute 1: taker sell 1.200
    (104, 62010.0, 0.300, 185_000, "false"),  # minute 3 (minute 2 had no trade)
]


def futures_agg(path: Path, trades: list[tuple[int, float, float, int, str]] = TRADES) -> Path:
    lines = [FUTURES_HEADER] + [f"{a},{p},{q},{a * 3},{a * 3 + 1},{T0 + dt},{m}" for a, p, q, dt, m in trades]
    path.write_text("\n".join(lines) + "\n")
    return path


def spot_agg(path: Path) -> Path:
    lines = [f"{a},{p:.8f},{q:.8f},{a * 3},{a * 3 + 1},{(T0 + dt) * 1000},{m.title()},True"
             for a, p, q, dt, m in TRADES]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_futures_aggtrades_sum_into_trade_flow_bars(tmp_path: Path) -> None:
    path = futures_agg(tmp_path / "BTCUSDT-aggTrades-2024-03-01.csv")
    assert detect_format(path) == "binance_aggtrades"
    table = read_table(path)
    assert (table.kind, table.timeframe_hint, table.symbol_hint) == (DataKind.TRADE_FLOW, "1m", BTC)
    assert (table.exchange_hint, table.market_type) == ("binanceusdm", "perp")
    frame = table.frame
    assert frame["ts"].tolist() == [T0, T0 + 60_000, T0 + 120_000, T0 + 180_000]
    assert frame["taker_buy_volume"].tolist() == pytest.approx([0.015, 0.0, 0.0, 0.3])
    assert frame["taker_sell_volume"].tolist() == pytest.approx([0.25, 1.2, 0.0, 0.0])
    assert frame["source_row"].tolist() == [4, 5, 5, 6]  # the last file line summed into each bar
    five = read_table(path, timeframe="5m").frame
    assert five["ts"].tolist() == [T0] and five["taker_buy_volume"].iloc[0] == pytest.approx(0.315)


def test_spot_aggtrades_without_header_in_microseconds(tmp_path: Path) -> None:
    path = spot_agg(tmp_path / "BTCUSDT-aggTrades-2025-03-01.csv")
    assert detect_format(path) == "binance_aggtrades"
    table = read_table(path)
    assert (table.symbol_hint, table.exchange_hint, table.market_type) == ("BTC/USDT", "binance", "spot")
    assert table.frame["ts"].iloc[0] == T0 and table.frame["taker_sell_volume"].tolist() == pytest.approx(
        [0.25, 1.2, 0.0, 0.0])


def test_aggtrades_repeated_or_unreadable_rows_are_refused_with_their_row(tmp_path: Path) -> None:
    repeated = [*TRADES[:3], TRADES[2], *TRADES[3:]]  # line 5 repeats trade 102: it would count twice
    with pytest.raises(LoaderError, match=r"row 5, field 'agg_trade_id'.*102"):
        read_table(futures_agg(tmp_path / "a.csv", repeated))
    bad_side = [*TRADES[:2], (102, 62001.5, 0.005, 59_999, "maybe"), *TRADES[3:]]
    with pytest.raises(LoaderError, match=r"row 4, field 'is_buyer_maker'"):
        read_table(futures_agg(tmp_path / "b.csv", bad_side))
    negative = [*TRADES[:1], (101, 62000.0, -0.25, 20_000, "true"), *TRADES[2:]]
    with pytest.raises(LoaderError, match=r"row 3, field 'quantity'"):
        read_table(futures_agg(tmp_path / "c.csv", negative))


def test_aggtrades_ingest_as_trade_flow(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "cat")
    result = ingest_file(cat, futures_agg(tmp_path / "BTCUSDT-aggTrades-2024-03-01.csv"))
    assert (result.kind, result.exchange, result.timeframe) == (DataKind.TRADE_FLOW, "binanceusdm", "1m")
    flow = cat.read_trade_flow(BTC, "1m")
    assert flow.taker_sell_volume.tolist() == pytest.approx([0.25, 1.2, 0.0, 0.0])
    again = ingest_file(cat, futures_agg(tmp_path / "BTCUSDT-aggTrades-2024-03-01.csv"), timeframe="5m")
    assert again.timeframe == "5m" and len(cat.read_trade_flow(BTC, "5m")) == 1


# ------------------------------------------------------------------ CryptoDataDownload

CDD_TEXT = """https://www.CryptoDataDownload.com
unix,date,symbol,open,high,low,close,Volume BTC,Volume USDT,tradecount
1705827600000,2024-01-21 09:00:00,BTC/USDT,41663.96,41700.0,41600.01,41620.5,310.5,12925000.0,14000
1705824000,2024-01-21 08:00:00,BTC/USDT,41648.5,41710.0,41648.5,41663.96,423.86113,17664530.1,15000
,2024-01-21 07-AM,BTC/USDT,41597.66,41669.94,41587.27,41648.51,284.99252,11862050.5,12000
"""


def test_cryptodatadownload_is_newest_first_by_convention_and_ingests_without_repair(tmp_path: Path) -> None:
    path = tmp_path / "Binance_BTCUSDT_1h.csv"
    path.write_text(CDD_TEXT)
    table = read_table(path)
    assert table.frame["ts"].is_monotonic_increasing
    assert table.frame["source_row"].tolist() == [5, 4, 3]  # still the file's own lines
    assert (table.exchange_hint, table.market_type) == ("binance", "spot")
    cat = Catalog(tmp_path / "cat")
    result = ingest_file(cat, path, symbol=BTC)
    assert result.repair is None and result.write.rows_added == 3 and result.exchange == "binance"
    lines = CDD_TEXT.splitlines()
    path.write_text("\n".join([*lines[:3], lines[4], lines[3]]) + "\n")  # 09:00, 07:00, 08:00: damage
    with pytest.raises(ValueError, match=r"earlier than the row before at row 4.*--repair"):
        ingest_file(Catalog(tmp_path / "other"), path, symbol=BTC, timeframe="1h")


# ------------------------------------------------------------------ market type of the other loaders


@pytest.mark.parametrize(
    ("relative", "symbol", "exchange", "market"),
    [
        ("candles/binance_spot_1h/BTCUSDT.csv.gz", "BTC/USDT", None, "spot"),
        ("candles/binance_perp_1m/BTCUSDT-PERP_2022-01.csv.gz", BTC, None, "perp"),
        ("futures/XRP_USDT_USDT-1h-futures.feather", "XRP/USDT:USDT", None, "perp"),
        ("orderbook/tardis_binance-futures_book_snapshot_5_BTCUSDT.csv", BTC, "binanceusdm", "perp"),
        ("orderbook/bybit_xrpusdt-ob500.data.zip", "XRP/USDT:USDT", "bybit", "perp"),
        ("orderbook/binance_btcusdt-depth-snap.csv", BTC, "binanceusdm", "perp"),
    ],
)
def test_real_files_say_their_market(shared_data: Path, relative: str, symbol: str, exchange: str | None,
                                     market: str) -> None:
    table = read_table(shared_data / relative)
    assert (table.symbol_hint, table.exchange_hint, table.market_type) == (symbol, exchange, market)


def test_microsecond_klines_and_um_folders_say_their_market(tmp_path: Path) -> None:
    row = "1735689600000000,93576.0,93610.93,93537.5,93610.93,8.21827,1735689659999999,769013.01,1688,3.27,306.3,0"
    path = tmp_path / "BTCUSDT-1m-2025-01.csv"
    path.write_text(row + "\n")
    table = read_table(path)
    assert (table.symbol_hint, table.exchange_hint, table.market_type) == ("BTC/USDT", "binance", "spot")
    um = tmp_path / "futures" / "um" / "monthly" / "klines" / "BTCUSDT" / "1m"
    um.mkdir(parents=True)
    perp = um / "BTCUSDT-1m-2024-01.csv"
    perp.write_text(row.replace("1735689600000000", "1704067200000").replace("1735689659999999", "1704067259999")
                    + "\n")
    table = read_table(perp)
    assert (table.symbol_hint, table.exchange_hint, table.market_type) == (BTC, "binanceusdm", "perp")
    assert not math.isnan(table.frame["close"].iloc[0])
