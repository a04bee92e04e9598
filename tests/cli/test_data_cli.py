"""`quantum-trader data ...` as an operator types it: ingest, list, check, resample, download."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import ccxt
import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pytest
import typer
from typer.testing import CliRunner

from quantum_trader.cli import data_cmd
from quantum_trader.data.catalog import Catalog
from quantum_trader.domain.market import BarSeries, DataKind

root = typer.Typer()
root.add_typer(data_cmd.app, name="data")
runner = CliRunner()
BTC = "BTC/USDT:USDT"


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(root, ["data", *args], env={"COLUMNS": "200", **(env or {})}, terminal_width=200)


@pytest.fixture
def spot_file(shared_data: Path) -> Path:
    return shared_data / "candles/binance_spot_1h/BTCUSDT.csv.gz"


def test_ingest_list_and_reingest(spot_file: Path, tmp_path: Path) -> None:
    cat = str(tmp_path / "cat")
    result = run("ingest", str(spot_file), "--symbol", BTC, "--timeframe", "1h", "--catalog", cat)
    assert result.exit_code == 0, result.output
    assert "17521 added, 0 replaced, 0 unchanged" in result.output
    listed = run("list", "--json", "--catalog", cat)
    assert listed.exit_code == 0
    [entry] = json.loads(listed.output)
    assert entry["symbol"] == BTC and entry["rows"] == 17_521 and entry["timeframe"] == "1h"
    assert entry["first"] == "2024-01-21T07:00:00+00:00" and entry["last"] == "2026-01-20T07:00:00+00:00"
    again = run("ingest", str(spot_file), "--symbol", BTC, "--timeframe", "1h", "--catalog", cat)
    assert "0 added, 0 replaced, 17521 unchanged" in again.output
    table = run("list", "--catalog", cat)
    assert "BTC/USDT:USDT" in table.output and "17,521" in table.output


def test_catalog_from_env(spot_file: Path, tmp_path: Path) -> None:
    env = {"QT_CATALOG": str(tmp_path / "envcat")}
    assert run("ingest", str(spot_file), "--symbol", BTC, env=env).exit_code == 0
    assert (tmp_path / "envcat").is_dir()
    assert json.loads(run("list", "--json", env=env).output)[0]["rows"] == 17_521


def test_refused_file_is_one_red_line_exit_2(shared_data: Path, tmp_path: Path) -> None:
    with gzip.open(shared_data / "candles/binance_spot_1h/BTCUSDT.csv.gz", "rt") as fh:
        lines = [next(fh) for _ in range(20)]
    lines[5] = lines[5].rsplit(",", 1)[0] + ",-3\n"  # negative volume on file line 6
    bad = tmp_path / "BTCUSDT.csv"
    bad.write_text("".join(lines))
    result = run("ingest", str(bad), "--symbol", BTC, "--timeframe", "1h", "--catalog", str(tmp_path / "cat"))
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "error" in result.output and "BTCUSDT.csv" in result.output and "row 6" in result.output
    assert not (tmp_path / "cat").exists()


def test_check_reports_stored_datasets(spot_file: Path, tmp_path: Path) -> None:
    cat = str(tmp_path / "cat")
    run("ingest", str(spot_file), "--symbol", BTC, "--catalog", cat)
    result = run("check", "--json", "--catalog", cat)
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.output)
    assert report["ok"] is True and report["rows"] == 17_521
    assert {i["code"] for i in report["issues"]} <= {"gap", "zero_volume_run", "outlier_return"}
    missing = run("check", "--symbol", "ETH/USDT:USDT", "--catalog", cat)
    assert missing.exit_code == 2 and "no datasets for ETH/USDT:USDT" in missing.output


def test_resample_stores_each_target(shared_data: Path, tmp_path: Path) -> None:
    cat = str(tmp_path / "cat")
    path = shared_data / "candles/binance_perp_1m/BTCUSDT-PERP_2022-01.csv.gz"
    assert run("ingest", str(path), "--catalog", cat).exit_code == 0
    result = run("resample", "--symbol", BTC, "--from", "1m", "--to", "5m,1h", "--catalog", cat)
    assert result.exit_code == 0, result.output
    catalog = Catalog(cat)
    assert len(catalog.read_bars(BTC, "5m")) == 9_006 and len(catalog.read_bars(BTC, "1h")) == 750
    bad = run("resample", "--symbol", BTC, "--from", "1m", "--to", "7s", "--catalog", cat)
    assert bad.exit_code == 2 and "timeframe '7s'" in bad.output


def _fake_binance(self: Any, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
    """Just enough of Binance USD-M for ccxt: one market and 1m klines from 2024-01-01."""
    parsed = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    if parsed.path.endswith("/exchangeInfo"):
        return {"symbols": [{"symbol": "BTCUSDT", "pair": "BTCUSDT", "contractType": "PERPETUAL",
                             "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
                             "pricePrecision": 2, "quantityPrecision": 3, "filters": []}]}
    start, limit = int(query["startTime"]), int(query["limit"])
    t0 = 1_704_067_200_000
    bars = [[t0 + i * 60_000, "100", "101", "99", "100.5", "2", 0, "0", 1, "1", "0", "0"] for i in range(1_500)]
    return [b for b in bars if b[0] >= start][:limit]


def test_download_with_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ccxt.binanceusdm, "fetch", _fake_binance)
    cat = str(tmp_path / "cat")
    args = ["download", "--exchange", "binanceusdm", "--symbols", BTC, "--timeframe", "1m", "--since", "2024-01-01",
            "--catalog", cat]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "1500 rows in 3 requests, 1500 new" in result.output
    assert "0 rows in 1 requests, 0 new" in run(*args).output
    unknown = run("download", "--symbols", "DOGE/USDT:USDT", "--since", "2024-01-01", "--catalog", cat)
    assert unknown.exit_code == 2 and "no market 'DOGE/USDT:USDT'" in unknown.output


def test_every_command_documents_an_example() -> None:
    for command in data_cmd.app.registered_commands:
        assert command.callback is not None and command.callback.__doc__ is not None
        assert command.callback.__doc__.strip().splitlines()[-1].strip().startswith("Example: quantum-trader data ")
    helptext = run("ingest", "--help").output
    assert "./catalog" in helptext and "QT_CATALOG" in helptext


def _store_bars(cat: Catalog, symbol: str, exchange: str, n: int = 120) -> None:
    ts = np.arange(n, dtype=np.int64) * 60_000 + 1_735_689_600_000  # 2025-01-01 00:00 UTC
    close = 100.0 + np.arange(n, dtype=np.float64)
    cat.write(BarSeries(symbol, "1m", ts, close, close + 1, close - 1, close, np.full(n, 2.0)), exchange=exchange)


def test_list_fits_80_columns_one_table_per_exchange(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "cat")
    for symbol in ("MATIC/USDT:USDT", BTC):
        _store_bars(cat, symbol, "binanceusdm", n=120_000)
    narrow = runner.invoke(root, ["data", "list", "--catalog", str(tmp_path / "cat")], env={"COLUMNS": "80"},
                           terminal_width=80)
    assert narrow.exit_code == 0, narrow.output
    lines = narrow.output.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "…" not in narrow.output  # nothing truncated
    assert "binanceusdm" in narrow.output
    row = next(line for line in lines if "MATIC/USDT:USDT" in line)
    assert "120,000" in row and "2025-01-01 00:00" in row and "2025-03-25 07:59" in row  # 120,000 minutes later

    _store_bars(cat, BTC, "bybit")
    both = runner.invoke(root, ["data", "list", "--catalog", str(tmp_path / "cat")], env={"COLUMNS": "80"},
                         terminal_width=80)
    assert "bybit" in both.output and "…" not in both.output
    assert both.output.index("binanceusdm") < both.output.index("bybit")  # one table per exchange


# ------------------------------------------------------------- hardening (issue 12)


def test_list_and_check_name_a_damaged_dataset_in_one_line_and_keep_the_rest(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "cat")
    _store_bars(cat, BTC, "binanceusdm")
    _store_bars(cat, "ETH/USDT:USDT", "binanceusdm")
    eth = next((tmp_path / "cat").rglob("symbol=ETH_USDT_USDT/**/data.parquet"))
    eth.write_bytes(eth.read_bytes()[: eth.stat().st_size // 2])  # truncated, as a full disk leaves it
    listed = run("list", "--catalog", str(tmp_path / "cat"))
    assert listed.exit_code == 0, listed.output
    damaged = [line for line in listed.output.splitlines() if "damaged" in line]
    assert len(damaged) == 1 and "binanceusdm ETH/USDT:USDT candles 1m" in damaged[0] and str(eth) in damaged[0]
    assert "BTC/USDT:USDT" in listed.output and "Traceback" not in listed.output
    entries = json.loads(run("list", "--json", "--catalog", str(tmp_path / "cat")).output)
    assert [e.get("damaged") is None for e in entries] == [True, False]
    assert entries[1]["dataset"] == "binanceusdm ETH/USDT:USDT candles 1m" and entries[1]["path"] == str(eth)
    checked = run("check", "--catalog", str(tmp_path / "cat"))
    assert checked.exit_code == 0 and "damaged" in checked.output and "Traceback" not in checked.output
    reports = json.loads(run("check", "--json", "--catalog", str(tmp_path / "cat")).output)
    assert [r["ok"] for r in reports] == [True, False] and "damaged" in reports[1]
    read = run("ingest", str(_bars_csv(tmp_path / "ETHUSDT.csv")), "--symbol", "ETH/USDT:USDT", "--timeframe",
               "1m", "--catalog", str(tmp_path / "cat"))
    assert read.exit_code == 2 and read.output.count("\n") == 1 and "is damaged" in read.output


def _bars_csv(path: Path, n: int = 30, start: int = 0, close: float = 100.0) -> Path:
    t0 = 1_735_689_600_000
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{t0 + (i + start) * 60_000},{close},{close + 1},{close - 1},{close},2.0" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ingest_refuses_a_conflict_in_one_line_then_replace_keeps_the_old_values(tmp_path: Path) -> None:
    cat = str(tmp_path / "cat")
    args = ["--symbol", BTC, "--timeframe", "1m", "--catalog", cat]
    assert run("ingest", str(_bars_csv(tmp_path / "a.csv")), *args).exit_code == 0
    other = _bars_csv(tmp_path / "b.csv", n=10, start=25, close=100.5)  # 5 rows overlap with other prices
    refused = run("ingest", str(other), *args)
    assert refused.exit_code == 2 and refused.output.count("\n") == 1
    assert "5 row(s) already stored with different values, 16.67% of binanceusdm" in refused.output
    assert "row 2 (2025-01-01 00:25:00): open stored 100, new 100.5" in refused.output
    replaced = run("ingest", str(other), *args, "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert "5 added, 5 replaced, 0 unchanged (35 rows)" in replaced.output
    kept = next(line for line in replaced.output.splitlines() if "old values" in line)
    assert "replaced-" in kept and ".parquet" in kept


def test_ingest_waits_for_a_held_lock_then_stores_or_gives_up(tmp_path: Path) -> None:
    cat_dir = tmp_path / "cat"
    path = _bars_csv(tmp_path / "a.csv")
    args = ["ingest", str(path), "--symbol", BTC, "--timeframe", "1m", "--catalog", str(cat_dir)]
    holder = Catalog(cat_dir)
    with holder.lock("binanceusdm", BTC, DataKind.CANDLES, "1m"):
        gave_up = run(*args, "--wait-lock", "0.2")
    assert gave_up.exit_code == 2
    assert f"pid {os.getpid()}" in gave_up.output and "gave up after 0.2 s" in gave_up.output
    release = threading.Event()

    def hold() -> None:
        with holder.lock("binanceusdm", BTC, DataKind.CANDLES, "1m"):
            release.set()
            time.sleep(0.5)

    thread = threading.Thread(target=hold)
    thread.start()
    release.wait()
    waited = run(*args)
    thread.join()
    assert waited.exit_code == 0, waited.output
    assert "waiting up to 60 s for binanceusdm BTC/USDT:USDT candles 1m" in waited.output
    assert "30 added" in waited.output


DEPTH_HEADER = "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n"


def test_ingest_a_binance_depth_snapshot_with_its_updates(shared_data: Path, tmp_path: Path) -> None:
    cat = str(tmp_path / "cat")
    folder = shared_data / "orderbook"
    real = run("ingest", str(folder / "binance_btcusdt-depth-snap.csv"), "--updates",
               str(folder / "binance_btcusdt-depth-update.csv"), "--catalog", cat)
    assert real.exit_code == 2 and real.output.count("\n") == 1
    assert "depth-update.csv, row 2, field 'first_update_id': gap after snapshot" in real.output
    snap = tmp_path / "snap.csv"
    snap.write_text(DEPTH_HEADER + "BTCUSDT,1667346579146,100,100,b,snap,20377.00,1.770,-1\n"
                    "BTCUSDT,1667346579146,100,100,a,snap,20377.10,2.000,-1\n")
    updates = tmp_path / "upd.csv"
    updates.write_text(DEPTH_HEADER + "BTCUSDT,1667346579200,98,104,b,set,20377.00,1.500,95\n"
                       "BTCUSDT,1667346579300,105,107,a,set,20377.30,1.000,104\n")
    stored = run("ingest", str(snap), "--updates", str(updates), "--catalog", cat)
    assert stored.exit_code == 0, stored.output
    assert "stored binanceusdm BTC/USDT:USDT book: 2 added" in stored.output
    assert run("ingest", str(_bars_csv(tmp_path / "c.csv")), "--updates", str(updates), "--symbol", BTC,
               "--catalog", cat).exit_code == 2


def test_a_bybit_book_is_stored_under_bybit_and_its_source_recorded(shared_data: Path, tmp_path: Path) -> None:
    cat = str(tmp_path / "cat")
    result = run("ingest", str(shared_data / "orderbook/bybit_xrpusdt-ob500.data.zip"), "--catalog", cat)
    assert result.exit_code == 0, result.output
    assert "stored bybit XRP/USDT:USDT book: 50 added" in result.output
    source = Catalog(cat).source("XRP/USDT:USDT", DataKind.BOOK, exchange="bybit")
    assert source is not None and source.market_type == "perp" and source.loaders == ("bybit_orderbook",)


def test_spot_candles_filed_as_a_perpetual_are_recorded_as_spot(spot_file: Path, tmp_path: Path) -> None:
    cat = str(tmp_path / "cat")
    result = run("ingest", str(spot_file), "--symbol", BTC, "--catalog", cat)
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("source"))
    assert "spot" in line and "stand-in" in line
    source = Catalog(cat).source(BTC, DataKind.CANDLES, "1h")
    assert source is not None and source.market_type == "spot" and source.files == (str(spot_file),)
    declared = run("ingest", str(_bars_csv(tmp_path / "p.csv")), "--symbol", "ETH/USDT:USDT", "--timeframe", "1m",
                   "--market-type", "perp", "--catalog", cat)
    assert declared.exit_code == 0 and "stand-in" not in declared.output
    assert Catalog(cat).source("ETH/USDT:USDT", DataKind.CANDLES, "1m").market_type == "perp"  # type: ignore[union-attr]


def test_funding_beyond_the_policy_bound_is_refused_with_its_row(shared_data: Path, tmp_path: Path) -> None:
    table = feather.read_table(shared_data / "futures/XRP_USDT_USDT-8h-funding_rate.feather")
    opens = table.column("open").to_pylist()
    opens[10] = 0.0375  # 3.75% per 8h: an exchange never charges it, a shifted decimal does
    path = tmp_path / "XRP_USDT_USDT-8h-funding_rate.feather"
    feather.write_feather(table.set_column(table.schema.get_field_index("open"), "open", pa.array(opens)), path)
    cat = str(tmp_path / "cat")
    refused = run("ingest", str(path), "--catalog", cat)
    assert refused.exit_code == 2 and refused.output.count("\n") == 1
    assert "|funding rate| above 3.00% per interval" in refused.output and "row 11" in refused.output
    loose = tmp_path / "loose.yaml"
    loose.write_text("data_ingest:\n  max_abs_funding_rate: 5%\n")
    assert run("ingest", str(path), "--catalog", cat, "--policy", str(loose)).exit_code == 0
