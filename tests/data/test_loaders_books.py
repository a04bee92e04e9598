"""Order-book formats: tardis snapshots, Bybit snapshot+delta rebuild, Binance depth snapshot+diff rebuild."""

from __future__ import annotations

import csv
import json
import math
import zipfile
from pathlib import Path

import pytest

from quantum_trader.data.catalog import Catalog
from quantum_trader.data.ingest import ingest_file
from quantum_trader.data.loaders import LoaderError, read_binance_depth, read_table
from quantum_trader.data.quality import QualityError
from quantum_trader.domain.market import DataKind

# ---------------------------------------------------------------- tardis


@pytest.mark.parametrize("depth", [5, 25])
def test_tardis_snapshot_values_equal_csv_cells(shared_data: Path, depth: int) -> None:
    path = shared_data / "orderbook" / f"tardis_binance-futures_book_snapshot_{depth}_BTCUSDT.csv"
    with path.open(newline="") as handle:
        cells = list(csv.DictReader(handle))
    table = read_table(path)
    assert table.format == "tardis_book"
    assert table.kind is DataKind.BOOK
    assert table.symbol_hint == "BTC/USDT:USDT"
    assert len(table) == len(cells) == 10
    row = table.frame.iloc[3]
    source = cells[3]
    assert row["ts"] == int(source["timestamp"]) // 1000  # exchange time, microseconds -> ms
    assert row["local_ts"] == int(source["local_timestamp"]) // 1000
    assert row["source_row"] == 5
    for i in range(depth):
        assert row[f"bid_px_{i}"] == float(source[f"bids[{i}].price"])
        assert row[f"bid_sz_{i}"] == float(source[f"bids[{i}].amount"])
        assert row[f"ask_px_{i}"] == float(source[f"asks[{i}].price"])
        assert row[f"ask_sz_{i}"] == float(source[f"asks[{i}].amount"])
    assert f"bid_px_{depth}" not in table.frame.columns


def test_tardis_levels_cap_and_first_last_time(shared_data: Path) -> None:
    path = shared_data / "orderbook" / "tardis_binance-futures_book_snapshot_25_BTCUSDT.csv"
    table = read_table(path, levels=3)
    assert [c for c in table.frame.columns if c.startswith("ask_px")] == ["ask_px_0", "ask_px_1", "ask_px_2"]
    assert table.frame["ts"].iloc[0] == 1598918403696
    assert table.frame["ts"].iloc[-1] == 1598918404005


def test_tardis_missing_level_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text(
        "exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price\n"
        "binance-futures,BTCUSDT,1598918403696000,1598918403810979,11657.08,1.714,11657.07\n"
    )
    with pytest.raises(LoaderError, match=r"book\.csv: missing column 'bids\[0\]\.amount'"):
        read_table(path)


def test_tardis_empty_level_is_nan_price_zero_size(tmp_path: Path) -> None:
    path = tmp_path / "thin.csv"
    path.write_text(
        "exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,bids[0].amount,"
        "asks[1].price,asks[1].amount,bids[1].price,bids[1].amount\n"
        "binance-futures,BTCUSDT,1598918403696000,1598918403810979,11657.08,1.714,11657.07,10.896,,,11656.97,0.2\n"
    )
    row = read_table(path).frame.iloc[0]
    assert math.isnan(row["ask_px_1"]) and row["ask_sz_1"] == 0.0
    assert row["bid_px_1"] == 11656.97


# ---------------------------------------------------------------- Bybit


def test_bybit_real_archive_rebuild(shared_data: Path) -> None:
    table = read_table(shared_data / "orderbook" / "bybit_xrpusdt-ob500.data.zip")
    frame = table.frame
    assert table.format == "bybit_orderbook"
    assert table.symbol_hint == "XRP/USDT:USDT"
    assert len(table) == 50  # one snapshot + 49 deltas, a row after each
    assert frame["ts"].iloc[0] == 1733011200691
    assert frame["ts"].iloc[-1] == 1733011205490
    assert frame["source_row"].tolist() == list(range(1, 51))
    snap = frame.iloc[0]
    assert (snap["bid_px_0"], snap["bid_sz_0"]) == (1.9531, 6203.0)
    assert (snap["ask_px_0"], snap["ask_sz_0"]) == (1.9532, 10480.0)
    assert "bid_px_49" in frame.columns and "bid_px_50" not in frame.columns  # default cap 50
    # Line 2 changes the best bid's size and leaves 1.9530 untouched.
    after_first = frame.iloc[1]
    assert (after_first["bid_px_0"], after_first["bid_sz_0"]) == (1.9531, 6198.0)
    assert (after_first["bid_px_1"], after_first["bid_sz_1"]) == (1.9530, 2409.0)
    # Line 9 adds bids 1.9533 and 1.9532 above the old best and deletes asks 1.9532, 1.9533, 1.9535.
    line9 = frame.iloc[8]
    assert [(line9[f"bid_px_{i}"], line9[f"bid_sz_{i}"]) for i in range(3)] == [
        (1.9533, 18918.0),
        (1.9532, 18252.0),
        (1.9531, 26480.0),
    ]
    asks = [line9[f"ask_px_{i}"] for i in range(50)]
    assert not {1.9532, 1.9533, 1.9535} & set(asks)
    assert asks[0] == 1.9534


def message(kind: str, ts: int, u: int, seq: int, bids: list[list[str]], asks: list[list[str]]) -> str:
    data = {"s": "XRPUSDT", "b": bids, "a": asks, "u": u, "seq": seq}
    return json.dumps({"topic": "orderbook.500.XRPUSDT", "type": kind, "ts": ts, "data": data, "cts": ts - 2})


def write_zip(path: Path, lines: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("2024-12-01_XRPUSDT_ob500.data", "\n".join(lines) + "\n")
    return path


BYBIT_LINES = [
    message("snapshot", 1000, 10, 500, [["1.9531", "6203"], ["1.9530", "2409"]], [["1.9532", "10480"]]),
    message("delta", 1100, 11, 505, [["1.9531", "7000"]], [["1.9533", "300"]]),  # change + add
    message("delta", 1200, 12, 507, [["1.9531", "0"]], []),  # remove best bid
    message("delta", 1300, 13, 509, [["1.9520", "0"]], [["1.9532", "0"]]),  # remove absent level: no-op
]


def test_bybit_rebuild_by_hand(tmp_path: Path) -> None:
    frame = read_table(write_zip(tmp_path / "ob.zip", BYBIT_LINES), levels=2).frame
    assert frame["ts"].tolist() == [1000, 1100, 1200, 1300]
    rows = frame.to_dict("records")
    assert (rows[1]["bid_px_0"], rows[1]["bid_sz_0"], rows[1]["bid_px_1"]) == (1.9531, 7000.0, 1.9530)
    assert (rows[1]["ask_px_0"], rows[1]["ask_px_1"], rows[1]["ask_sz_1"]) == (1.9532, 1.9533, 300.0)
    assert (rows[2]["bid_px_0"], rows[2]["bid_sz_0"]) == (1.9530, 2409.0)
    assert math.isnan(rows[2]["bid_px_1"]) and rows[2]["bid_sz_1"] == 0.0
    assert (rows[3]["ask_px_0"], rows[3]["ask_sz_0"]) == (1.9533, 300.0)
    assert math.isnan(rows[3]["ask_px_1"])


def test_bybit_snapshot_every_ms_thins_rows(tmp_path: Path) -> None:
    table = read_table(write_zip(tmp_path / "ob.zip", BYBIT_LINES), snapshot_every_ms=200)
    assert table.frame["ts"].tolist() == [1000, 1200]
    assert table.frame["bid_px_0"].tolist() == [1.9531, 1.9530]  # deltas in between are still applied


def test_bybit_update_id_gap_names_line(tmp_path: Path) -> None:
    lines = [*BYBIT_LINES]
    lines[2] = message("delta", 1200, 14, 507, [["1.9531", "0"]], [])
    with pytest.raises(
        LoaderError, match=r"ob\.zip, row 3, field 'u': update id gap: expected u=12, got u=14"
    ):
        read_table(write_zip(tmp_path / "ob.zip", lines))


def test_bybit_delta_before_snapshot_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="row 1: delta before any snapshot"):
        read_table(write_zip(tmp_path / "ob.zip", BYBIT_LINES[1:]), "bybit_orderbook")


# ---------------------------------------------------------------- Binance depth

DEPTH_HEADER = "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n"
SNAP = DEPTH_HEADER + (
    "BTCUSDT,1667346579146,100,100,b,snap,20377.00,1.770,-1\n"
    "BTCUSDT,1667346579146,100,100,b,snap,20376.90,0.001,-1\n"
    "BTCUSDT,1667346579146,100,100,a,snap,20377.10,2.000,-1\n"
    "BTCUSDT,1667346579146,100,100,a,snap,20377.20,0.500,-1\n"
)
UPDATES = DEPTH_HEADER + (
    "BTCUSDT,1667346579100,90,95,b,set,20377.00,9.000,89\n"  # older than the snapshot: dropped
    "BTCUSDT,1667346579200,98,104,b,set,20377.00,1.500,95\n"  # straddles id 100: first applied
    "BTCUSDT,1667346579200,98,104,a,set,20377.10,0.000,95\n"  # removes the best ask
    "BTCUSDT,1667346579300,105,107,b,set,20377.05,0.300,104\n"  # new best bid
    "BTCUSDT,1667346579300,105,107,a,set,20377.30,1.000,104\n"  # new ask level
)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_binance_depth_rebuild_by_hand(tmp_path: Path) -> None:
    snap, upd = write(tmp_path / "snap.csv", SNAP), write(tmp_path / "upd.csv", UPDATES)
    table = read_binance_depth(snap, upd, levels=3)
    frame = table.frame
    assert table.kind is DataKind.BOOK and table.format == "binance_depth"
    assert table.symbol_hint == "BTC/USDT:USDT"
    assert frame["ts"].tolist() == [1667346579200, 1667346579300]
    assert frame["source_row"].tolist() == [4, 6]
    first, second = frame.to_dict("records")
    assert [(first[f"bid_px_{i}"], first[f"bid_sz_{i}"]) for i in range(2)] == [
        (20377.0, 1.5),
        (20376.9, 0.001),
    ]
    assert (first["ask_px_0"], first["ask_sz_0"]) == (20377.2, 0.5)
    assert math.isnan(first["ask_px_1"]) and first["ask_sz_1"] == 0.0
    assert [second[f"bid_px_{i}"] for i in range(3)] == [20377.05, 20377.0, 20376.9]
    assert [(second[f"ask_px_{i}"], second[f"ask_sz_{i}"]) for i in range(2)] == [
        (20377.2, 0.5),
        (20377.3, 1.0),
    ]


def test_binance_depth_broken_pu_chain_names_row(tmp_path: Path) -> None:
    snap = write(tmp_path / "snap.csv", SNAP)
    upd = write(
        tmp_path / "upd.csv", UPDATES.replace("0.300,104", "0.300,103").replace("1.000,104", "1.000,103")
    )
    with pytest.raises(LoaderError, match=r"upd\.csv, row 5, field 'pu': gap"):
        read_binance_depth(snap, upd)


def test_binance_depth_real_snapshot_alone(shared_data: Path) -> None:
    path = shared_data / "orderbook" / "binance_btcusdt-depth-snap.csv"
    table = read_table(path, levels=100)
    assert table.format == "binance_depth"
    assert len(table) == 1
    row = table.frame.iloc[0]
    assert row["ts"] == 1667346579146
    assert (row["bid_px_0"], row["bid_sz_0"]) == (20377.0, 1.77)
    assert (row["bid_px_3"], row["bid_sz_3"]) == (20376.7, 1.216)
    assert row["source_row"] == 101
    assert math.isnan(row["ask_px_0"])  # this sample snapshot holds bids only


def test_binance_depth_real_files_are_not_contiguous(shared_data: Path) -> None:
    """The real update sample starts ~20M updates after the snapshot: applying it would be a wrong book."""
    folder = shared_data / "orderbook"
    with pytest.raises(
        LoaderError, match=r"depth-update\.csv, row 2, field 'first_update_id': gap after snapshot"
    ):
        read_binance_depth(
            folder / "binance_btcusdt-depth-snap.csv", folder / "binance_btcusdt-depth-update.csv"
        )


def test_binance_depth_updates_alone_need_a_snapshot(shared_data: Path) -> None:
    with pytest.raises(LoaderError, match="diff batch before any snapshot"):
        read_table(shared_data / "orderbook" / "binance_btcusdt-depth-update.csv")


def test_binance_depth_bad_side_names_row(tmp_path: Path) -> None:
    path = write(tmp_path / "snap.csv", SNAP.replace(",a,snap,20377.20", ",x,snap,20377.20"))
    with pytest.raises(LoaderError, match=r"snap\.csv, row 5, field 'side'"):
        read_table(path)


def test_tardis_negative_amount_is_refused_at_ingest_with_its_row(shared_data: Path, tmp_path: Path) -> None:
    """A negative size used to vanish as an empty level; now the quality check names its line."""
    lines = (shared_data / "orderbook" / "tardis_binance-futures_book_snapshot_5_BTCUSDT.csv").read_text().splitlines()
    fields = lines[3].split(",")
    fields[11] = "-" + fields[11]  # bids[1].amount on file line 4
    lines[3] = ",".join(fields)
    path = tmp_path / "tardis_negative.csv"
    path.write_text("\n".join(lines) + "\n")
    assert read_table(path).frame["bid_sz_1"].iloc[2] < 0
    cat = Catalog(tmp_path / "cat")
    with pytest.raises(QualityError, match=r"tardis_negative\.csv: refused.*negative book size at row 4"):
        ingest_file(cat, path)
    assert cat.datasets() == []
    assert ingest_file(cat, shared_data / "orderbook" / "tardis_binance-futures_book_snapshot_5_BTCUSDT.csv"
                       ).exchange == "binanceusdm"
